"""The settlement sensor: each tick publishes recorded claims and applies the relayer's settlements.

All decisions are made by ``hokusai.settlement.relay.settlement_tick`` and, for the
lineage chain, ``hokusai.chain.settlement.reconcile``; this module turns what changed
into one ``AssetObservation`` per claim on the ``attestation`` asset's partition, so
each claim's state shows in the UI beside its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import AssetObservation, DefaultSensorStatus, SensorEvaluationContext, SensorResult, sensor

from hokusai.settings import Settings
from hokusai.settlement.outbox import ClaimChange
from resources.model_registry import ModelRegistryResource
from resources.settlement import ClaimsLedgerResource, RelayerResource

MAX_OBSERVATIONS_PER_TICK = 1_000  # the outbox keeps every state; the UI gets the latest changes


def claim_observation(change: ClaimChange) -> AssetObservation:
    settlement = change.settlement or {}
    metadata = {"claim_status": change.status, "previous_status": change.previous or "",
                "idempotency_key": change.idempotency_key, "attestation_hash": change.attestation_hash}
    metadata |= {key: str(settlement[key]) for key in ("reward_amount", "tx_hash", "block_number", "error",
                                                        "settled_at") if settlement.get(key) is not None}
    return AssetObservation(asset_key="attestation", partition=change.partition_key, metadata=metadata)


def settle_claims(
    context: SensorEvaluationContext, claims_ledger: ClaimsLedgerResource, relayer: RelayerResource,
    model_registry: ModelRegistryResource,
) -> SensorResult:
    """One tick: publish recorded claims, apply the relayer's settlements, let the chain follow."""
    from hokusai.chain.settlement import ChainFollower
    from hokusai.settlement.relay import settlement_tick

    if not relayer.configured:
        return SensorResult(skip_reason="no relayer configured (HOKUSAI_RELAYER_REDIS_URL unset): "
                                        "claims settle locally when they are signed")
    follower = ChainFollower()  # the minted claims' links settle in the tick's own transaction
    try:
        report = settlement_tick(claims_ledger.get_engine(), relayer.get_client(), queues=relayer.queues,
                                 policy=relayer.retry_policy, on_changes=follower)
    except Exception as exc:  # Redis or the database down: the next tick picks up where this one stopped
        return SensorResult(skip_reason=f"settlement tick failed: {type(exc).__name__}: {exc}")
    for raw, reason in report.settled.rejected:
        context.log.warning(f"settlement set aside: {reason} ({raw[:200]!r})")
    for raw, reason in report.settled.superseded:
        context.log.warning(f"settlement for a replaced message: {reason} ({raw[:200]!r})")
    follow_settlements(context, claims_ledger, model_registry, follower.events)
    observations = [claim_observation(c) for c in report.changes if c.partition_key][-MAX_OBSERVATIONS_PER_TICK:]
    if not report.changes and not report.settled.rejected and not report.settled.superseded:
        return SensorResult(skip_reason="no claim changed")
    context.log.info(report.summary)
    return SensorResult(asset_events=observations)


def follow_settlements(context: SensorEvaluationContext, claims_ledger: ClaimsLedgerResource,
                       model_registry: ModelRegistryResource, settled: Sequence[Any] = ()) -> None:
    """The chain follows what settled (``settled``: the ``ChainEvent``s of the links the tick itself
    settled, see ``ChainFollower``); after a roll-back ``champion`` goes back to the chain's head."""
    from hokusai.chain.settlement import reconcile
    from hokusai.models.registration import follow_chain_head

    chain = claims_ledger.get_chain()
    rolled_back = {}
    for event in [*settled, *reconcile(chain)]:
        context.log.info(f"chain: {event.partition_key} {event.action} ({event.reason})"
                         + (f"; re-based: {', '.join(event.orphans)}" if event.orphans else ""))
        if event.action == "rolled_back":
            rolled_back[event.token_id] = event.model_name
    if rolled_back:
        registry = model_registry.get_registry()
        for token_id, model_name in rolled_back.items():
            version = follow_chain_head(registry, chain, token_id, model_name)
            context.log.info(f"{model_name}: champion is v{version}, the chain's head")


def build_claim_settlement_sensor(interval_seconds: int = Settings.sensor_interval_seconds):
    """The settlement sensor, ticking every ``interval_seconds`` (the settings' sensor interval).

    RUNNING by default: with no relayer configured a tick only says so; with one, claims
    must flow without someone finding a toggle. A tick is idempotent end to end.
    """
    return sensor(
        name="claim_settlement_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Publishes recorded claims to the relayer's Redis queue and records its settlements.",
    )(settle_claims)


claim_settlement_sensor = build_claim_settlement_sensor()
