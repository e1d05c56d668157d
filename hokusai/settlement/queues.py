"""The Redis lists between the platform and the relayer, and the two scripts that make them safe.

Publishing is once-only per (idempotency key, attempt), even when a publisher dies
between the push and marking the claim published, and even with two publishers at
once: one Lua script adds the attempt to a set and pushes the message only if the
add was new, atomically. Consuming never loses a settlement: a script moves a batch
from the relayer's list into our processing list atomically; a message leaves the
processing list only after the outbox has applied it, and whatever a dead consumer
left there is read again first (applying is idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RelayerQueues:
    """Key names; the first five are the relayer's, the last two the platform's own."""

    mint_requests: str = "hokusai:mint_requests"
    processing: str = "hokusai:mint_requests:processing"
    processed: str = "hokusai:mint_requests:processed"
    dead_letters: str = "hokusai:mint_requests:dlq"
    settlements: str = "hokusai:mint_request_settlements"
    published: str = "hokusai:platform:published_mint_requests"  # set of "{key}:{attempt}" already pushed
    settlements_processing: str = "hokusai:platform:settlements_processing"


DEFAULT_QUEUES = RelayerQueues()
BATCH = 500  # messages per script call: bounds a call's arguments and its time holding the server

# Arguments come packed: ARGV[1] the byte lengths, comma-separated, ARGV[2] the items end to end
# (one argument each to send and parse, not two per claim); items alternate "{key}:{attempt}", message.
# The publish script answers "1" (pushed now) or "0" (pushed before) per item, as one string.
_UNPACK = """
local function unpack_items(lengths, blob)
  local items, offset = {}, 1
  for length in string.gmatch(lengths, '%d+') do
    items[#items + 1] = string.sub(blob, offset, offset + tonumber(length) - 1)
    offset = offset + tonumber(length)
  end
  return items
end
"""
_PUBLISH = _UNPACK + """
local items = unpack_items(ARGV[1], ARGV[2])
local flags = {}
for i = 1, #items, 2 do
  if redis.call('SADD', KEYS[1], items[i]) == 1 then
    redis.call('LPUSH', KEYS[2], items[i + 1])
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
end
return table.concat(flags)
"""
# The usual tick: nothing left in processing, and the relayer's whole list within the limit. Then the list
# becomes processing by one RENAME (O(1), whatever its length: no message is copied), in the order a
# message-by-message move would leave; 1 if so, else 0 (and nothing changed).
_MOVE_ALL = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('LLEN', KEYS[1]) > tonumber(ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
return 1
"""
# Otherwise a batch is read and trimmed off the relayer's list in one command each (LRANGE, LTRIM: not one
# LMOVE per message) and pushed onto processing oldest first, as a message-by-message move would leave it.
# The moved messages come back as one string and their byte lengths: one reply to parse, not one per message.
_MOVE = """
local items = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
if #items == 0 then return {'', ''} end
redis.call('LTRIM', KEYS[1], 0, -#items - 1)
local oldest_first, lengths = {}, {}
for i = #items, 1, -1 do
  oldest_first[#oldest_first + 1] = items[i]
  lengths[#lengths + 1] = #items[i]
end
redis.call('LPUSH', KEYS[2], unpack(oldest_first))
return {table.concat(lengths, ','), table.concat(oldest_first)}
"""
# Acknowledged messages are removed from processing. In the usual case they are its oldest ones, in order
# (what one consumer took): then one LTRIM removes them; otherwise each is removed on its own (LREM).
_ACK = _UNPACK + """
local items = unpack_items(ARGV[1], ARGV[2])
local n = #items
local tail = redis.call('LRANGE', KEYS[1], -n, -1)
local in_order = #tail == n
for i = 1, n do
  if not in_order then break end
  in_order = tail[n - i + 1] == items[i]
end
if in_order then
  redis.call('LTRIM', KEYS[1], 0, -n - 1)
else
  for i = 1, n do redis.call('LREM', KEYS[1], -1, items[i]) end
end
return n
"""


def redis_client(url: str) -> Any:
    """A redis-py client for ``url`` (``redis://[:password@]host:port/db``)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30,
                                encoding_errors="surrogateescape")


def publish(client: Any, items: Sequence[tuple[str, int, str]], queues: RelayerQueues = DEFAULT_QUEUES
            ) -> list[bool]:
    """LPUSH each (key, attempt, message) onto the mint-request queue unless that attempt was pushed
    before; returns, per item, whether this call pushed it. One round trip (a pipeline of script
    calls of ``BATCH`` items each, every call atomic on its own)."""
    script = client.register_script(_PUBLISH)
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(items), BATCH):
        parts = []
        for key, attempt, message in items[start:start + BATCH]:
            parts += [f"{key}:{attempt}", message]
        script(keys=[queues.published, queues.mint_requests], args=_packed(parts), client=pipe)
    # each call answers one string of 1s and 0s: one reply to parse per call, not one per item
    return [flag == 49 for flags in (pipe.execute() if items else []) for flag in _bytes(flags)]  # 49: b"1"


def take_settlements(client: Any, limit: int, queues: RelayerQueues = DEFAULT_QUEUES) -> list[str]:
    """Messages to apply, oldest first: those a dead consumer left in processing, then up to ``limit``
    new ones, moved atomically into processing. They stay there until ``ack_settlements``.

    Usually one round trip that moves the whole list at once and reads it (atomically: MULTI); when
    processing holds leftovers or the list is longer than ``limit``, a second one: the leftovers are
    read, then batches are moved, in that order on the server."""
    pipe = client.pipeline(transaction=True)
    client.register_script(_MOVE_ALL)(keys=[queues.settlements, queues.settlements_processing], args=[limit],
                                      client=pipe)
    pipe.lrange(queues.settlements_processing, 0, -1)
    moved_all, processing = pipe.execute()
    if moved_all:
        return [_text(m) for m in reversed(processing)]
    script = client.register_script(_MOVE)
    pipe = client.pipeline(transaction=False)
    pipe.lrange(queues.settlements_processing, 0, -1)
    for start in range(0, limit, BATCH):
        script(keys=[queues.settlements, queues.settlements_processing], args=[min(BATCH, limit - start)],
               client=pipe)
    left, *batches = pipe.execute()
    taken: list[str] = []
    for lengths, blob in batches:
        lengths, blob = _bytes(lengths), _bytes(blob)  # a client that decodes replies gives text
        offset = 0
        for length in (int(n) for n in lengths.split(b",") if n) if lengths else ():
            taken.append(_text(blob[offset:offset + length]))
            offset += length
    return [_text(m) for m in reversed(left)] + taken


def ack_settlements(client: Any, messages: Sequence[str], queues: RelayerQueues = DEFAULT_QUEUES) -> None:
    """Remove applied messages from the processing list (oldest first: each is found near the tail)."""
    script = client.register_script(_ACK)
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(messages), BATCH):
        script(keys=[queues.settlements_processing], args=_packed(messages[start:start + BATCH]), client=pipe)
    if messages:
        pipe.execute()


def _packed(items: Sequence[str]) -> list[bytes]:
    """The script arguments for ``items``: their byte lengths, then their bytes end to end."""
    encoded = [_bytes(item) for item in items]
    return [",".join(str(len(item)) for item in encoded).encode(), b"".join(encoded)]


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _text(value: bytes | str) -> str:
    # surrogateescape: a message that is not UTF-8 keeps its bytes, so the ack finds it again
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
