"""The production instance (``deploy/dagster.postgres.yaml``) on a real PostgreSQL 15, and ``scripts/services``.

One PostgreSQL serves the module (database ``dagster`` for Dagster, ``mlflow`` for the
MLflow server), one SeaweedFS holds MLflow's artifacts. A demo contribution is evaluated
with the CLI's runner on that instance; its run, materializations and checks are then
read back from PostgreSQL with psycopg2, its model version from MLflow's tables and its
artifacts from the bucket.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from hokusai.settings import REPO_ROOT, load_settings
from hokusai_assets_tests.conftest import DEMO_TOKEN, SAMPLES, WALLET
from hokusai.harness.servers import free_ports, mlflow_on, postgres, seaweedfs

PRODUCTION_YAML = REPO_ROOT / "deploy" / "dagster.postgres.yaml"
ARTIFACTS_BUCKET = "mlflow-artifacts"
IO_BUCKET = "dagster-io"  # the production instance keeps its compute logs there
ASSETS = {"contributed_dataset", "clean_dataset", "baseline_model", "new_model", "benchmark_metrics",
          "delta_one", "attestation", "registered_token_model"}


@pytest.fixture(scope="module")
def pg():
    with postgres() as server:
        server.create_database("dagster")
        yield server


@pytest.fixture(scope="module")
def artifact_store(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), buckets=(ARTIFACTS_BUCKET, IO_BUCKET)) as server:
        yield server


@pytest.fixture(scope="module")
def mlflow_server(pg, artifact_store, tmp_path_factory):
    with mlflow_on(tmp_path_factory.mktemp("mlflow"), pg, artifact_store, ARTIFACTS_BUCKET) as server:
        yield server


@pytest.fixture
def dagster_home(pg, artifact_store, tmp_path, monkeypatch):
    """A DAGSTER_HOME holding the production yaml, its variables pointing at the module's PostgreSQL
    and, for the compute logs, at the module's S3."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copyfile(PRODUCTION_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in {**pg.dagster_env("dagster"), **artifact_store.env(), "HOKUSAI_IO_BUCKET": IO_BUCKET,
                        "HOKUSAI_S3_ENDPOINT_URL": artifact_store.endpoint_url,
                        "HOKUSAI_S3_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    return home


def query(pg, sql, *params, db_name="dagster"):
    return pg.query(sql, *params, db_name=db_name)


def test_the_production_instance_is_postgres_queued_per_token_with_retries_and_monitoring(dagster_home):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert "postgresql+psycopg2://" in instance.run_storage.postgres_url
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        # no op pools: their slot queue can lose a wake-up; the registry steps hold a token lock instead
        assert instance.get_concurrency_config().pool_config.default_pool_limit is None
        queue = instance.get_concurrency_config().run_queue_config
        assert [(limit["key"], limit["value"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [
            ("hokusai/token_id", {"applyLimitPerUniqueValue": True}, 1)]
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 2)
        assert instance.run_retries_retry_on_asset_or_op_failure is False
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
    embedded = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert not {"storage", "run_storage", "event_log_storage"} & set(embedded)  # the default stays SQLite


def test_a_contribution_evaluated_on_the_production_instance_is_in_postgres_mlflow_and_s3(
        pg, dagster_home, mlflow_server, artifact_store, tmp_path, shared_cache):
    from hokusai_assets.runner import DagsterRunner

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(tmp_path / "state"), "HOKUSAI_CACHE_DIR": str(shared_cache),
                "MLFLOW_TRACKING_URI": mlflow_server.url})
    settings = load_settings(env)
    settings.dagster_home.mkdir(parents=True)
    shutil.copyfile(dagster_home / "dagster.yaml", settings.dagster_home / "dagster.yaml")
    runner = DagsterRunner(settings)  # the CLI's runner: DagsterInstance.from_config on that folder
    try:
        outcome = runner.evaluate(SAMPLES / "improving.csv", DEMO_TOKEN, WALLET)
    finally:
        runner.instance.dispose()
    assert outcome.status == "evaluated", outcome.reason
    assert outcome.eligible and outcome.model_version == 2

    [(status, tags)] = query(pg, "SELECT status, run_body FROM runs WHERE run_id = %s", outcome.run_id)
    assert status == "SUCCESS"
    assert json.loads(tags)["tags"]["hokusai/token_id"] == DEMO_TOKEN
    materialized = query(pg, "SELECT asset_key, partition FROM event_logs WHERE run_id = %s "
                             "AND dagster_event_type = 'ASSET_MATERIALIZATION'", outcome.run_id)
    assert {json.loads(key)[0] for key, _ in materialized} == ASSETS
    assert {partition for _, partition in materialized} == {outcome.partition_key}
    checks = query(pg, "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
                   outcome.run_id)
    assert {status for _, status in checks} == {"SUCCEEDED"} and len(checks) == 2
    assert query(pg, "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'contributions'") == [
        (outcome.partition_key,)]

    versions = query(pg, "SELECT version, run_id FROM model_versions WHERE name = %s ORDER BY version",
                     "hokusai-digits-demo", db_name="mlflow")
    assert [version for version, _ in versions] == [1, 2]
    artifacts = [obj["Key"] for page in artifact_store.client().get_paginator("list_objects_v2").paginate(
        Bucket=ARTIFACTS_BUCKET) for obj in page.get("Contents", ())]
    assert any(key.endswith("model.pkl") for key in artifacts), artifacts[:20]
    logs = [obj["Key"] for obj in artifact_store.client().list_objects_v2(
        Bucket=IO_BUCKET, Prefix=f"compute-logs/storage/{outcome.run_id}/").get("Contents", ())]
    assert logs, "the run's compute logs are not in the bucket"


