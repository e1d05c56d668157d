"""Claims for the outbox and transport tests and the bench, and a fake relayer of a few lines.

The fake relayer does what the upstream one does with its lists (interop README):
BRPOPLPUSH a request into processing, dead-letter it if it breaks a relayer rule,
skip a key already processed, answer with a settlement message, drop it from
processing. ``status_for`` decides the chain's answer.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable

from hokusai.claims.eip712 import idempotency_key
from hokusai.settings import REPO_ROOT
from hokusai.settlement.queues import DEFAULT_QUEUES, RelayerQueues
from hokusai.settlement.relayer_rules import relayer_problems
from hokusai.settlement.settlement_messages import BUDGET_BLOCKED, ERROR, settlement_message

FIXTURES = REPO_ROOT / "hokusai_assets_tests" / "fixtures" / "interop"  # the tests' copies of the interop files
EXAMPLE = json.loads((FIXTURES / "mint_request.v1.example.json").read_text())
SETTLEMENTS = json.loads((FIXTURES / "relayer_settlements.json").read_text())
FAR_DEADLINE = 4102444800  # 2100-01-01


def claim_message(index: int, deadline: int = FAR_DEADLINE) -> dict:
    """A mint request that passes the relayer's rules, with its own attestation and key."""
    message = copy.deepcopy(EXAMPLE)
    attestation = "0x" + hashlib.sha256(f"attestation-{index}".encode()).hexdigest()
    message.update(message_id=f"msg-{index}", eval_id=f"eval-{index}", attestation_hash=attestation,
                   idempotency_key=idempotency_key(message["model_id_uint"], attestation), deadline=deadline)
    return message


def fake_relayer(client, status_for: Callable[[dict], str], queues: RelayerQueues = DEFAULT_QUEUES,
                 reward_amount: str = "1000000000000000000", max_messages: int = 1_000_000,
                 settled_at: str = "2026-06-11T12:00:00.000Z", echo_message_id: bool = False) -> dict[str, int]:
    """Process every request on the queue; returns counts by outcome (dead-lettered, skipped, status).

    ``status_for`` gives a settlement status, or ``"error:<revert>"`` for an error with that text.
    The upstream relayer does not say which signed message it answers; ``echo_message_id`` adds the
    request's ``message_id`` (a key it may add later, which the consumer then matches exactly).
    """
    counts: dict[str, int] = {}
    for _ in range(max_messages):
        raw = client.brpoplpush(queues.mint_requests, queues.processing, timeout=0.05)
        if raw is None:
            break
        message = json.loads(raw)
        if relayer_problems(message):
            outcome = "dead_lettered"
            client.lpush(queues.dead_letters, raw)
        elif client.sismember(queues.processed, message["idempotency_key"]):
            outcome = "skipped"
        else:
            outcome, _, error = status_for(message).partition(":")  # "error:LineageParentMismatch(...)"
            optional = {"tx_hash": "0x" + hashlib.sha256(raw).hexdigest(), "block_number": 100}
            if outcome in (ERROR, BUDGET_BLOCKED):
                optional = {"error": error or ("MintBudgetExceeded" if outcome == BUDGET_BLOCKED else "nonce too low")}
            if echo_message_id:
                optional["message_id"] = message["message_id"]
            settlement = settlement_message(message, outcome, settled_at=settled_at,
                                            reward_amount=reward_amount if outcome == "minted" else "0", **optional)
            if outcome not in (ERROR, BUDGET_BLOCKED):  # a retryable request is not burned
                client.sadd(queues.processed, message["idempotency_key"])
            client.lpush(queues.settlements, json.dumps(settlement))
        client.lrem(queues.processing, 1, raw)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
