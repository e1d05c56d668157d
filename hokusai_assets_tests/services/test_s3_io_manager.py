"""Step outputs in the bucket: dagster-aws's S3 IO manager with each step of a run in a process of its own.

With ``HOKUSAI_IO_BUCKET`` set, a step's output is a pickle in ``s3://bucket/prefix/…``
(SeaweedFS here), not a file under one host's instance folder; with
``HOKUSAI_STEP_EXECUTOR=multiprocess`` each step runs in its own process and reads its
inputs back from the bucket. The run is started in a fresh interpreter so that the code
location is built from that environment, as the code server builds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hokusai.harness.servers import seaweedfs
from hokusai_assets_tests.conftest import SAMPLES, WALLET

IO_BUCKET = "dagster-io"
# The contribution side of the graph (the blocking checks run as steps of their own too):
# clean_dataset reads both upstream outputs back from the bucket, in another process.
ASSETS = ("contributed_dataset", "baseline_model", "clean_dataset")
CHECK_STEPS = {"contributed_dataset_contribution_matches_token_schema", "clean_dataset_clean_rows_meet_expectations"}

RUN = """
import json, os, sys
from pathlib import Path
from dagster import AssetKey, execute_job, reconstructable
from hokusai.settings import load_settings
from hokusai_assets.definitions import evaluate_contribution_job
from hokusai_assets.runner import DagsterRunner

settings = load_settings()
runner = DagsterRunner(settings)
partition = runner.drop(Path(sys.argv[1]), "digits-demo", sys.argv[2])
with execute_job(reconstructable(evaluate_contribution_job), instance=runner.instance,
                 tags={"dagster/partition": partition}, raise_on_error=False,
                 asset_selection=[AssetKey(name) for name in sys.argv[3].split(",")]) as result:
    starts = [e for e in result.all_events if e.event_type_value == "STEP_START"]
    print(json.dumps({"success": result.success, "partition": partition, "parent": os.getpid(),
                      "pids": {e.step_key: e.pid for e in starts}}))
"""


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("io-s3"), (IO_BUCKET,)) as server:
        yield server


def test_each_step_runs_in_its_own_process_and_hands_its_output_over_in_the_bucket(tmp_path, s3, shared_cache):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_", "AWS_", "DAGSTER_"))}
    env.update({**s3.env(), "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                "HOKUSAI_HOME": str(tmp_path / "state"), "HOKUSAI_CACHE_DIR": str(shared_cache),
                "HOKUSAI_IO_BUCKET": IO_BUCKET, "HOKUSAI_IO_PREFIX": "runs", "HOKUSAI_S3_ENDPOINT_URL": s3.endpoint_url,
                "HOKUSAI_STEP_EXECUTOR": "multiprocess"})
    done = subprocess.run([sys.executable, "-c", RUN, str(SAMPLES / "improving.csv"), WALLET, ",".join(ASSETS)],
                          env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["success"], done.stderr[-3000:]

    pids = report["pids"]
    assert set(pids) == set(ASSETS) | CHECK_STEPS
    assert len(set(pids.values())) == len(pids) and report["parent"] not in pids.values()

    listed = s3.client().list_objects_v2(Bucket=IO_BUCKET, Prefix="runs/")
    keys = {obj["Key"] for obj in listed.get("Contents", [])}
    assert {f"runs/{name}/{report['partition']}" for name in ASSETS} <= keys, sorted(keys)
    storage = tmp_path / "state" / "dagster" / "storage"
    assert not any(path.is_file() for path in storage.rglob("*") if path.name == report["partition"])
