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

_PUBLISH = """
local flags = {}
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i + 1])
    flags[#flags + 1] = 1
  else
    flags[#flags + 1] = 0
  end
end
return flags
"""
_MOVE = """
local moved = {}
for i = 1, tonumber(ARGV[1]) do
  local message = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not message then break end
  moved[#moved + 1] = message
end
return moved
"""
_ACK = """
for i = 1, #ARGV do redis.call('LREM', KEYS[1], -1, ARGV[i]) end
return #ARGV
"""


def redis_client(url: str) -> Any:
    """A redis-py client for ``url`` (``redis://[:password@]host:port/db``)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30,
                                encoding_errors="surrogateescape")


def publish(client: Any, items: Sequence[tuple[str, int, str]], queues: RelayerQueues = DEFAULT_QUEUES
            ) -> list[bool]:
    """LPUSH each (key, attempt, message) onto the mint-request queue unless that attempt was pushed
    before; returns, per item, whether this call pushed it."""
    script = client.register_script(_PUBLISH)
    pushed: list[bool] = []
    for start in range(0, len(items), BATCH):
        args = []
        for key, attempt, message in items[start:start + BATCH]:
            args += [f"{key}:{attempt}", message]
        pushed += [bool(flag) for flag in script(keys=[queues.published, queues.mint_requests], args=args)]
    return pushed


def take_settlements(client: Any, limit: int, queues: RelayerQueues = DEFAULT_QUEUES) -> list[str]:
    """Messages to apply, oldest first: those a dead consumer left in processing, then up to ``limit``
    new ones, moved atomically into processing. They stay there until ``ack_settlements``."""
    left = [_text(m) for m in reversed(client.lrange(queues.settlements_processing, 0, -1))]
    script = client.register_script(_MOVE)
    taken: list[str] = []
    while len(taken) < limit:
        moved = script(keys=[queues.settlements, queues.settlements_processing],
                       args=[min(BATCH, limit - len(taken))])
        taken += [_text(m) for m in moved]
        if len(moved) < min(BATCH, limit):
            break
    return left + taken


def ack_settlements(client: Any, messages: Sequence[str], queues: RelayerQueues = DEFAULT_QUEUES) -> None:
    """Remove applied messages from the processing list (oldest first: each is found near the tail)."""
    script = client.register_script(_ACK)
    for start in range(0, len(messages), BATCH):
        script(keys=[queues.settlements_processing], args=list(messages[start:start + BATCH]))


def _text(value: bytes | str) -> str:
    # surrogateescape: a message that is not UTF-8 keeps its bytes, so the ack finds it again
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
