"""The whole production topology on this machine, for tests and benchmarks.

PostgreSQL 15 (Dagster storage + MLflow backend), SeaweedFS (the drop bucket and
MLflow's artifact bucket), an MLflow server, and Dagster as it is deployed: a gRPC
code server holding ``hokusai_assets.definitions``, the daemon (sensor, run queue,
backfills, monitoring) and the webserver, all three reading
``deploy/dagster.postgres.yaml``. Every server binds 127.0.0.1 on free ports, leads
its own process group and is stopped by group. Runs are launched by the code
server (DefaultRunLauncher), so they see exactly the environment a deployment
gives the code location.

``Platform`` is what a test talks to: drop a file into the bucket, ask the webserver
GraphQL what the UI asks, read PostgreSQL, MLflow and S3 directly.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hokusai.harness.mlflow_server import MlflowServer, healthy_or_stopped, stop_process_group, tail_of
from hokusai.harness.servers import (Postgres, SeaweedFS, free_ports, launch_mlflow_on, postgres, seaweedfs,
                                     start_mlflow_on)
from hokusai.settings import REPO_ROOT

DROP_BUCKET = "drops"
ARTIFACTS_BUCKET = "mlflow-artifacts"
IO_BUCKET = "dagster-io"  # step outputs and compute logs (deploy/dagster.postgres.yaml)
LOCATION = "hokusai"
PRODUCTION_YAML = REPO_ROOT / "deploy" / "dagster.postgres.yaml"
READY_TIMEOUT_SECONDS = 120.0
RUN_FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def _bin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


@dataclass
class DagsterProcess:
    """One long-running Dagster server (code server, daemon or webserver) and its log."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env, cwd=REPO_ROOT,
                                            start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return tail_of(self.log_path, lines)


def stop_all(processes: list[DagsterProcess | None]) -> None:
    """Stop each (by process group) at once: their shutdowns overlap instead of adding up."""
    running = [process for process in processes if process is not None]
    if running:
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(DagsterProcess.stop, running))


