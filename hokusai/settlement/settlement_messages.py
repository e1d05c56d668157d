"""The relayer's answer to a submitted claim: the settlement message, its statuses, its checks.

The relayer pushes one message per processed request onto
``hokusai:mint_request_settlements``. A message that breaks these rules is set
aside by the consumer with the reason (never applied, never fatal). Keys the
relayer may add later are tolerated; the listed ones must hold.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import orjson

EVENT_TYPE, MESSAGE_VERSION = "mint_request_settled", "1.0"
MINTED, NO_DELTA, REPLAY, BUDGET_BLOCKED, ERROR = "minted", "no_delta", "replay", "budget_blocked", "error"
STATUSES = (MINTED, NO_DELTA, REPLAY, BUDGET_BLOCKED, ERROR)
# What each status means for the claim (docs/claims.md tells how each is handled).
MEANING = {
    MINTED: "paid; the chain's head advanced to the candidate",
    NO_DELTA: "accepted with reward 0; the chain's head is unchanged",
    REPLAY: "the idempotency key was already used on chain",
    BUDGET_BLOCKED: "the model's budget was short; the same request can be retried after a top-up",
    ERROR: "the relayer or the contract refused or failed",
}

_HASH = re.compile(r"0x[0-9a-f]{64}")
_UINT = re.compile(r"[1-9][0-9]*")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_BLOCK_NUMBER = 2**63 - 1  # the ledger's BIGINT column: a larger one would fail the whole tick's write
# The contract's SignatureExpired(deadline, currentTimestamp), as the relayer writes a revert in `error`; at
# most a uint256's 78 digits (Python refuses to read an integer of more than 4,300: that would jam the tick)
_EXPIRED = re.compile(r"SignatureExpired\(\s*([0-9]{1,78})(?![0-9])")
CLOCK_SKEW_SECONDS = 900  # between the relayer's settled_at and the chain's block time
# The ledger's widths (outbox.claims columns) of what a settlement writes: longer text failed the tick's write
# on PostgreSQL (varchar), and every later tick again
FIELD_WIDTHS = {"reward_amount": 80, "tx_hash": 80, "gas_used": 80, "settled_at": 40}


def _iso(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return isinstance(value, str)
    except ValueError:
        return False


def settlement_problems(message: Any, *, texts: bool = True) -> list[str]:
    """Problems with a settlement message (empty: it can be applied).

    Each field is read once: a tick checks thousands of messages. ``texts=False`` skips
    ``text_problems`` for a message parsed from JSON text without a ``\\u`` escape: only an
    escape puts a NUL or a lone surrogate into parsed JSON."""
    if not isinstance(message, dict):
        return [f"$: a settlement must be a JSON object, got {type(message).__name__}"]
    problems = []
    get = message.get
    event_type, version = get("event_type"), get("message_version")
    if event_type != EVENT_TYPE:
        problems.append(f"$.event_type: must be {EVENT_TYPE!r}, got {event_type!r:.60}")
    if version != MESSAGE_VERSION:
        problems.append(f"$.message_version: must be {MESSAGE_VERSION!r}, got {version!r:.60}")
    for key in ("idempotency_key", "attestation_hash"):
        value = get(key)
        if not (isinstance(value, str) and _HASH.fullmatch(value)):
            problems.append(f"$.{key}: must be 0x + 64 lowercase hex, got {value!r:.80}")
    for key in ("model_id", "eval_id"):
        value = get(key)
        if not (isinstance(value, str) and value):
            problems.append(f"$.{key}: must be a non-empty string, got {value!r:.60}")
    uint, status, reward = get("model_id_uint"), get("status"), get("reward_amount")
    if not (isinstance(uint, str) and _UINT.fullmatch(uint)):
        problems.append(f"$.model_id_uint: must be a decimal uint string, got {uint!r:.80}")
    if status not in STATUSES:
        problems.append(f"$.status: must be one of {', '.join(STATUSES)}, got {status!r:.60}")
    if not (isinstance(reward, str) and _DECIMAL.fullmatch(reward)):
        problems.append(f"$.reward_amount: must be a decimal string, got {reward!r:.60}")
    settled_at = get("settled_at")
    if not _iso(settled_at):
        problems.append(f"$.settled_at: must be an ISO-8601 time, got {settled_at!r:.60}")
    for key in ("tx_hash", "error", "message_id"):
        value = get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"$.{key}: must be a string when present, got {value!r:.60}")
    block = get("block_number")
    if block is not None and not (type(block) is int and 0 <= block <= MAX_BLOCK_NUMBER):
        problems.append(f"$.block_number: must be an integer >= 0 (at most 2**63 - 1) when present, "
                        f"got {block!r:.60}")
    gas = get("gas_used")
    if gas is not None and not ((type(gas) is int and gas >= 0) or (isinstance(gas, str) and _DECIMAL.fullmatch(gas))):
        problems.append(f"$.gas_used: must be a decimal string or integer when present, got {gas!r:.60}")
    for key, width in FIELD_WIDTHS.items():
        value = get(key)
        if isinstance(value, (str, int)) and len(str(value)) > width:
            problems.append(f"$.{key}: at most {width} characters (the ledger's column), got {len(str(value))}")
    return problems + text_problems(message) if texts else problems


def _unstorable(text: str) -> str | None:
    """What in ``text`` no ledger can store as text, or None."""
    if "\x00" in text:
        return "a NUL character (\\u0000), which PostgreSQL text cannot hold"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            surrogate = next(c for c in text if "\ud800" <= c <= "\udfff")
            return f"a lone surrogate (\\u{ord(surrogate):04x}), which is not UTF-8 text"
    return None


def text_problems(message: Any) -> list[str]:
    """Strings anywhere in ``message`` (values and keys, known fields or not) that the ledger cannot store.

    Valid JSON may still escape a NUL or a lone surrogate: written to the ledger, such a message
    failed the whole tick's transaction, and every later tick again (issue 16). orjson refuses to
    write a lone surrogate and writes a NUL as ``\\u0000``: one cheap pass says whether to look."""
    try:
        if b"\\u0000" not in orjson.dumps(message):
            return []
    except TypeError:  # a lone surrogate (or an integer beyond 64 bits, a false alarm the walk clears)
        pass
    problems, stack = [], [("$", message)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if kind := _unstorable(value):
                problems.append(f"{where}: holds {kind}; the ledger cannot store it")
        elif isinstance(value, dict):
            for key, item in value.items():
                if kind := _unstorable(key):
                    problems.append(f"{where}: a key ({key!r:.60}) holds {kind}; the ledger cannot store it")
                    key = repr(key)
                stack.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
    return sorted(problems)


def superseded_reason(settlement: dict[str, Any], *, message_id: Any, deadline: int) -> str | None:
    """Why a (valid) ``settlement`` answers another signed message than the claim's current one (its
    ``message_id`` and ``deadline``), or None: it is the current one's answer.

    One key may be signed again (a re-sign replaces an expired message), and the relayer may still
    answer the old one. A settlement that names its ``message_id`` is matched exactly. The upstream
    relayer's does not: then only a ``SignatureExpired`` is told apart, by the deadline it names
    (``SignatureExpired(deadline, now)``), else by its time, before the current deadline. Any other
    answer without a message id is taken as the current message's, as before."""
    answered = settlement.get("message_id")
    if answered is not None:
        if answered == message_id:
            return None
        return (f"answers message {answered!r:.80}, not the claim's current signed message {message_id!r:.80} "
                "(re-signed since)")
    error = settlement.get("error") or ""
    if settlement["status"] != ERROR or "SignatureExpired" not in error:
        return None
    named = _EXPIRED.search(error)
    if named:
        if int(named.group(1)) == deadline:
            return None
        return (f"SignatureExpired for the message signed with deadline {named.group(1)}, not the claim's current "
                f"message (deadline {deadline}; re-signed since)")
    settled = datetime.fromisoformat(settlement["settled_at"].replace("Z", "+00:00"))
    settled_at = (settled if settled.tzinfo else settled.replace(tzinfo=timezone.utc)).timestamp()
    if settled_at + CLOCK_SKEW_SECONDS >= deadline:
        return None
    return (f"SignatureExpired at {settlement['settled_at']}, but the claim's current message is valid until "
            f"{deadline}: it answers an earlier signing (re-signed since)")


def settlement_message(claim: dict[str, Any], status: str, *, settled_at: str, reward_amount: str = "0",
                       **optional: Any) -> dict[str, Any]:
    """A settlement message for ``claim`` (a wire mint request) in the relayer's format: what the
    embedded default writes when it settles locally, and what the tests' fake relayer sends."""
    return {"event_type": EVENT_TYPE, "message_version": MESSAGE_VERSION,
            "idempotency_key": claim["idempotency_key"], "attestation_hash": claim["attestation_hash"],
            "model_id": claim["model_id"], "model_id_uint": claim["model_id_uint"], "eval_id": claim["eval_id"],
            "status": status, "reward_amount": reward_amount, "settled_at": settled_at,
            **{key: value for key, value in optional.items() if value is not None}}
