"""Secrets never leave the environment: no surface a person or a process can read shows one.

With a random attester key, PII secret, S3 secret key and chain RPC URL (an API key in its
path and query, as hosted providers put it; a real ``anvil`` with the DeltaVerifier behind it)
in the environment, the demo token is evaluated through the CLI (accepted, rejected, a
too-short PII secret, a malformed attester key, the RPC down) and by a real
``dagster-webserver`` and ``dagster-daemon``
(files dropped into a SeaweedFS bucket, run by the drop-zone sensor: one evaluated,
one failing because the MLflow server is down), against a real MLflow server. Then
every surface is searched for every form of every secret (``leak_scan``): the
webserver's GraphQL (resource details, config defaults, the instance's configuration,
runs, event logs, asset and check metadata, compute logs, sensor ticks), MLflow
(params, tags, metrics, artifacts, model versions), every file under the state folder,
the MLflow server's folder and the Dagster logs, and the CLI's ``--json`` and error output.
The checks also assert what must be there (the variable's name in the UI, the failure
naming the variable, the signer being the environment's key), so none passes vacuously.

Unset (the development key and secret) and the production instance: ``test_secrets_never_leak_unset.py``,
a file of its own so the suite's two workers each take one.
"""

from __future__ import annotations

import dataclasses
import io
import json
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

from hokusai.claims.attester_keys import DEV_KEY_RELPATH
from hokusai.claims.attester_keys import ENV_VAR as KEY_VAR
from hokusai.pii.tokens import pii_key
from hokusai.pii.secret import DEV_SECRET_RELPATH
from hokusai.pii.secret import ENV_VAR as PII_VAR
from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.conftest import DEMO_TOKEN, SAMPLES, WALLET
from hokusai_assets_tests.leak_scan import Secret, files_under, scan_files
from hokusai_assets_tests.services.secrets_env import (address_of, clean_env, cli_json, evaluate, no_leaks,
                                                       random_attester_key)
from hokusai.harness.anvil import anvil, deploy_verifier
from hokusai.harness.mlflow_server import healthy_or_stopped, launch_mlflow_server
from hokusai.harness.servers import seaweedfs
from hokusai_assets_tests.ui_surfaces import collect_surfaces, failure_messages, resource_values, texts
from hokusai.harness.webserver import running_webserver

