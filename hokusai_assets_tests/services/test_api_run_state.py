"""A contribution's status follows the newest Dagster run of its partition, read from the platform's own
instance: with DAGSTER_HOME holding the production yaml, that is the PostgreSQL-backed instance the daemon
and the webserver use (docker-compose), not a SQLite instance of the API's own."""

import json
import shutil

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.events import DagsterEvent, DagsterEventType

from hokusai.claims.documents import output_dir_for
from hokusai.harness.servers import postgres
from hokusai.settings import REPO_ROOT
from hokusai_assets.api_app import api_instance, dagster_run_state, run_state_of
from hokusai_assets_tests.api_fixtures import ApiHarness, run
from hokusai_assets_tests.conftest import WALLET, isolated_settings

PARTITION = "digits-demo/0x00000000000000000000000000000000000d1617/rows.csv@abcdef123456"
JOB = "evaluate_contribution"


def test_run_state_follows_the_newest_run_of_the_partition():
    instance = DagsterInstance.ephemeral()
    run_state = run_state_of(instance)
    assert run_state(PARTITION) is None
    for status, expected in ((DagsterRunStatus.NOT_STARTED, "queued"), (DagsterRunStatus.STARTING, "queued"),
                             (DagsterRunStatus.STARTED, "running"), (DagsterRunStatus.FAILURE, "failed"),
                             (DagsterRunStatus.CANCELED, "canceled"), (DagsterRunStatus.SUCCESS, None)):
        instance.add_run(DagsterRun(job_name=JOB, status=status, tags={"dagster/partition": PARTITION}))
        assert run_state(PARTITION) == expected, status
    assert run_state(PARTITION.replace("rows", "other")) is None


def test_dagster_home_names_the_instance_and_a_wrong_one_is_refused(tmp_path, shared_cache):
    settings = isolated_settings(tmp_path / "state", shared_cache)
    assert settings.dagster_instance_home is None and settings.api_dagster_home == settings.dagster_home
    empty = tmp_path / "no-yaml"
    empty.mkdir()
    configured = isolated_settings(tmp_path / "state", shared_cache, {"DAGSTER_HOME": str(empty)})
    assert configured.api_dagster_home == empty.resolve()
    with pytest.raises(RuntimeError, match="holds no dagster.yaml"):
        api_instance(configured)


@pytest.fixture(scope="module")
def pg():
    with postgres() as server:
        server.create_database("dagster")
        yield server


@pytest.fixture
def production_api(pg, tmp_path, shared_cache, monkeypatch):
    """The API as ``hokusai api`` builds it (``hokusai_assets.api_app``), with DAGSTER_HOME holding
    deploy/dagster.postgres.yaml on a real PostgreSQL 15; and the instance a launcher would use."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    # the compute-log bucket is named by the yaml but never written here: no run executes a step
    for name, value in {**pg.dagster_env("dagster"), "HOKUSAI_IO_BUCKET": "dagster-io",
                        "HOKUSAI_S3_ENDPOINT_URL": "http://127.0.0.1:9", "HOKUSAI_S3_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    from hokusai.api.app import build_state, create_app

    settings = isolated_settings(tmp_path / "state", shared_cache,
                                 {"DAGSTER_HOME": str(home), "RATE_LIMIT_REQUESTS": "100000"})
    state = build_state(settings, dagster_run_state(settings))
    harness = ApiHarness(settings, state, create_app(settings, state=state))
    launcher = DagsterInstance.from_config(str(home))
    yield harness, launcher
    launcher.dispose()


def _submitted(instance, partition_key):
    """A run as the sensor submits it: from the code location's origin (what a queued run needs)."""
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

    origin = RemoteJobOrigin(RemoteRepositoryOrigin(
        GrpcServerCodeLocationOrigin(host="code-location", port=4000, location_name="hokusai"), "__repository__"), JOB)
    return instance.add_run(DagsterRun(job_name=JOB, status=DagsterRunStatus.NOT_STARTED, remote_job_origin=origin,
                                       tags={"dagster/partition": partition_key}))


def _report(instance, run_id, event_type):
    """What the queued coordinator, the launcher and the run worker record as a run moves on."""
    instance.report_dagster_event(DagsterEvent(event_type_value=event_type.value, job_name=JOB), run_id)


def test_queued_running_and_finished_runs_on_the_postgres_instance(production_api, pg):
    api, launcher = production_api
    assert not (api.settings.dagster_home / "dagster.yaml").exists()  # no SQLite instance of its own
    key = api.key("contributions:write", "contributors:read")

    async def upload(name):
        async with api.client(key) as client:
            answer = await client.post("/api/v1/contributions", content=b"a,b\n1,2\n",
                                       params={"token_id": "digits-demo", "wallet_address": WALLET, "filename": name})
            assert answer.status_code == 201, answer.text
            return answer.json()["partition_key"]

    async def state_of(partition_key):
        async with api.client(key) as client:
            answer = await client.get(f"/api/v1/contributions/{partition_key}")
            assert answer.status_code == 200, answer.text
            return answer.json()

    evaluated, failed = run(upload("evaluated.csv")), run(upload("failed.csv"))
    assert run(state_of(evaluated))["state"] == "queued"  # dropped, no run yet
    dagster_run = _submitted(launcher, evaluated)
    steps = ((DagsterEventType.RUN_ENQUEUED, "QUEUED", "queued"), (DagsterEventType.RUN_STARTING, "STARTING", "queued"),
             (DagsterEventType.RUN_START, "STARTED", "running"))
    for event_type, stored, expected in steps:
        _report(launcher, dagster_run.run_id, event_type)
        [(status,)] = pg.query("SELECT status FROM runs WHERE run_id = %s", dagster_run.run_id, db_name="dagster")
        assert status == stored  # the row in PostgreSQL, the only place the API could read it from
        assert run(state_of(evaluated))["state"] == expected, event_type
    outputs = output_dir_for(api.settings.outputs_dir, evaluated)
    outputs.mkdir(parents=True)
    (outputs / "delta_one.json").write_text(json.dumps({
        "delta_computation": {"delta_one_bps": 190, "delta_one_score": 0.019},
        "eligibility": {"eligible": True, "reason": "accepted"}}))
    assert run(state_of(evaluated))["state"] == "running"  # still running until the run says otherwise
    _report(launcher, dagster_run.run_id, DagsterEventType.RUN_SUCCESS)
    done = run(state_of(evaluated))
    assert (done["state"], done["delta_one_bps"], done["eligible"]) == ("evaluated", 190, True)

    crashed = _submitted(launcher, failed)
    _report(launcher, crashed.run_id, DagsterEventType.RUN_START)
    assert run(state_of(failed))["state"] == "running"
    launcher.report_run_failed(launcher.get_run_by_id(crashed.run_id))
    answer = run(state_of(failed))
    assert answer["state"] == "failed" and "not a rejection" in answer["reasons"][0]
