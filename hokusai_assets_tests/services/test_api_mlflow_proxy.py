"""The MLflow proxy against a real MLflow server: the integration guide's code unchanged, 401 without
a key or with a revoked one, scopes per method, the allowlist, header hygiene, and a 200 MB artifact
both ways through the proxy in bounded memory (the API process's peak RSS)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from hokusai.api.app import build_state
from hokusai.api.keys import create_key, revoke_key
from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.api_fixtures import start_api_server
from hokusai_assets_tests.conftest import isolated_settings
from hokusai.harness.mlflow_server import healthy_or_stopped, launch_mlflow_server

WALLET = "0x00000000000000000000000000000000000d1617"
ARTIFACT_BYTES = 200 * 1024 * 1024
CHUNK = 1024 * 1024
BROWSER_ORIGIN = "https://app.hokusai.example"  # the one origin the API's CORS allows here


@pytest.fixture(scope="module")
def stack(tmp_path_factory, shared_cache):
    """One MLflow server and one API process in front of it, for the whole module."""
    root = tmp_path_factory.mktemp("api-proxy")
    mlflow_server = launch_mlflow_server(root / "mlflow")  # ~10 s idle, far more on a busy machine
    env = {"HOKUSAI_HOME": str(root / "home"), "HOKUSAI_CACHE_DIR": str(shared_cache),
           "MLFLOW_TRACKING_URI": mlflow_server.url, "HOKUSAI_API_CORS_ORIGINS": BROWSER_ORIGIN}
    try:
        api = start_api_server(env, root / "api.log", timeout=180)
    except BaseException:
        mlflow_server.stop()
        raise
    try:
        healthy_or_stopped(mlflow_server, timeout=240)
    except BaseException:
        api.stop()
        raise
    state = build_state(isolated_settings(root / "home", shared_cache, {"MLFLOW_TRACKING_URI": mlflow_server.url}))

    def key(scopes: str) -> str:
        return create_key(state.engine, state.pepper, "proxy-test", scopes)[0]

    yield {"api": api, "mlflow": mlflow_server, "key": key, "state": state}
    api.stop()
    mlflow_server.stop()


GUIDE = REPO_ROOT / "examples" / "api_mlflow_guide.py"


def _guide(api_url: str, model_name: str, token: str | None) -> subprocess.CompletedProcess:
    """The integration guide's code (examples/api_mlflow_guide.py), run as a user runs it: a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HOKUSAI_"))}
    env.update({"HOKUSAI_API": api_url, "MLFLOW_DISABLE_TELEMETRY": "true"})
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return subprocess.run([sys.executable, str(GUIDE), model_name], capture_output=True, text=True, env=env,
                          timeout=300)


def test_integration_guide_code_through_the_proxy(stack, monkeypatch):
    key = stack["key"]("mlflow:read,mlflow:write,models:read")
    done = _guide(stack["api"].url, "guide-model", key)
    assert done.returncode == 0, done.stderr[-3000:]
    lineage = json.loads(done.stdout.strip().splitlines()[-1])
    assert [v["version"] for v in lineage["versions"]] == [1, 2]
    assert lineage["improvements"][0]["contributor_address"] == WALLET
    # the versions really live on the MLflow server behind the proxy
    direct = httpx.get(f"{stack['mlflow'].url}/api/2.0/mlflow/registered-models/get", params={"name": "guide-model"})
    assert direct.json()["registered_model"]["name"] == "guide-model"
    # the same client with no key, and with the key revoked, gets 401 (in-process: MLflow reads the token per call)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    proxied = f"{stack['api'].url}/api/mlflow"
    client = MlflowClient(tracking_uri=proxied, registry_uri=proxied)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    with pytest.raises(MlflowException, match="401"):
        client.search_registered_models()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
    assert [m.name for m in client.search_registered_models()] == ["guide-model"]
    revoke_key(stack["state"].engine, key[:11])
    time.sleep(stack["state"].settings.api_key_cache_seconds + 0.2)  # the stated bound on a revocation
    with pytest.raises(MlflowException, match="revoked") as refused:
        client.create_registered_model("after-revocation")
    assert key not in str(refused.value)