@dataclass
class Platform:
    root: Path
    pg: Postgres
    s3: SeaweedFS
    mlflow: MlflowServer
    env: dict[str, str]
    grpc_port: int
    webserver_port: int
    processes: dict[str, DagsterProcess] = field(default_factory=dict)

    # -- talking to it -----------------------------------------------------------
    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        """POST a query to the webserver as the UI does; raise on GraphQL errors."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.webserver_url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def sql(self, statement: str, *params: Any, db_name: str = "dagster") -> list[tuple]:
        return self.pg.query(statement, *params, db_name=db_name)

    def drop(self, token_id: str, wallet: str, file_name: str, body: bytes) -> tuple[str, str]:
        """Upload as a contributor would; return (object key, partition key the platform will use)."""
        key = f"{token_id}/{wallet.lower()}/{file_name}"
        etag = self.s3.client().put_object(Bucket=DROP_BUCKET, Key=key, Body=body)["ETag"].strip('"')
        return key, f"{key}@{etag[:12]}"

    def mlflow_client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.mlflow.url, registry_uri=self.mlflow.url)

    def bucket_keys(self, bucket: str) -> list[str]:
        pages = self.s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [obj["Key"] for page in pages for obj in page.get("Contents", ())]

    # -- runs -------------------------------------------------------------------
    def runs_for_partition(self, partition_key: str) -> list[dict[str, Any]]:
        data = self.graphql("""
            query Runs($tags: [ExecutionTag!]) {
              runsOrError(filter: {tags: $tags}) {
                __typename
                ... on Runs { results { runId status tags { key value } startTime endTime } }
                ... on PythonError { message }
              }
            }""", {"tags": [{"key": "dagster/partition", "value": partition_key}]})
        runs = data["runsOrError"]
        if runs["__typename"] != "Runs":
            raise RuntimeError(f"runs query failed: {runs}")
        return runs["results"]

    def wait_for_finished_run(self, partition_key: str, timeout: float, after: set[str] = frozenset()) -> dict:
        """The first finished run of a partition (ignoring run ids in ``after``), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.require_alive()
            for run in self.runs_for_partition(partition_key):
                if run["runId"] not in after and run["status"] in RUN_FINISHED:
                    return run
            time.sleep(1.0)
        raise TimeoutError(f"no finished run for {partition_key} after {timeout:.0f} s; runs: "
                           f"{self.runs_for_partition(partition_key)}\n{self.logs()}")

    def failure_messages(self, run_id: str) -> list[str]:
        """The words of every step retry, step failure and run failure of a run, from PostgreSQL."""
        messages = []
        for (event,) in self.sql("SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type IN "
                                 "('STEP_FAILURE', 'RUN_FAILURE', 'STEP_UP_FOR_RETRY') ORDER BY id", run_id):
            record = json.loads(event)
            error = ((record.get("dagster_event") or {}).get("event_specific_data") or {}).get("error")
            words = [record.get("user_message", "")]
            while error:  # the step's error, then what caused it
                words.append(error.get("message", "").strip())
                error = error.get("cause")
            messages.append(" | ".join(word for word in words if word))
        return messages

    def materializations(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Asset name → its materialization's metadata (plain values) for a run, read from PostgreSQL."""
        from dagster._core.events.log import EventLogEntry
        from dagster._serdes import deserialize_value

        found = {}
        for (event,) in self.sql("SELECT event FROM event_logs WHERE run_id = %s "
                                 "AND dagster_event_type = 'ASSET_MATERIALIZATION'", run_id):
            materialization = deserialize_value(event, EventLogEntry).asset_materialization
            found[materialization.asset_key.path[-1]] = {
                name: value.value for name, value in materialization.metadata.items()}
        return found

    # -- lifecycle --------------------------------------------------------------
    def stop_mlflow(self) -> None:
        self.mlflow.stop()

    def start_mlflow(self) -> None:
        """(Re)start the MLflow server on the same port, backend database and artifact bucket."""
        port = int(self.mlflow.url.rsplit(":", 1)[1])
        self.mlflow = start_mlflow_on(self.root / "mlflow", self.pg.url("mlflow"), f"s3://{ARTIFACTS_BUCKET}/",
                                      {**self.s3.env(), "MLFLOW_S3_ENDPOINT_URL": self.s3.endpoint_url}, port=port)

    def require_alive(self) -> None:
        dead = [p.name for p in self.processes.values() if not p.alive()]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited:\n{self.logs()}")

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail(lines)}" for p in self.processes.values())

    def stop_dagster(self) -> None:
        stop_all([self.processes.get(name) for name in ("webserver", "daemon", "code-server")])


