"""The chain follows its claims' settlements, so the platform's champion and the chain's head never part.

A link is appended (pending) when its claim is signed; the on-chain head moves only
when a paying mint settles. ``reconcile`` reads every pending link's claim in the
outbox (one join, same database) and applies what settled. It is idempotent and
derives everything from the outbox's state, so it runs after every settlement tick
and after a crash without missing or repeating anything. The links of the claims a tick
mints are settled in the tick's own transaction first (``ChainFollower``, the sensor's
``on_changes``); ``reconcile`` finds them settled and does the rest.

| claim status | the chain |
|---|---|
| ``minted`` | the link is settled: the chain's head advanced to its model |
| ``no_delta`` | rolled back (the contract paid 0, its head did not move); links built on it are re-based |
| ``error`` with ``LineageParentMismatch`` or ``SignatureExpired`` | rolled back, and the contribution itself re-based: the contract keeps the key unburned for exactly this |
| deadline passed, not settled | rolled back and re-based, as an expired signature |
| ``budget_blocked``, ``error`` (retryable), ``replay``, ``recorded``, ``published`` | stays pending: retried by the outbox, or waiting for the operator (``LineageNotSeeded``, ``SignerNotAttester``: seed the genesis or register the attester, then ``hokusai claims retry``) |
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from sqlalchemy import and_, select, update

from hokusai.chain.ledger import MINTED, PENDING, Chain, links, now_iso
from hokusai.settlement.database import key_in
from hokusai.settlement.outbox import ClaimChange, claims
from hokusai.settlement.settlement_messages import MINTED as CLAIM_MINTED
from hokusai.settlement.relay import paused_gc

REBASE_ERRORS = ("LineageParentMismatch", "SignatureExpired")


class ChainEvent(NamedTuple):
    """What one link did; a named tuple, not a frozen dataclass: a busy tick makes 10,000 of them, and
    a tuple is built ~4x faster (a frozen dataclass sets each field through ``object.__setattr__``)."""

    idempotency_key: str
    partition_key: str | None
    token_id: str
    model_name: str  # the token's registered model (its champion alias follows the chain's head)
    action: str  # settled | rolled_back
    reason: str
    orphans: tuple[str, ...] = ()  # partitions re-based because they were built on this link


MINTED_NOTE = "minted on chain"


class ChainFollower:
    """``on_changes`` for ``settlement_tick``: the links of claims the tick minted are settled in the
    transaction that applies the settlement (one UPDATE, no read of every pending link and no commit of
    its own afterwards), their events kept in ``events``. All else (roll-backs, re-bases, a link whose
    claim was minted before this) stays ``reconcile``'s, which still runs after every tick."""

    def __init__(self) -> None:
        self.events: list[ChainEvent] = []

    def __call__(self, connection: Any, changes: list[ClaimChange]) -> None:
        models = {change.idempotency_key: change.model_id for change in changes if change.status == CLAIM_MINTED}
        if not models:
            return
        # the claim's model comes with its change (read with the claim): no lookup of the claims per link
        settled = connection.execute(
            update(links).where(and_(key_in(links.c.idempotency_key, list(models), connection.dialect.name),
                                     links.c.state == PENDING))
            .values(state=MINTED, note=MINTED_NOTE, updated_at=now_iso())
            .returning(links.c.token_id, links.c.position, links.c.idempotency_key, links.c.partition_key)).all()
        # reconcile's order: by token, the newest first
        self.events += [ChainEvent(key, partition_key, token_id, models[key], "settled", MINTED_NOTE)
                        for token_id, _, key, partition_key in sorted(settled, key=lambda r: (r[0], -r[1]))]


@paused_gc()  # 10,000 links make as many rows and events (see paused_gc)
def reconcile(chain: Chain, now: float | None = None) -> list[ChainEvent]:
    """Apply every settled claim to its pending link; returns what changed."""
    now = time.time() if now is None else now
    query = (select(links.c.idempotency_key, links.c.partition_key, links.c.token_id, claims.c.model_id,
                    claims.c.status, claims.c.error, claims.c.deadline)
             .join(claims, claims.c.idempotency_key == links.c.idempotency_key)
             .where(links.c.state == PENDING).order_by(links.c.token_id, links.c.position.desc()))
    with chain.engine.connect() as conn:
        pending = conn.execute(query).all()
    events, minted = [], []
    # the newest first: a roll-back of an older link then sees no stale descendant. Rows are unpacked
    # as tuples: a tick reads 10,000 of them, and a Row's attribute access costs more than the rest.
    for key, partition_key, token_id, model_id, status, error, deadline in pending:
        action = _action(status, error or "", deadline, now)
        if action is None:
            continue
        kind, reason, rebase_self = action
        if kind == "settled":
            minted.append(key)
            events.append(ChainEvent(key, partition_key, token_id, model_id, "settled", reason))
            continue
        orphans = chain.roll_back(key, reason)
        if rebase_self and partition_key:
            chain.request_rebase(partition_key, token_id, f"its claim was not settled ({reason})")
        events.append(ChainEvent(key, partition_key, token_id, model_id, "rolled_back", reason,
                                 tuple(o.partition_key for o in orphans if o.partition_key)))
    chain.settle_many(minted, MINTED_NOTE)
    return events


def _action(status: str, error: str, deadline: int, now: float) -> tuple[str, str, bool] | None:
    """(settled | rolled_back, why, re-base the contribution itself) or None: stays pending."""
    if status == "minted":
        return "settled", MINTED_NOTE, False
    if status == "no_delta":
        return "rolled_back", "no_delta: the contract accepted it with a reward of 0 and kept its head", False
    if status == "error" and any(name in error for name in REBASE_ERRORS):
        return "rolled_back", f"error: {error}", True
    if status not in ("minted", "no_delta", "replay") and deadline and deadline < now:
        return "rolled_back", "its deadline passed before it settled", True
    return None
