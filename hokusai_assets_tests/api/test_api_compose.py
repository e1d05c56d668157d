"""The compose file puts the API in front of MLflow: MLflow publishes no port, the API holds no
signing secret, its rate limits and key store are the shared production backends, and it reads run
states from the same PostgreSQL-backed Dagster instance as the daemon."""

from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.unit.test_compose_file import compose


def test_api_service_fronts_mlflow():
    services = compose()["services"]
    api, mlflow = services["api"], services["mlflow"]
    assert "ports" not in mlflow  # only reachable on the compose network
    assert api["ports"] == ["127.0.0.1:${HOKUSAI_API_HOST_PORT:?set HOKUSAI_API_HOST_PORT in .env}:8001"]
    environment = api["environment"]
    assert environment["HOKUSAI_API_MLFLOW_URL"] == "http://mlflow:5000"
    assert environment["HOKUSAI_API_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
    assert environment["HOKUSAI_LEDGER_URL"].startswith("postgresql+psycopg2://")
    assert "HOKUSAI_ATTESTER_PRIVATE_KEY" not in environment and "HOKUSAI_PII_SECRET" not in environment
    assert "mlflow:5000" in mlflow["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert api["command"][:2] == ["hokusai", "api"] and "healthcheck" in api


def test_api_service_reads_runs_from_the_platforms_dagster_instance():
    services = compose()["services"]
    api, daemon = services["api"]["environment"], services["daemon"]["environment"]
    dagster_names = {name for name in daemon if name.startswith(("DAGSTER_PG_", "HOKUSAI_IO_"))}
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "HOKUSAI_IO_BUCKET"} <= dagster_names
    assert {name: api[name] for name in dagster_names} == {name: daemon[name] for name in dagster_names}
    assert "DAGSTER_HOME" not in api  # the image's, as for every Dagster service
    dockerfile = (REPO_ROOT / "docker" / "Dockerfile").read_text()
    assert "DAGSTER_HOME=/opt/dagster/home" in dockerfile
    assert "COPY deploy/dagster.postgres.yaml /opt/dagster/home/dagster.yaml" in dockerfile
    # `hokusai api` serves the factory that wires the instance's run states in
    cli = (REPO_ROOT / "hokusai_assets" / "cli.py").read_text()
    assert 'app_factory="hokusai_assets.api_app:app"' in cli