BUCKET = "drops"
RPC_VAR = "HOKUSAI_CHAIN_RPC_URL"
RUN_TIMEOUT = 240.0


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def mlflow_dump(tracking_uri: str, artifacts_dir: Path) -> dict:
    """Every experiment, run, logged model and model version of a server; their artifacts downloaded."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiments = client.search_experiments()
    experiment_ids = [experiment.experiment_id for experiment in experiments]
    dump = {"experiments": [dict(experiment) for experiment in experiments], "runs": [], "logged_models": [],
            "models": [], "versions": []}
    for run in client.search_runs(experiment_ids, max_results=1000):
        dump["runs"].append({"info": dict(run.info), "params": run.data.params, "tags": run.data.tags,
                             "metrics": run.data.metrics})
        if client.list_artifacts(run.info.run_id):
            download_artifacts(run_id=run.info.run_id, dst_path=str(artifacts_dir / "runs" / run.info.run_id),
                               tracking_uri=tracking_uri)
    for model in client.search_logged_models(experiment_ids):
        dump["logged_models"].append({"id": model.model_id, "params": model.params, "tags": model.tags,
                                      "metrics": [dict(metric) for metric in model.metrics or []]})
        download_artifacts(artifact_uri=model.artifact_location, tracking_uri=tracking_uri,
                           dst_path=str(artifacts_dir / "models" / model.model_id))
    for registered in client.search_registered_models():
        dump["models"].append({"name": registered.name, "tags": registered.tags,
                               "aliases": registered.aliases, "description": registered.description})
        for version in client.search_model_versions(f"name = '{registered.name}'"):
            dump["versions"].append({"version": version.version, "tags": version.tags, "source": version.source,
                                     "run_id": version.run_id, "description": version.description})
    dump["artifacts"] = [str(path.relative_to(artifacts_dir)) for path in files_under(artifacts_dir)]
    return dump


@dataclasses.dataclass
class Scenario:
    """What the evaluations left behind, for the checks to search."""

    root: Path
    home: Path
    secrets: tuple[Secret, ...]
    key_address: str
    cli: dict[str, subprocess.CompletedProcess]
    sensed: dict[str, str]  # the sensor's runs: what the run was → run id
    statuses: dict[str, str]
    surfaces: dict
    mlflow: dict
    artifacts_dir: Path
    genesis: str  # the weights commitment the chain was seeded with


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("secrets")
    home = root / "state"
    key, pii_secret = random_attester_key(), secrets.token_urlsafe(33)
    bad_key, short_secret = "0x" + secrets.token_hex(31), secrets.token_urlsafe(18)  # 62 hex; 24 characters
    improving = pd.read_csv(SAMPLES / "improving.csv")
    noisy = pd.read_csv(SAMPLES / "label-noise.csv")  # new rows, never eligible: a run that succeeds unsigned
    uploads = root / "uploads"
    uploads.mkdir()
    (uploads / "no-labels.csv").write_bytes(csv_bytes(improving.drop(columns=["digit"])))
    # The malformed key is met only when a claim is signed, i.e. by an eligible contribution: the
    # whole improving sample, evaluated first (it fails before anything is appended to the chain);
    # then the first half of it is accepted.
    (uploads / "first-half.csv").write_bytes(csv_bytes(improving.iloc[:175]))
    (uploads / "malformed-key.csv").write_bytes(csv_bytes(improving))
    (uploads / "short-secret.csv").write_bytes(csv_bytes(noisy.iloc[200:]))
    with ExitStack() as stack:
        mlflow = launch_mlflow_server(root / "mlflow")  # it boots (~10 s) while SeaweedFS and anvil start
        stack.callback(mlflow.stop)
        s3 = stack.enter_context(seaweedfs(root / "seaweedfs", buckets=(BUCKET,)))
        node = stack.enter_context(anvil())
        verifier = deploy_verifier(node)
        healthy_or_stopped(mlflow)
        rpc_key = secrets.token_urlsafe(24)  # a provider's API key (anvil serves "/" only: in the query there)
        rpc_url = f"{node.url}/?apikey={rpc_key}"
        rpc_down_url = f"http://127.0.0.1:1/v3/{rpc_key}?apikey={rpc_key}"
        env = clean_env(
            HOKUSAI_HOME=str(home), HOKUSAI_CACHE_DIR=str(root / "cache"), DAGSTER_HOME=str(home / "dagster"),
            MLFLOW_TRACKING_URI=mlflow.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="20",
            HOKUSAI_STEP_RETRIES="0", HOKUSAI_VERIFYING_CONTRACT=verifier.address,
            HOKUSAI_CHAIN_ID=str(node.chain_id), **s3.env(), **{KEY_VAR: key, PII_VAR: pii_secret})
        platform_env = {**env, RPC_VAR: rpc_url, "HOKUSAI_S3_BUCKET": BUCKET, "HOKUSAI_S3_ENDPOINT_URL": s3.endpoint_url,
                        "HOKUSAI_S3_REGION": "us-east-1", "HOKUSAI_SENSOR_INTERVAL_SECONDS": "2"}
        # The CLI drops into the local folder, so the daemon's sensor (on the bucket) sees only its own two files.
        # The malformed key is met before the chain would be read: its run has no RPC (the genesis is not yet
        # known, so the chain cannot hold it); the others read the chain through the secret URL.
        # Each CLI process is one core's work: two at a time once the genesis is known, in the order the
        # chain needs (the RPC down before the accepted). The daemon starts after them: its sensors' ticks
        # would cost more CPU than its start saves.
        cli = {"malformed_key": evaluate({**env, KEY_VAR: bad_key}, uploads / "malformed-key.csv")}
        genesis = seed_genesis(verifier, home)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
        env[RPC_VAR] = rpc_url
        chain_side = pool.submit(lambda: {
            # the same eligible upload again, the RPC down: fails closed, naming the variable
            "rpc_down": evaluate({**env, RPC_VAR: rpc_down_url}, uploads / "malformed-key.csv"),
            # DEBUG: every Dagster event is printed on stderr, so the error output is as large as it gets.
            "accepted": evaluate({**env, "PIPELINE_LOG_LEVEL": "DEBUG"}, uploads / "first-half.csv"),
        })
        cli |= {  # neither reaches the chain
            "rejected": evaluate(env, uploads / "no-labels.csv"),
            "short_secret": evaluate({**env, PII_VAR: short_secret}, uploads / "short-secret.csv"),
        }
        cli |= chain_side.result()
        webserver = stack.enter_context(running_webserver(root, platform_env, daemon=True))

        def dropped_and_run(name: str, rows: slice) -> dict:
            """Upload new rows as a contributor would; the run the daemon's sensor starts for it."""
            file_key = f"{DEMO_TOKEN}/{WALLET}/{name}.csv"
            body = csv_bytes(noisy.iloc[rows])
            etag = s3.client().put_object(Bucket=BUCKET, Key=file_key, Body=body)["ETag"].strip('"')
            return webserver.wait_for_partition_run(f"{file_key}@{etag[:12]}", RUN_TIMEOUT)

        sensed = dropped_and_run("sensed", slice(0, 100))
        assert sensed["status"] == "SUCCESS", webserver.logs()
        artifacts_dir = root / "mlflow-download"
        dump = mlflow_dump(mlflow.url, artifacts_dir)
        mlflow.stop()  # the next contribution finds MLflow down
        sensed_runs = {"sensed": sensed["runId"], "mlflow_down": dropped_and_run("mlflow-down", slice(100, 200))["runId"]}
        surfaces = collect_surfaces(webserver)
        statuses = {run["runId"]: run["status"] for run in surfaces["runs"]["runsOrError"]["results"]}
        forms = (
            Secret.of(KEY_VAR, key), Secret.of(PII_VAR, pii_secret),
            Secret.of("per-token PII key", pii_key(pii_secret.encode(), DEMO_TOKEN)),
            Secret.of("AWS_SECRET_ACCESS_KEY", s3.secret_key),
            Secret.of(f"malformed {KEY_VAR}", bad_key), Secret.of(f"too-short {PII_VAR}", short_secret),
            Secret.of(f"{RPC_VAR}'s API key", rpc_key), Secret.of(RPC_VAR, rpc_url),
            Secret.of(f"unreachable {RPC_VAR}", rpc_down_url),
        )
        yield Scenario(root, home, forms, address_of(key), cli, sensed_runs, statuses, surfaces, dump, artifacts_dir,
                       genesis)


