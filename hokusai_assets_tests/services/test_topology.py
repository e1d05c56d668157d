"""The production topology, for real: code server + daemon + webserver on PostgreSQL, S3 and MLflow.

A contributor's file dropped into the bucket is found by the daemon's sensor, run by
the code server, and its attestation and model version end up in PostgreSQL (runs,
events, checks), S3 (MLflow's artifacts) and MLflow (the registered version and its
alias). An operator's backfill, launched through the webserver's GraphQL as the UI
launches it, materializes every partition, with two improving contributions to one
token racing for the champion. Then the faults: MLflow down during a run (step
retries, a clear failure, success on re-execution), and PostgreSQL restarted under
the daemon. Each token here is a copy of the demo token, so each test starts from a
token with only its baseline.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import urllib.error
from pathlib import Path

import pandas as pd
import pytest

from hokusai_assets_tests.conftest import SAMPLES, WALLET
from hokusai.harness.topology import (ADD_PARTITION, ARTIFACTS_BUCKET, ASSETS, IO_BUCKET, REPOSITORY, launch_backfill,
                                      running_platform, set_sensor, token_copies, wait_for_backfill)

RUN_TIMEOUT = 240.0
RACE_TOKEN, MLFLOW_FAULT_TOKEN, PG_FAULT_TOKEN = "digits-race", "digits-mlflow-down", "digits-pg-restart"


@pytest.fixture(scope="module")
def platform():
    root = Path(tempfile.mkdtemp(prefix="hokusai-topology-"))
    # The race token's minimum is 20 bps, so both halves of improving.csv are eligible in turn
    # (conftest.CHAIN_TOKEN says why).
    tokens = token_copies(root, [RACE_TOKEN, MLFLOW_FAULT_TOKEN, PG_FAULT_TOKEN],
                          overrides={RACE_TOKEN: {"min_improvement_bps": 20}})
    extra = {
        "HOKUSAI_TOKENS_DIR": str(tokens),
        # Fail fast inside MLflow's client so the step's own retry policy is what is seen.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
        "HOKUSAI_STEP_RETRIES": "2", "HOKUSAI_STEP_RETRY_DELAY_SECONDS": "1",
    }
    with running_platform(root, sensor_interval_seconds=3, extra_env=extra) as running:
        yield running


def improving_bytes() -> bytes:
    return (SAMPLES / "improving.csv").read_bytes()



def version_tags(platform, model_name: str) -> dict[int, dict[str, str]]:
    return {int(v.version): v.tags for v in platform.mlflow_client().search_model_versions(f"name = '{model_name}'")}


def champion_version(platform, model_name: str) -> int:
    return int(platform.mlflow_client().get_model_version_by_alias(model_name, "champion").version)


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


# --------------------------------------------------------------------------- backfill + champion race


def step_window(platform, run_id: str, step: str) -> tuple[float, float]:
    rows = platform.sql("SELECT dagster_event_type, timestamp FROM event_logs WHERE run_id = %s AND step_key = %s "
                        "AND dagster_event_type IN ('STEP_START', 'STEP_SUCCESS')", run_id, step)
    times = {kind: stamp.timestamp() for kind, stamp in rows}
    return times["STEP_START"], times["STEP_SUCCESS"]


def half_bytes(which: int) -> bytes:
    frame = pd.read_csv(SAMPLES / "improving.csv")
    buffer = io.StringIO()
    (frame.iloc[:175] if which == 0 else frame.iloc[175:]).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def wait_for_chain(chain, token_id: str, links: int, partitions: list[str], timeout: float) -> list:
    """The token's chain once it has ``links`` links and none of ``partitions`` waits for a re-base."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = chain.active_links(token_id)
        if len(found) == links and not any(chain.rebase_requested(p) for p in partitions):
            return found
        time.sleep(2.0)
    raise TimeoutError(f"chain of {token_id}: {chain.active_links(token_id)}, re-bases {chain.pending_rebases()}")


def wait_for_runs_to_finish(platform, partition_keys: list[str], timeout: float) -> dict[str, list[dict]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {key: platform.runs_for_partition(key) for key in partition_keys}
        if all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for found in runs.values() for run in found):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs still going after {timeout:.0f} s: {runs}")
        time.sleep(2.0)


def test_a_graphql_backfill_of_racing_contributions_ends_as_one_linear_chain(platform):
    """Two improving contributions and a noisy one, backfilled at once: none is lost, the one that lost
    the chain's head is re-based by the daemon's re-base sensor, and the chain ends linear."""
    from hokusai.chain.ledger import Chain

    model_name = f"hokusai-{RACE_TOKEN}"
    files = {"first-half.csv": half_bytes(0), "second-half.csv": half_bytes(1),
             "label-noise.csv": (SAMPLES / "label-noise.csv").read_bytes()}
    set_sensor(platform, running=False)  # the operator's backfill, not the sensor, runs these
    try:
        partition_keys = []
        for name, body in files.items():
            _, partition_key = platform.drop(RACE_TOKEN, WALLET, name, body)
            added = platform.graphql(ADD_PARTITION, {"repo": REPOSITORY, "name": "contributions",
                                                     "key": partition_key})["addDynamicPartition"]
            assert added["__typename"] == "AddDynamicPartitionSuccess", added
            partition_keys.append(partition_key)
        started = time.monotonic()
        backfill_id = launch_backfill(platform, partition_keys)
        assert wait_for_backfill(platform, backfill_id, 3 * RUN_TIMEOUT) in ("COMPLETED", "COMPLETED_SUCCESS")
        print(f"backfill of {len(partition_keys)} partitions: {time.monotonic() - started:.1f} s")
    finally:
        set_sensor(platform, running=True)

    halves = partition_keys[:2]
    chain = Chain(platform.env["HOKUSAI_LEDGER_URL"])
    links = wait_for_chain(chain, RACE_TOKEN, 3, halves, 2 * RUN_TIMEOUT)
    assert {link.partition_key for link in links[1:]} == set(halves)
    for parent, child in zip(links, links[1:]):  # each claim's baseline is the link before it
        assert child.parent_commitment == parent.commitment
    runs = wait_for_runs_to_finish(platform, partition_keys, RUN_TIMEOUT)  # a re-base run may still register
    links = chain.active_links(RACE_TOKEN)
    for key, partition_runs in runs.items():
        assert all(run["status"] == "SUCCESS" for run in partition_runs), [
            platform.failure_messages(run["runId"]) for run in partition_runs]
        assert any(tag["key"] == "dagster/backfill" and tag["value"] == backfill_id
                   for tag in partition_runs[-1]["tags"])  # the first run of each came from the backfill
    rebased = [key for key in halves if len(runs[key]) > 1]
    print(f"re-based after losing the head: {rebased}")
    for key in halves:  # the last run of each half holds a claim on its link's parent
        materialized = platform.materializations(runs[key][0]["runId"])
        assert set(materialized) == ASSETS
        link = next(x for x in links if x.partition_key == key)
        assert materialized["attestation"]["chain_position"] == link.position
        assert materialized["registered_token_model"]["version"] == link.model_version
    assert champion_version(platform, model_name) == links[-1].model_version
    noise = platform.materializations(runs[partition_keys[2]][0]["runId"])
    assert noise["attestation"]["claim"].startswith("no claim: not eligible")
    assert noise["registered_token_model"]["champion_moved"] is False
    versions = version_tags(platform, model_name)
    assert len(versions) == 1 + sum(len(r) for r in runs.values())  # the baseline and one per run: none lost


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