def test_scopes_allowlist_and_headers(stack):
    url = stack["api"].url
    reader = {"Authorization": f"Bearer {stack['key']('mlflow:read')}"}
    search = f"{url}/api/mlflow/api/2.0/mlflow/experiments/search"
    assert httpx.get(search, params={"max_results": 5}, headers=reader).status_code == 200
    created = httpx.post(f"{url}/api/mlflow/api/2.0/mlflow/experiments/create", json={"name": "x"}, headers=reader)
    assert created.status_code == 403 and created.json()["required_scope"] == "mlflow:write"
    # a method override does not turn a read key's POST into anything it may do
    overridden = httpx.post(f"{url}/api/mlflow/api/2.0/mlflow/experiments/create", json={"name": "y"},
                            headers={**reader, "X-HTTP-Method-Override": "GET"})
    assert overridden.status_code == 403
    for path in ("/api/mlflow/health", "/api/mlflow/ajax-api/2.0/mlflow/experiments/search",
                 "/api/mlflow/api/2.0/mlflow-artifactsX/x", "/api/mlflow/static-files/index.html",
                 "/api/mlflow/API/2.0/mlflow/experiments/search", "/api/mlflow/api/2.0/preview/mlflow/x"):
        answer = httpx.get(url + path, headers=reader)
        assert answer.status_code == 404, (path, answer.status_code)
    for raw in (b"/api/mlflow/api/2.0/mlflow/../../../health", b"/api/mlflow/api/2.0/mlflow/%2e%2e/x",
                b"/api/mlflow/api/2.0/mlflow%2F..%2F..%2Fhealth", b"/api/mlflow/api/2.0/mlflow//experiments/search"):
        with httpx.Client() as client:
            request = client.build_request("GET", url + "/")
            request.url = httpx.URL(request.url, raw_path=raw)
            answer = client.send(request)
        assert answer.status_code in (400, 404), (raw, answer.status_code)
    # Origin and the client's Authorization never reach MLflow (MLflow 3 refuses a foreign Origin on writes)
    writer = {"Authorization": f"Bearer {stack['key']('mlflow:write')}", "Origin": "https://evil.example"}
    made = httpx.post(f"{url}/api/mlflow/api/2.0/mlflow/experiments/create", json={"name": "from-a-browser"},
                      headers=writer)
    assert made.status_code == 200, made.text
    assert "ratelimit-limit" in made.headers
    assert "access-control-allow-origin" not in made.headers  # not an allowed origin
    # an allowed origin: the API's CORS answers it, and MLflow (a foreign Origin) still never sees it
    page = {**writer, "Origin": BROWSER_ORIGIN}
    made = httpx.post(f"{url}/api/mlflow/api/2.0/mlflow/experiments/create", json={"name": "from-the-app"},
                      headers=page)
    assert made.status_code == 200, made.text
    assert made.headers["access-control-allow-origin"] == BROWSER_ORIGIN
    preflight = httpx.options(f"{url}/api/mlflow/api/2.0/mlflow/experiments/create",
                              headers={"Origin": BROWSER_ORIGIN, "Access-Control-Request-Method": "POST",
                                       "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == BROWSER_ORIGIN


def _rss_of(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_200_mb_artifact_both_ways_in_bounded_memory(stack):
    """Streamed up and down through the proxy; the API process never holds more than a few chunks."""
    url = stack["api"].url
    headers = {"Authorization": f"Bearer {stack['key']('mlflow:read,mlflow:write')}"}
    pattern = hashlib.sha256(b"hokusai").digest() * (CHUNK // 32)
    sent = hashlib.sha256()

    def body():
        for _ in range(ARTIFACT_BYTES // CHUNK):
            sent.update(pattern)
            yield pattern

    before = stack["api"].peak_rss_kib()
    path = f"{url}/api/mlflow/api/2.0/mlflow-artifacts/artifacts/big/blob.bin"
    with httpx.Client(timeout=120) as client:
        put = client.put(path, content=body(), headers={**headers, "Content-Length": str(ARTIFACT_BYTES)})
        assert put.status_code == 200, put.text
        received, size = hashlib.sha256(), 0
        with client.stream("GET", path, headers=headers) as answer:
            assert answer.status_code == 200
            for chunk in answer.iter_raw():
                received.update(chunk)
                size += len(chunk)
    assert size == ARTIFACT_BYTES and received.hexdigest() == sent.hexdigest()
    stored = stack["mlflow"].root / "artifacts" / "big" / "blob.bin"
    assert stored.stat().st_size == ARTIFACT_BYTES
    peak_growth_mib = (stack["api"].peak_rss_kib() - before) / 1024
    print(f"API process peak RSS before {before / 1024:.0f} MiB, growth over 2 x 200 MB: {peak_growth_mib:.1f} MiB")
    assert peak_growth_mib < 64, peak_growth_mib