def seed_genesis(verifier, home: Path) -> str:
    """Governance's once-per-model call, with the genesis the first evaluation recorded in the ledger."""
    from hokusai.chain.ledger import Chain
    from hokusai.settlement.database import dispose_engines
    from hokusai.tokens.spec import load_token_spec

    genesis = Chain(f"sqlite:///{home / 'ledger.db'}").head(DEMO_TOKEN).commitment
    dispose_engines()
    model_id = load_token_spec(REPO_ROOT / "tokens" / f"{DEMO_TOKEN}.yaml").model_id_uint
    verifier.register_model(model_id)
    verifier.set_genesis(model_id, genesis)
    return genesis


# --- the webserver's GraphQL -------------------------------------------------------------------

def test_the_resources_page_shows_the_variables_names_never_their_values(scenario):
    values = resource_values(scenario.surfaces)
    assert values["attester"]["private_key"] == {"value": KEY_VAR, "type": "ENV_VAR"}
    assert values["intake"]["pii_secret"] == {"value": PII_VAR, "type": "ENV_VAR"}
    assert values["attester"]["chain_rpc_url"] == {"value": RPC_VAR, "type": "ENV_VAR"}
    assert values["model_registry"]["tracking_uri"]["type"] == "VALUE"  # no password in it: shown as it is
    assert not any("aws" in field.lower() or "secret_key" in field for fields in values.values() for field in fields)
    assert no_leaks(texts(scenario.surfaces, "resources"), scenario.secrets) == []


