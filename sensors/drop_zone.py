"""The drop-zone sensor: each new upload becomes a partition and a run.

All decisions are made by ``hokusai.drops.keys.plan_drops``; this module only reads
the store and the token list, and turns the plan into Dagster requests.
"""

from __future__ import annotations

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from hokusai.drops.keys import known_token_ids, parse_drop_key, plan_drops
from hokusai.settings import Settings
from hokusai_assets.jobs import EVALUATE_CONTRIBUTION_JOB
from hokusai_assets.partitions import contributions
from resources.contribution_store import ContributionStoreResource
from resources.token_specs import TokenSpecsResource

MAX_RUNS_PER_TICK = 25


def plan_drop_runs(
    context: SensorEvaluationContext, contribution_store: ContributionStoreResource, token_specs: TokenSpecsResource
) -> SensorResult:
    """One tick: list the drop zone, plan the new partitions and their runs."""
    try:
        store = contribution_store.get_store()
        listing = list(store.list_objects())
        known_tokens = known_token_ids(token_specs.tokens_dir)
    except Exception as exc:  # an outage must not fail the tick or move the cursor
        return SensorResult(
            skip_reason=f"could not list the drop zone: {type(exc).__name__}: {exc}",
            cursor=context.cursor,
        )

    plan = plan_drops(listing, context.cursor, MAX_RUNS_PER_TICK, known_tokens)
    for key, reason in plan.skipped:
        context.log.warning(f"skipped {key}: {reason}")
    if plan.remaining:
        context.log.info(f"{plan.remaining} new objects left for the next tick")
    # `hokusai evaluate` registers and runs its partition itself; don't evaluate it twice.
    new = []
    for obj, partition_key in plan.accepted:
        if context.instance.has_dynamic_partition(contributions.name, partition_key):
            context.log.info(f"skipped {obj.key}: partition {partition_key} is already registered")
        else:
            new.append((obj, partition_key))
    if not new:
        return SensorResult(
            skip_reason=f"no new contributions ({len(plan.skipped)} objects skipped)",
            cursor=plan.cursor,
        )

    run_requests = []
    for obj, partition_key in new:
        drop = parse_drop_key(obj.key)
        run_requests.append(
            RunRequest(
                run_key=f"{obj.key}@{obj.etag}",
                partition_key=partition_key,
                tags={"hokusai/token_id": drop.token_id, "hokusai/wallet": drop.wallet_address},
            )
        )
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[
            contributions.build_add_request([pk for _, pk in new])
        ],
        cursor=plan.cursor,
    )


def build_contribution_drop_sensor(interval_seconds: int = Settings.sensor_interval_seconds):
    """The drop-zone sensor, ticking every ``interval_seconds`` (the settings' sensor interval).

    RUNNING by default: picking up uploads is what the platform is for, and a sensor
    that starts STOPPED makes a fresh deployment silently ignore every contribution
    until someone finds the toggle. Starting it is safe: run keys (object key + ETag)
    stop a replayed tick from running twice, and at most MAX_RUNS_PER_TICK runs are
    requested per tick while a backlog drains.
    """
    return sensor(
        name="contribution_drop_sensor",
        job_name=EVALUATE_CONTRIBUTION_JOB,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Registers each new file in the contribution drop zone as a partition and runs it.",
    )(plan_drop_runs)


contribution_drop_sensor = build_contribution_drop_sensor()
