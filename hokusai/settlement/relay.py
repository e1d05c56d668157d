"""One claim into the outbox, and one tick of the outbox against the relayer's queues.

``submit_claim`` is what the attestation step calls for a signed claim: record it,
then publish it at once when a relayer is configured (best effort: the tick
publishes whatever is still recorded), or settle it locally as ``minted`` when none
is (the embedded default). ``settlement_tick`` is what the settlement sensor runs:
apply the relayer's settlements, re-queue the retries that are due, publish.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hokusai.settlement.outbox import (
    NEW,
    RECORDED,
    RESIGNED,
    ApplyReport,
    ClaimChange,
    OnChanges,
    RetryPolicy,
    apply_settlements,
    claims_to_publish,
    get_claim,
    mark_published,
    promote_due_retries,
    record_or_resign,
    settle_locally,
)
from hokusai.settlement.queues import DEFAULT_QUEUES, RelayerQueues, ack_settlements, publish, take_settlements

MAX_PER_TICK = 10_000
NO_RELAYER_NOTE = "settled locally: no relayer configured (HOKUSAI_RELAYER_REDIS_URL unset)"
_GC_LOCK = threading.Lock()
_GC_PAUSE = {"depth": 0, "was_enabled": False}


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a tick runs, then as before (nested or from many threads:
    the last one out restores it). A tick of 10,000 claims makes ~100,000 short-lived tuples and
    dicts, which set off full collections over the whole process's heap (~0.25 of its ~1.5 CPU-s);
    reference counting frees them all the same, and a collection comes after, as usual."""
    with _GC_LOCK:
        if _GC_PAUSE["depth"] == 0:
            _GC_PAUSE["was_enabled"] = gc.isenabled()
            gc.disable()
        _GC_PAUSE["depth"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSE["depth"] -= 1
            if _GC_PAUSE["depth"] == 0 and _GC_PAUSE["was_enabled"]:
                gc.enable()


@dataclass(frozen=True)
class ClaimSubmission:
    idempotency_key: str
    created: bool  # False: this claim was recorded before (a re-run); nothing new was queued unless re-signed
    status: str
    note: str


@dataclass
class TickReport:
    settled: ApplyReport = field(default_factory=ApplyReport)
    retried: list[ClaimChange] = field(default_factory=list)
    published: list[ClaimChange] = field(default_factory=list)

    @property
    def changes(self) -> list[ClaimChange]:
        """Every claim that changed this tick, in order: settlements, retries, publications."""
        return [*self.settled.changes, *self.retried, *self.published]

    @property
    def summary(self) -> str:
        return (f"{len(self.published)} published, {len(self.settled.changes)} settled, {len(self.retried)} "
                f"re-queued, {len(self.settled.rejected)} settlements set aside, {len(self.settled.superseded)} "
                f"for a replaced message, {self.settled.duplicates} already seen")


def publish_pending(engine: Any, client: Any, *, queues: RelayerQueues = DEFAULT_QUEUES,
                    limit: int = MAX_PER_TICK, keys: list[str] | None = None,
                    now: float | None = None) -> list[ClaimChange]:
    """Push every recorded claim (at most ``limit``) once, then mark it published."""
    pending = claims_to_publish(engine, limit, keys)
    if not pending:
        return []
    # An attempt pushed before (a publisher that died before marking it) is not pushed again.
    publish(client, [(row.idempotency_key, row.attempt, row.message) for row in pending], queues)
    return mark_published(engine, pending, now)


def consume_settlements(engine: Any, client: Any, *, queues: RelayerQueues = DEFAULT_QUEUES,
                        limit: int = MAX_PER_TICK, policy: RetryPolicy = RetryPolicy(),
                        on_changes: OnChanges | None = None, now: float | None = None) -> ApplyReport:
    """Apply the relayer's settlements; a message is acknowledged only once the outbox holds it."""
    messages = take_settlements(client, limit, queues)
    if not messages:
        return ApplyReport()
    report = apply_settlements(engine, messages, now=now, policy=policy, on_changes=on_changes)
    ack_settlements(client, messages, queues)
    return report


@paused_gc()
def settlement_tick(engine: Any, client: Any, *, queues: RelayerQueues = DEFAULT_QUEUES,
                    limit: int = MAX_PER_TICK, policy: RetryPolicy = RetryPolicy(),
                    on_changes: OnChanges | None = None, now: float | None = None) -> TickReport:
    """Settlements in, due retries re-queued, recorded claims out."""
    now = time.time() if now is None else now
    report = TickReport()
    report.settled = consume_settlements(engine, client, queues=queues, limit=limit, policy=policy,
                                         on_changes=on_changes, now=now)
    report.retried = promote_due_retries(engine, now=now)
    report.published = publish_pending(engine, client, queues=queues, limit=limit, now=now)
    return report


def submit_claim(engine: Any, client: Any | None, mint_request: dict[str, Any], *, token_id: str,
                 partition_key: str, queues: RelayerQueues = DEFAULT_QUEUES) -> ClaimSubmission:
    """Record a signed claim (once per idempotency key; an expired unsettled one is replaced by this
    re-signed message), then publish it or settle it locally."""
    row, action = record_or_resign(engine, mint_request, token_id=token_id, partition_key=partition_key)
    key, created = row.idempotency_key, action == NEW
    if not created and row.status != RECORDED:
        return ClaimSubmission(key, False, row.status, f"already recorded ({row.status}); nothing queued again")
    again = f"re-signed (the recorded signature had expired), attempt {row.attempt}; " if action == RESIGNED else ""
    if client is None:
        settle_locally(engine, key)
        return ClaimSubmission(key, created, get_claim(engine, key).status, again + NO_RELAYER_NOTE)
    try:
        publish_pending(engine, client, queues=queues, keys=[key])
        note = f"published to {queues.mint_requests}; the settlement sensor records the relayer's answer"
    except Exception as error:  # Redis down: the claim stays recorded and the sensor publishes it
        note = f"recorded; publishing failed ({type(error).__name__}), the settlement sensor will retry"
    return ClaimSubmission(key, created, get_claim(engine, key).status, again + note)