def test_config_defaults_and_the_instance_configuration_hold_no_secret(scenario):
    schema = scenario.surfaces["config_schema"]["runConfigSchemaOrError"]
    assert schema["__typename"] == "RunConfigSchema"
    assert f"env: {KEY_VAR}" in schema["rootDefaultYaml"] and f"env: {PII_VAR}" in schema["rootDefaultYaml"]
    assert scenario.surfaces["instance"]["instance"]["info"]  # the Configuration page has something to show
    assert no_leaks(texts(scenario.surfaces, "config_schema") | texts(scenario.surfaces, "instance"),
                    scenario.secrets) == []


def test_runs_their_config_and_tags_hold_no_secret(scenario):
    statuses = sorted(scenario.statuses.values())
    # CLI: accepted, rejected, short secret, malformed key, RPC down; the sensor's: evaluated, MLflow down
    assert statuses == ["FAILURE"] * 5 + ["SUCCESS"] * 2, statuses
    assert scenario.statuses[scenario.sensed["sensed"]] == "SUCCESS"
    assert scenario.statuses[scenario.sensed["mlflow_down"]] == "FAILURE"
    assert no_leaks(texts(scenario.surfaces, "runs"), scenario.secrets) == []


def test_the_sensor_ticks_hold_no_secret(scenario):
    state = scenario.surfaces["sensor_ticks"]["sensorOrError"]["sensorState"]
    assert {run_id for tick in state["ticks"] for run_id in tick["runIds"]} == set(scenario.sensed.values())
    assert no_leaks(texts(scenario.surfaces, "sensor_ticks"), scenario.secrets) == []


def test_event_logs_and_asset_metadata_hold_no_secret(scenario):
    events = texts(scenario.surfaces, "events:")
    assert len(events) == 7
    materialized = [event for name in events for event in scenario.surfaces[name]
                    if event["__typename"] == "MaterializationEvent"]
    assert len(materialized) >= 2 * 8 + 2  # two full evaluations, plus the intake of the failed ones
    assert any(event["metadataEntries"] for event in materialized)
    assets = texts(scenario.surfaces, "materializations:") | texts(scenario.surfaces, "check:")
    assert '"jsonString"' in "".join(assets.values())
    assert no_leaks(events | assets, scenario.secrets) == []


def run_names(scenario) -> dict[str, str]:
    """run id → what the run was (the CLI's and the sensor's)."""
    named = {cli_json(done)["run_id"]: name for name, done in scenario.cli.items()}
    return {**named, **{run_id: name for name, run_id in scenario.sensed.items()}}


def test_failed_runs_name_the_variable_never_its_value(scenario):
    names = run_names(scenario)
    failures = {names[run_id]: "\n".join(failure_messages(scenario.surfaces[f"events:{run_id}"]))
                for run_id, status in scenario.statuses.items() if status == "FAILURE"}
    assert set(failures) == {"rejected", "short_secret", "malformed_key", "rpc_down", "mlflow_down"}
    assert f"{PII_VAR} is too short" in failures["short_secret"] and "not shown" in failures["short_secret"]
    assert f"{KEY_VAR} is malformed" in failures["malformed_key"] and "not shown" in failures["malformed_key"]
    assert "is not answering" in failures["mlflow_down"] and "MLFLOW_TRACKING_URI" in failures["mlflow_down"]
    assert "not signed" in failures["rpc_down"] and "retryable" in failures["rpc_down"]
    assert RPC_VAR in failures["rpc_down"] and "unreachable" in failures["rpc_down"]
    assert no_leaks(failures, scenario.secrets) == []