def dagster_env(root: Path, pg: Postgres, s3: SeaweedFS, mlflow_url: str,
                sensor_interval_seconds: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a deployment gives every Dagster process (see ``.env.example``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HOKUSAI_", "MLFLOW_", "DAGSTER_", "AWS_"))}
    env.update({
        "DAGSTER_HOME": str(root / "dagster-home"),
        **pg.dagster_env("dagster"),
        "HOKUSAI_HOME": str(root / "hokusai"),
        "HOKUSAI_S3_BUCKET": DROP_BUCKET,
        "HOKUSAI_IO_BUCKET": IO_BUCKET,
        "HOKUSAI_S3_ENDPOINT_URL": s3.endpoint_url,
        "HOKUSAI_S3_REGION": "us-east-1",
        "HOKUSAI_SENSOR_INTERVAL_SECONDS": str(sensor_interval_seconds),
        **s3.env(),
        "MLFLOW_TRACKING_URI": mlflow_url,
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    })
    return env


def _workspace_yaml(path: Path, grpc_port: int) -> Path:
    path.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
                    f"      location_name: {LOCATION}\n")
    return path


def start_dagster(platform: Platform) -> None:
    """Code server, then daemon and webserver; return once the UI answers and the code is loaded."""
    root, env = platform.root, platform.env
    workspace = _workspace_yaml(root / "workspace.yaml", platform.grpc_port)
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    commands = {
        "code-server": [_bin("dagster"), "api", "grpc", "-m", "hokusai_assets.definitions", "-h", "127.0.0.1",
                        "-p", str(platform.grpc_port), "--location-name", LOCATION, "--log-level", "warning"],
        "daemon": [_bin("dagster-daemon"), "run", "-w", str(workspace), "--log-level", "warning"],
        "webserver": [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(platform.webserver_port),
                      "-w", str(workspace), "--log-level", "warning"],
    }
    for name, command in commands.items():
        process = DagsterProcess(name, command, env, logs / f"{name}.log")
        platform.processes[name] = process
        process.start()
        if name == "code-server":
            _wait_for_code_server(platform)
    _wait_for_webserver(platform)


def _wait_for_code_server(platform: Platform) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(port=platform.grpc_port, host="127.0.0.1")
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        platform.require_alive()
        try:
            client.ping("ready?")
            return
        except Exception:  # not listening yet
            time.sleep(0.5)
    raise TimeoutError(f"code server not up after {READY_TIMEOUT_SECONDS:.0f} s\n{platform.logs()}")


def _wait_for_webserver(platform: Platform) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        platform.require_alive()
        try:
            data = platform.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
                name locationOrLoadError { __typename ... on PythonError { message } } } } } }""", timeout=10)
            entries = data["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation":
                return
            last = entries
        except (urllib.error.URLError, OSError, RuntimeError) as error:
            last = error
        time.sleep(0.5)
    raise TimeoutError(f"webserver not ready after {READY_TIMEOUT_SECONDS:.0f} s ({last})\n{platform.logs()}")


def token_copies(root: Path, token_ids: list[str], source: Path = REPO_ROOT / "tokens",
                 template: str = "digits-demo", overrides: dict[str, dict] | None = None) -> Path:
    """A tokens folder with the repo's tokens plus copies of ``template`` under new ids.

    Each copy has its own registered model, so a test that needs a token with only a
    baseline gets one however many contributions other tests made. ``overrides``: spec
    fields to change, per token id.
    """
    import yaml

    tokens = Path(root) / "tokens"
    shutil.copytree(source, tokens, dirs_exist_ok=True)
    spec = yaml.safe_load((source / f"{template}.yaml").read_text())
    for number, token_id in enumerate(token_ids, start=1):
        copy = {**spec, "token_id": token_id, "model_name": f"hokusai-{token_id}",
                "model_id_uint": str(int(spec["model_id_uint"]) + number), **(overrides or {}).get(token_id, {})}
        (tokens / f"{token_id}.yaml").write_text(yaml.safe_dump(copy, sort_keys=False))
    return tokens


@contextmanager
def running_platform(root: Path, sensor_interval_seconds: int = 5,
                     extra_env: dict[str, str] | None = None) -> Iterator[Platform]:
    """Everything up, in ``root``; everything stopped (by process group) on exit."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if not os.environ.get("HOKUSAI_KEEP_TOPOLOGY"):  # set it to keep logs and data for a post-mortem
            stack.callback(shutil.rmtree, root, True)
        pg = stack.enter_context(postgres())
        pg.create_database("dagster")
        s3 = stack.enter_context(seaweedfs(root / "seaweedfs", buckets=(DROP_BUCKET, ARTIFACTS_BUCKET, IO_BUCKET)))
        pg.create_database("mlflow")
        pg.create_database("ledger")  # the lineage chains and the claims outbox, as in production
        # MLflow boots (~10 s) while Dagster's three processes start; no Dagster process asks it anything
        # before a run does, and the platform is yielded only once it answers.
        mlflow = launch_mlflow_on(root / "mlflow", pg.url("mlflow"), f"s3://{ARTIFACTS_BUCKET}/",
                                  {**s3.env(), "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url})
        stack.callback(mlflow.stop)  # should anything below fail; a restarted one is stopped below
        home = root / "dagster-home"
        home.mkdir(exist_ok=True)
        shutil.copyfile(PRODUCTION_YAML, home / "dagster.yaml")
        grpc_port, webserver_port = free_ports(2)
        env = dagster_env(root, pg, s3, mlflow.url, sensor_interval_seconds,
                          {"HOKUSAI_LEDGER_URL": pg.url("ledger"), **(extra_env or {})})
        platform = Platform(root, pg, s3, mlflow, env, grpc_port, webserver_port)
        stack.callback(lambda: platform.mlflow.stop())
        stack.callback(platform.stop_dagster)
        start_dagster(platform)
        healthy_or_stopped(mlflow)
        yield platform


# What the UI sends: the GraphQL the tests and the benchmarks drive the webserver with.
ASSETS = {"contributed_dataset", "clean_dataset", "baseline_model", "new_model", "benchmark_metrics",
          "delta_one", "attestation", "registered_token_model"}
REPOSITORY = {"repositoryName": "__repository__", "repositoryLocationName": LOCATION}
SENSOR = {**REPOSITORY, "sensorName": "contribution_drop_sensor"}
SENSOR_STATE = """query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { __typename ... on Sensor { sensorState { id status } } } }"""
STOP_SENSOR = """mutation Stop($id: String) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }"""
START_SENSOR = """mutation Start($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""
ADD_PARTITION = """mutation Add($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) { __typename
    ... on AddDynamicPartitionSuccess { partitionKey } ... on PythonError { message } } }"""
LAUNCH_BACKFILL = """mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL_STATUS = """query Status($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions } ... on PythonError { message } } }"""


def set_sensor(platform: Platform, running: bool) -> None:
    """Start or stop the drop-zone sensor through the webserver, as the UI's toggle does."""
    if running:
        answer = platform.graphql(START_SENSOR, {"selector": SENSOR})["startSensor"]
        if answer["__typename"] != "Sensor":
            raise RuntimeError(f"could not start the sensor: {answer}")
        return
    state = platform.graphql(SENSOR_STATE, {"selector": SENSOR})["sensorOrError"]["sensorState"]
    answer = platform.graphql(STOP_SENSOR, {"id": state["id"]})["stopSensor"]
    if answer["__typename"] != "StopSensorMutationResult":
        raise RuntimeError(f"could not stop the sensor: {answer}")


def launch_backfill(platform: Platform, partition_keys: list[str]) -> str:
    """A backfill of every asset over ``partition_keys``, launched as the UI launches one; its id."""
    params = {"partitionNames": partition_keys, "assetSelection": [{"path": [name]} for name in sorted(ASSETS)],
              "title": "backfill from the topology test"}
    answer = platform.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"the backfill was not launched: {answer}")
    return answer["backfillId"]


def wait_for_backfill(platform: Platform, backfill_id: str, timeout: float) -> str:
    """The backfill's final status, or ``TimeoutError`` naming the logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        platform.require_alive()
        status = platform.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
        if status not in ("REQUESTED", "CANCELING", "FAILING"):
            return status
        time.sleep(2.0)
    raise TimeoutError(f"backfill {backfill_id} not done after {timeout:.0f} s\n{platform.logs()}")


def mock_bytes(seed: int) -> bytes:
    """A seeded mock contribution (``hokusai.tokens.demo_data.mock_contribution``) as CSV bytes."""
    import pandas as pd

    from hokusai.tokens.demo_data import mock_contribution

    frame = mock_contribution(pd.read_csv(REPO_ROOT / "tokens" / "digits-demo" / "samples" / "improving.csv"), seed)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()
