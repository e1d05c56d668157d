"""The re-base sensor: a contribution whose chain head moved (or was rolled back) is evaluated again.

The decision (which partitions wait for a re-base, and why) is the ledger's
(``hokusai.chain.ledger``); this sensor only turns each pending request into a run.
The run key names the request, so a tick replayed never starts a request twice,
and a request refreshed by a later roll-back starts a new run.
"""

from __future__ import annotations

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from hokusai.settings import Settings
from hokusai_assets.jobs import EVALUATE_CONTRIBUTION_JOB
from resources.settlement import ClaimsLedgerResource

MAX_RUNS_PER_TICK = 25


def plan_rebase_runs(context: SensorEvaluationContext, claims_ledger: ClaimsLedgerResource) -> SensorResult:
    """One tick: a run for each contribution that waits for a re-base."""
    try:
        pending = claims_ledger.get_chain().pending_rebases()
    except Exception as exc:  # a database outage must not fail the tick
        return SensorResult(skip_reason=f"could not read the ledger: {type(exc).__name__}: {exc}")
    if not pending:
        return SensorResult(skip_reason="no contribution waits for a re-base")
    requests = [
        RunRequest(run_key=f"rebase:{item['partition_key']}:{item['attempts']}:{item['requested_at']}",
                   partition_key=item["partition_key"],
                   tags={"hokusai/token_id": item["token_id"], "hokusai/rebase": "true"})
        for item in pending[:MAX_RUNS_PER_TICK]
    ]
    for item in pending[:MAX_RUNS_PER_TICK]:
        context.log.info(f"re-basing {item['partition_key']}: {item['reason']}")
    return SensorResult(run_requests=requests)


def build_contribution_rebase_sensor(interval_seconds: int = Settings.sensor_interval_seconds):
    """The re-base sensor, ticking every ``interval_seconds`` (the settings' sensor interval)."""
    return sensor(
        name="contribution_rebase_sensor",
        job_name=EVALUATE_CONTRIBUTION_JOB,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Re-evaluates on the current chain head each contribution whose head moved or was rolled back.",
    )(plan_rebase_runs)


contribution_rebase_sensor = build_contribution_rebase_sensor()
