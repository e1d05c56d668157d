"""The compose file puts the API in front of MLflow: MLflow publishes no port, the API holds no
signing secret, and its rate limits and key store are the shared production backends."""

from hokusai_assets_tests.test_compose_file import compose


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
