"""The production topology, for real: code server + daemon + webserver on PostgreSQL, S3 and MLflow.

A contributor's file dropped into the bucket is found by the daemon's sensor, run by
the code server, and its attestation and model version end up in PostgreSQL (runs,
events, checks), S3 (MLflow's artifacts) and MLflow (the registered version and its
alias). Then the faults: MLflow down during a run (step retries, a clear failure,
success on re-execution), and PostgreSQL restarted under the daemon. Each token here
is a copy of the demo token, so each test starts from a token with only its baseline.
The operator's backfill of racing contributions is ``test_backfill_race.py``, on a
platform of its own (``topology_platform``), so the suite's two workers each take one.
"""

from __future__ import annotations

import json
import time
import urllib.error

import pytest

from hokusai_assets_tests.conftest import WALLET
from hokusai.harness.topology import ARTIFACTS_BUCKET, ASSETS, IO_BUCKET
from hokusai_assets_tests.services.topology_platform import (MLFLOW_FAULT_TOKEN, PG_FAULT_TOKEN, RUN_TIMEOUT,
                                                             champion_version, improving_bytes, topology_platform)


@pytest.fixture(scope="module")
def platform():
    with topology_platform() as running:
        yield running


def test_a_file_dropped_into_the_bucket_ends_as_an_attestation_in_postgres_s3_and_mlflow(platform, record_property):
    dropped = time.monotonic()
    _, partition_key = platform.drop("digits-demo", WALLET, "improving.csv", improving_bytes())
    run = platform.wait_for_finished_run(partition_key, RUN_TIMEOUT)
    latency = time.monotonic() - dropped
    record_property("drop_to_finished_run_seconds", round(latency, 1))
    assert run["status"] == "SUCCESS", platform.failure_messages(run["runId"])
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags["hokusai/token_id"] == "digits-demo" and tags["dagster/sensor_name"] == "contribution_drop_sensor"

    # PostgreSQL: the run, every asset's materialization, both blocking checks passed.
    [(status,)] = platform.sql("SELECT status FROM runs WHERE run_id = %s", run["runId"])
    assert status == "SUCCESS"
    materialized = platform.materializations(run["runId"])
    assert set(materialized) == ASSETS
    checks = platform.sql("SELECT execution_status FROM asset_check_executions WHERE run_id = %s", run["runId"])
    assert sorted(s for (s,) in checks) == ["SUCCEEDED", "SUCCEEDED"]
    attestation_hash = materialized["attestation"]["attestation_hash"]
    digest = materialized["attestation"]["eip712_digest"]
    version = materialized["registered_token_model"]["version"]
    assert materialized["registered_token_model"]["champion_moved"] is True

    # MLflow: the version carries the claim, and holds the champion alias.
    model_version = platform.mlflow_client().get_model_version("hokusai-digits-demo", str(version))
    assert model_version.tags["attestation_hash"] == attestation_hash
    assert model_version.tags["partition_key"] == partition_key
    assert champion_version(platform, "hokusai-digits-demo") == version

    # S3: the model's files and the signed claim, in MLflow's artifact bucket.
    keys = platform.bucket_keys(ARTIFACTS_BUCKET)
    run_keys = [key for key in keys if f"/{model_version.run_id}/" in key]
    assert any(key.endswith("model.pkl") for key in keys), keys[:20]
    [attestation_key] = [key for key in run_keys if key.endswith("hokusai/attestation.json")]
    stored = json.loads(platform.s3.client().get_object(Bucket=ARTIFACTS_BUCKET, Key=attestation_key)["Body"].read())
    assert stored["attestation_hash"] == attestation_hash and stored["eip712"]["digest"] == digest

    # S3: each step's output (the S3 IO manager) and its compute logs, in the Dagster bucket.
    io_keys = platform.bucket_keys(IO_BUCKET)
    assert {f"dagster-io/{name}/{partition_key}" for name in ASSETS} <= set(io_keys), io_keys[:20]
    assert any(key.startswith(f"compute-logs/storage/{run['runId']}/") for key in io_keys), io_keys[:20]


# --------------------------------------------------------------------------- faults

REEXECUTE = """mutation Reexecute($params: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def test_mlflow_down_during_a_run_retries_fails_clearly_and_succeeds_on_reexecution(platform):
    platform.stop_mlflow()
    try:
        _, partition_key = platform.drop(MLFLOW_FAULT_TOKEN, WALLET, "improving.csv", improving_bytes())
        failed = platform.wait_for_finished_run(partition_key, RUN_TIMEOUT)
    finally:
        platform.start_mlflow()
    assert failed["status"] == "FAILURE"
    messages = platform.failure_messages(failed["runId"])
    print("\n".join(messages))
    baseline = [m for m in messages if '"baseline_model"' in m]
    # HOKUSAI_STEP_RETRIES=2: two retries, then the step fails, saying which server did not answer.
    assert sum("requested a retry" in m for m in baseline) == 2, messages
    assert "Exceeded max_retries of 2" in baseline[-1], messages
    assert f"MLflow tracking server {platform.mlflow.url} is not answering" in baseline[-1], baseline[-1]
    assert "refused" in baseline[-1].lower(), baseline[-1]
    # The upload did not need MLflow and is not read again (cleaning waits for the chain's head).
    assert "contributed_dataset" in set(platform.materializations(failed["runId"]))

    answer = platform.graphql(REEXECUTE, {"params": {"parentRunId": failed["runId"], "strategy": "FROM_FAILURE"}})
    answer = answer["launchRunReexecution"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    rerun = platform.wait_for_finished_run(partition_key, RUN_TIMEOUT, after={failed["runId"]})
    assert rerun["status"] == "SUCCESS", platform.failure_messages(rerun["runId"])
    materialized = platform.materializations(rerun["runId"])
    assert "contributed_dataset" not in materialized and {"attestation", "registered_token_model"} <= set(materialized)
    assert champion_version(platform, f"hokusai-{MLFLOW_FAULT_TOKEN}") == materialized["registered_token_model"][
        "version"]


def answers_after(platform, attempts: int = 10) -> tuple[int, list[str]]:
    """Poll the webserver until a query that reads PostgreSQL succeeds; (failed attempts, their errors)."""
    errors = []
    for _ in range(attempts):
        try:
            platform.runs_for_partition("no-such-partition")
            return len(errors), errors
        except (urllib.error.HTTPError, RuntimeError) as error:
            errors.append(str(error))
            time.sleep(1.0)
    raise AssertionError(f"webserver still failing after {attempts} attempts: {errors}")


def test_postgres_restarted_under_the_daemon_the_platform_recovers(platform):
    platform.pg.restart()
    # The webserver keeps one pooled connection: at most the first request on it fails.
    failed_attempts, errors = answers_after(platform)
    assert failed_attempts <= 1, errors
    _, partition_key = platform.drop(PG_FAULT_TOKEN, WALLET, "improving.csv", improving_bytes())
    run = platform.wait_for_finished_run(partition_key, RUN_TIMEOUT)
    assert run["status"] == "SUCCESS", platform.failure_messages(run["runId"])
    platform.require_alive()  # code server, daemon and webserver all rode it out
    assert set(platform.materializations(run["runId"])) == ASSETS
