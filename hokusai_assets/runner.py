"""Evaluating one file in-process on the local instance: what ``hokusai evaluate`` runs.

The file is put into the contribution store exactly as a drop would be, its
partition is registered, and the job materializes that partition. The result is
read back from the run: outputs on success, the blocking check's or the step's
reason on rejection.
"""

import os
import shutil
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance

from hokusai.claims.documents import output_dir_for
from hokusai.commitments.rows import ROWS_FILE
from hokusai.drops.keys import partition_key_for
from hokusai.outcome import EvaluationOutcome
from hokusai.intake.rejections import REJECTION_FILE
from hokusai.drops.s3 import contribution_store_for
from hokusai.settings import REPO_ROOT, Settings
from hokusai_assets.jobs import EVALUATE_CONTRIBUTION_JOB
from hokusai_assets.partitions import CONTRIBUTIONS_PARTITIONS_NAME

REJECTED_PREFIX = "Contribution rejected: "
MAX_REBASES = 5  # an eligible evaluation that lost its chain head to another is run again, this many times at most


def local_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance under ``$HOKUSAI_HOME/dagster`` (what ``dagster dev`` shows).

    Opening an instance creates its SQLite storage on first use; two ``hokusai evaluate``
    started at once on a fresh state folder would both create it and one would fail
    ("table ... already exists"), so the first opening holds a lock file.
    """
    import fcntl

    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    with open(home / ".hokusai-instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
        instance = DagsterInstance.from_config(str(home))
        instance.get_runs(limit=1)  # storage created (and migrated) while the lock is held
        return instance


class DagsterRunner:
    """Runs evaluations for the CLI; keeps definitions and instance warm between calls."""

    def __init__(self, settings: Settings, ephemeral: bool = False, dry_run: bool = False):
        from hokusai_assets.definitions import build_definitions

        self.settings = settings
        self.tags = {"hokusai/source": "cli", **({"hokusai/dry_run": "true"} if dry_run else {})}
        self.instance = DagsterInstance.ephemeral() if ephemeral else local_instance(settings)
        self.job = build_definitions(settings).resolve_job_def(EVALUATE_CONTRIBUTION_JOB)

    def drop(self, path: Path, token_id: str, wallet_address: str) -> str:
        """Put the file into the drop zone as an upload would be, and register its partition."""
        store = contribution_store_for(self.settings)
        stored = store.put_bytes(f"{token_id}/{wallet_address.lower()}/{path.name}", path.read_bytes())
        partition_key = partition_key_for(stored)
        self.instance.add_dynamic_partitions(CONTRIBUTIONS_PARTITIONS_NAME, [partition_key])
        return partition_key

    def check_intake(self, path: Path, token_id: str, wallet_address: str) -> EvaluationOutcome:
        """The contribution side (load, scrub, checks, clean against the chain head): accepted or rejected, no training."""
        partition_key = self.drop(path, token_id, wallet_address)
        result = self.job.execute_in_process(
            partition_key=partition_key, instance=self.instance, raise_on_error=False,
            asset_selection=[AssetKey("contributed_dataset"), AssetKey("baseline_model"), AssetKey("clean_dataset")],
            run_config={"loggers": {"console": {"config": {"log_level": self.settings.log_level or "CRITICAL"}}}},
        )
        if result.success:
            return EvaluationOutcome(status="evaluated", partition_key=partition_key, run_id=result.run_id,
                                     summary="accepted by the quality gate")
        return self._failure_outcome(result, partition_key)

    def evaluate(self, path: Path, token_id: str, wallet_address: str) -> EvaluationOutcome:
        """Evaluate the file; an eligible evaluation whose chain head moved meanwhile is re-based and run again."""
        partition_key = self.drop(path, token_id, wallet_address)
        for _attempt in range(MAX_REBASES + 1):
            outcome = self._evaluate_partition(partition_key, token_id)
            if not outcome.rebased:
                return outcome
        outcome.reason = f"still re-basing after {MAX_REBASES} attempts: {outcome.reason}"
        return outcome

    def _evaluate_partition(self, partition_key: str, token_id: str) -> EvaluationOutcome:
        result = self.job.execute_in_process(
            partition_key=partition_key, instance=self.instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": self.settings.log_level or "CRITICAL"}}}},
            tags={"hokusai/token_id": token_id, **self.tags},
        )
        if result.success:
            attestation = result.output_for_node("attestation")
            registered = result.output_for_node("registered_token_model")
            computation = attestation["delta_one"]["delta_computation"]
            signed = attestation.get("eip712") or {}
            return EvaluationOutcome(
                status="evaluated", partition_key=partition_key, run_id=result.run_id,
                delta_one_bps=computation["delta_one_bps"],
                eligible=attestation["attestation"]["result"]["eligible"],
                reason=attestation["attestation"]["result"]["reason"],
                attestation_hash=attestation["attestation_hash"],
                files=_with_rows_file(attestation["files"], self.settings, partition_key),
                model_version=registered["version"],
                champion_moved=registered["champion_moved"], summary=registered["summary"],
                signer=signed.get("signer"), dev_key=signed.get("dev_key"),
                claim=attestation["claim"]["claim"], claim_reason=attestation["claim"]["reason"],
                claim_status=attestation.get("claim_status"), claim_note=attestation.get("claim_note"),
                weight_genesis=(attestation.get("weight_genesis") or {}).get("call"),
                rebased=attestation["claim"]["rebase"],
            )
        return self._failure_outcome(result, partition_key)

    def _failure_outcome(self, result, partition_key: str) -> EvaluationOutcome:
        outcome = _failure_outcome(result, partition_key)
        record = output_dir_for(self.settings.outputs_dir, partition_key) / REJECTION_FILE
        if outcome.status == "rejected" and record.exists():
            outcome.files = {REJECTION_FILE: str(record)}
        return outcome


def _with_rows_file(files: dict[str, str], settings: Settings, partition_key: str) -> dict[str, str]:
    rows = output_dir_for(settings.outputs_dir, partition_key) / ROWS_FILE
    return {**files, ROWS_FILE: str(rows)} if rows.exists() else dict(files)


def _innermost_message(error) -> str:
    """What the step's code raised, not Dagster's "Error occurred while executing op" wrapper around it."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error.message.strip()


def _failure_outcome(result, partition_key: str) -> EvaluationOutcome:
    """Rejected (a blocking check or a 'Contribution rejected' failure) or an internal error."""
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.blocking:
            reason = evaluation.description or "a blocking check failed"
            return EvaluationOutcome(status="rejected", partition_key=partition_key, run_id=result.run_id,
                                     reason=reason, check=evaluation.check_name)
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            described = data.user_failure_data.description if data.user_failure_data else None
            if described and described.startswith(REJECTED_PREFIX):
                return EvaluationOutcome(status="rejected", partition_key=partition_key, run_id=result.run_id,
                                         reason=described[len(REJECTED_PREFIX):], step=event.step_key)
            message = described or (_innermost_message(data.error) if data.error else "unknown error")
            return EvaluationOutcome(status="error", partition_key=partition_key, run_id=result.run_id,
                                     reason=f"step {event.step_key} failed: {message}", step=event.step_key)
    return EvaluationOutcome(status="error", partition_key=partition_key, run_id=result.run_id,
                             reason="the run failed without a step failure")