def test_compute_logs_hold_no_secret_through_graphql_or_on_disk(scenario):
    captured = texts(scenario.surfaces, "compute_logs:")
    of_the_sensed_run = [name for name in captured if scenario.sensed["sensed"] in name]
    assert of_the_sensed_run, sorted(captured)
    assert any(scenario.surfaces[name]["stdout"] or scenario.surfaces[name]["stderr"] for name in captured)
    on_disk = [path for path in files_under(scenario.home / "dagster" / "storage")
               if path.parent.name == "compute_logs" and path.suffix in (".out", ".err")]
    assert len(on_disk) >= 2 * len(scenario.statuses), on_disk  # stdout and stderr of every run
    assert any(path.stat().st_size for path in on_disk)
    assert no_leaks(captured, scenario.secrets) == []
    assert scan_files(on_disk, scenario.secrets, root=scenario.home) == []


# --- MLflow --------------------------------------------------------------------------------------

def test_mlflow_params_tags_metrics_and_artifacts_hold_no_secret(scenario):
    dump = scenario.mlflow
    # the baseline's run, the CLI's and the webserver's candidates, and the malformed-key run's candidate
    assert len(dump["runs"]) >= 4 and sum(1 for run in dump["runs"] if run["params"] and run["metrics"]) >= 2
    assert all(run["tags"] for run in dump["runs"]) and len(dump["versions"]) >= 3
    assert len(dump["logged_models"]) >= 4
    assert any(name.endswith("attestation.json") for name in dump["artifacts"]), dump["artifacts"]
    assert any(name.endswith("model.pkl") for name in dump["artifacts"]), dump["artifacts"]
    assert no_leaks({"mlflow": json.dumps(dump, default=str)}, scenario.secrets) == []
    artifacts = files_under(scenario.artifacts_dir)
    assert len(artifacts) >= 10
    assert scan_files(artifacts, scenario.secrets, root=scenario.artifacts_dir) == []
    server_files = files_under(scenario.root / "mlflow")  # its SQLite store, artifacts and log
    assert scan_files(server_files, scenario.secrets, root=scenario.root) == []


# --- files and the CLI ---------------------------------------------------------------------------

def test_no_file_under_the_state_folder_or_the_outputs_holds_a_secret(scenario):
    written = files_under(scenario.home)
    names = {path.name for path in written}
    assert {"rejection.json", "attestation.json", "mint_request.json", "runs.db"} <= names, names
    assert len(written) > 40
    assert not (scenario.home / DEV_KEY_RELPATH).exists()  # the environment's key and secret were used
    assert not (scenario.home / DEV_SECRET_RELPATH).exists()
    assert scan_files(written, scenario.secrets, root=scenario.home) == []
    assert scan_files([scenario.root / "webserver.log", scenario.root / "daemon.log"], scenario.secrets) == []


def test_the_cli_json_and_error_output_hold_no_secret_and_name_the_variable(scenario):
    accepted, rejected = cli_json(scenario.cli["accepted"]), cli_json(scenario.cli["rejected"])
    assert scenario.cli["accepted"].returncode == 0, scenario.cli["accepted"].stderr[-3000:]
    assert accepted["signer"] == scenario.key_address and accepted["dev_key"] is False
    attestation = json.loads(Path(accepted["files"]["attestation.json"]).read_text())
    assert attestation["claim"]["chain_head"]["onchain_head"] == scenario.genesis  # read through the secret URL
    rpc_down = scenario.cli["rpc_down"]
    assert rpc_down.returncode == 1 and cli_json(rpc_down)["status"] == "error"
    assert f"{RPC_VAR}" in rpc_down.stderr and "retryable" in rpc_down.stderr, rpc_down.stderr[-3000:]
    assert scenario.cli["rejected"].returncode == 2 and rejected["status"] == "rejected"
    assert "rejection.json" in rejected["files"]
    assert "DEBUG" in scenario.cli["accepted"].stderr  # the Dagster events were printed
    for name, variable, words in (("short_secret", PII_VAR, "is too short"), ("malformed_key", KEY_VAR, "is malformed")):
        done = scenario.cli[name]
        assert done.returncode == 1 and cli_json(done)["status"] == "error"
        assert f"{variable} {words}" in done.stderr and "not shown" in done.stderr
    outputs = {f"{name}.{stream}": getattr(done, stream) for name, done in scenario.cli.items()
               for stream in ("stdout", "stderr")}
    assert no_leaks(outputs, scenario.secrets) == []