def test_scripts_services_starts_postgres_seaweedfs_and_mlflow_and_stops_them():
    """The script for people: starts the three, prints what to export, and stops all of them on SIGTERM."""
    import boto3
    import psycopg2
    from mlflow.tracking import MlflowClient

    home = Path(tempfile.mkdtemp(prefix="hokusai-services-"))
    home.chmod(0o755)  # PostgreSQL runs as the postgres user, which must reach its folder
    pg_port, s3_port, mlflow_port = free_ports(3)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_", "AWS_"))},
           "HOKUSAI_HOME": str(home), "HOKUSAI_PG_PORT": str(pg_port), "HOKUSAI_S3_PORT": str(s3_port),
           "MLFLOW_PORT": str(mlflow_port)}
    log = home / "services.out"
    with open(log, "wb") as out:
        script = subprocess.Popen([str(REPO_ROOT / "scripts" / "services")], stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "services ready" not in log.read_text():
            assert script.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        exported = dict(line[len("export "):].split("=", 1) for line in log.read_text().splitlines()
                        if line.startswith("export "))
        assert exported == {line[len("export "):].split("=", 1)[0]: line.split("=", 1)[1]
                            for line in (home / "services" / "env").read_text().splitlines()}
        assert oct((home / "services" / "env").stat().st_mode & 0o777) == "0o600"
        assert exported["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{mlflow_port}"
        assert exported["HOKUSAI_S3_ENDPOINT_URL"] == f"http://127.0.0.1:{s3_port}"
        assert exported["DAGSTER_PG_PORT"] == str(pg_port)

        # MLflow proxies an artifact into the S3 bucket and keeps its runs in PostgreSQL.
        client = MlflowClient(exported["MLFLOW_TRACKING_URI"])
        experiment = client.create_experiment("services-smoke")
        run = client.create_run(experiment)
        note = home / "note.txt"
        note.write_text("stored in S3")
        client.log_artifact(run.info.run_id, str(note))
        s3 = boto3.client("s3", endpoint_url=exported["HOKUSAI_S3_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"])
        keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket="mlflow-artifacts").get("Contents", [])]
        assert keys == [f"{experiment}/{run.info.run_id}/artifacts/note.txt"]
        s3.head_bucket(Bucket=exported["HOKUSAI_S3_BUCKET"])
        with psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="mlflow",
                              password=exported["DAGSTER_PG_PASSWORD"]) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT name FROM experiments ORDER BY experiment_id")
                assert [name for (name,) in cursor.fetchall()] == ["Default", "services-smoke"]
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGTERM)
        try:
            script.wait(timeout=60)
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGKILL)
        leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True).stdout.split()
        shutil.rmtree(home, ignore_errors=True)
    assert script.returncode == 143
    assert not leftovers, f"processes left running: {leftovers}"


def test_the_compose_init_script_makes_a_role_and_database_each_for_dagster_mlflow_and_the_ledger(pg):
    """docker/postgres-init runs in the postgres image; here against the real server, as its superuser."""
    from hokusai.harness.servers import PG_BIN

    script = REPO_ROOT / "docker" / "postgres-init" / "10-hokusai-databases.sh"
    env = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "PGHOST": "127.0.0.1", "PGPORT": str(pg.port),
           "PGPASSWORD": pg.password, "POSTGRES_USER": pg.user, "POSTGRES_DB": "postgres",
           "DAGSTER_PG_USER": "compose_dagster", "DAGSTER_PG_PASSWORD": "d'quote\"pass", "DAGSTER_PG_DB": "compose_dagster",
           "MLFLOW_DB_USER": "compose_mlflow", "MLFLOW_DB_PASSWORD": "m-pass", "MLFLOW_DB_NAME": "compose_mlflow",
           "HOKUSAI_LEDGER_DB_USER": "compose_ledger", "HOKUSAI_LEDGER_DB_PASSWORD": "l-pass",
           "HOKUSAI_LEDGER_DB_NAME": "compose_ledger"}
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)
    import psycopg2

    for role, password in (("compose_dagster", "d'quote\"pass"), ("compose_mlflow", "m-pass"),
                           ("compose_ledger", "l-pass")):
        with psycopg2.connect(host="127.0.0.1", port=pg.port, user=role, password=password, dbname=role) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, pg_catalog.pg_get_userbyid(datdba) FROM pg_database "
                               "WHERE datname = current_database()")
                assert cursor.fetchone() == (role, role)
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                assert cursor.fetchone() == (False,)
