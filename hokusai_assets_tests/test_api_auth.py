"""The API's door: the exact public set, keys (revoked, expired, malformed), every scope boundary,
bypass attempts (prefix, case, trailing slash, percent-encoding, dot segments, method overrides),
problem+json errors and the key CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hokusai.api.scopes import ALL_SCOPES, ADMIN
from hokusai_assets_tests.api_fixtures import api_harness, run

# (method, path, scope) for every protected route the schema declares
ROUTES = [
    ("GET", "/api/v1/tokens", "models:read"),
    ("GET", "/api/v1/tokens/digits-demo", "models:read"),
    ("POST", "/api/v1/models/register", "models:register"),
    ("GET", "/api/v1/models/hokusai-digits-demo/1/lineage", "models:read"),
    ("GET", "/api/v1/contributors/0x00000000000000000000000000000000000d1617/impact", "contributors:read"),
    ("POST", "/api/v1/contributions?token_id=digits-demo&filename=a.csv&wallet_address="
             "0x00000000000000000000000000000000000d1617", "contributions:write"),
    ("GET", "/api/v1/contributions/digits-demo/0x00000000000000000000000000000000000d1617/a.csv@abc", "contributors:read"),
    ("GET", "/api/v1/claims/0x" + "ab" * 32, "contributors:read"),
    ("POST", "/api/v1/dspy/execute", "dspy:execute"),
    ("GET", "/api/mlflow/api/2.0/mlflow/experiments/search", "mlflow:read"),
    ("POST", "/api/mlflow/api/2.0/mlflow/experiments/create", "mlflow:write"),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_cache):
    return api_harness(tmp_path_factory.mktemp("api-auth"), shared_cache, {"RATE_LIMIT_REQUESTS": "100000"})


async def _call(api, method, path, token=None, **kwargs):
    async with api.client(token) as client:
        return await client.request(method, path, **kwargs)


def test_every_route_but_the_public_set_requires_a_scope(api):
    """Walk the app's routes: each non-public one has the scope dependency (or is the proxy, which checks)."""
    from fastapi.routing import APIRoute

    from hokusai.api.auth import PUBLIC_PATHS

    unguarded = []
    for route in api.app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS or route.path.startswith("/api/mlflow/"):
            continue
        scopes = [getattr(d.call, "required_scope", None) for d in route.dependant.dependencies]
        if not any(scopes):
            unguarded.append(route.path)
    assert unguarded == []
    declared = {(m, p) for m, p, _ in ROUTES}
    assert len(declared) == len(ROUTES)


@pytest.mark.parametrize("method,path,scope", ROUTES)
def test_no_key_is_401_problem(api, method, path, scope):
    answer = run(_call(api, method, path))
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["status"] == 401 and "Bearer" in answer.json()["detail"]


@pytest.mark.parametrize("method,path,scope", ROUTES)
def test_every_scope_boundary(api, method, path, scope):
    """Every other scope is refused with 403 naming the missing one; the right scope (and admin) get past auth."""
    for other in ALL_SCOPES:
        if other in (scope, ADMIN):
            continue
        answer = run(_call(api, method, path, api.key(other)))
        assert answer.status_code == 403, (other, answer.text)
        assert answer.json()["required_scope"] == scope
    for allowed in (scope, ADMIN):
        answer = run(_call(api, method, path, api.key(allowed)))
        assert answer.status_code not in (401, 403), (allowed, answer.text)


def test_revoked_expired_malformed_and_unknown_keys(api):
    from hokusai.api.keys import revoke_key

    good = api.key("models:read")
    assert run(_call(api, "GET", "/api/v1/tokens", good)).status_code == 200
    revoke_key(api.state.engine, good.split("_")[0] + "_" + good.split("_")[1])
    answer = run(_call(api, "GET", "/api/v1/tokens", good))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    expired = api.key("models:read", expires_days=1e-9)
    answer = run(_call(api, "GET", "/api/v1/tokens", expired))
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    for token in (tampered, "hk_short", "not-a-key", good.upper(), "hks_abc.def"):
        answer = run(_call(api, "GET", "/api/v1/tokens", token))
        assert answer.status_code == 401, token
        assert token not in answer.text  # the presented secret is never echoed
    answer = run(_call(api, "GET", "/api/v1/tokens", headers={"Authorization": f"Basic {good}"}))
    assert answer.status_code == 401


def test_keys_are_stored_only_as_a_keyed_hash(api):
    from sqlalchemy import text

    secret = api.key("models:read", name="stored")
    with api.state.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM api_keys"))]
    dump = repr(rows)
    assert secret not in dump and secret.split("_")[2] not in dump


@pytest.mark.parametrize("path", [
    "/health/", "/HEALTH", "/Health", "/docs/", "/openapi.json/", "/health/../api/v1/tokens",
    "/api/v1/tokens/", "/API/v1/tokens", "/api/v1/Tokens", "/healthz", "/health%2F", "/docs/../api/v1/tokens",
    "/openapi.json/../api/v1/tokens", "/api/v1/auth/siwe/nonce/../../tokens", "/api/v1/auth/siwe/noncex",
])
def test_public_set_is_exact(api, path):
    """Near-misses of a public path never reach a protected route without a key."""
    answer = run(_call(api, "GET", path))
    assert answer.status_code in (401, 404, 405), (path, answer.status_code)
    assert "tokens" not in answer.json() if answer.headers["content-type"].endswith("json") else True


def test_percent_encoded_and_dot_paths_still_need_a_key(api):
    """Raw paths sent as written (httpx would normalise them): decoded or not, auth holds."""
    import httpx

    async def raw(path: bytes):
        async with api.client() as client:
            request = client.build_request("GET", "http://testserver/")
            request.url = httpx.URL(request.url, raw_path=path)
            return await client.send(request)

    for path in (b"/api/v1/%74okens", b"/api/v1/tokens%2F", b"/health/../api/v1/tokens", b"/api/v1/./tokens",
                 b"/%61pi/v1/tokens", b"/api/mlflow/api/2.0/mlflow/../../../health",
                 b"/api/mlflow/api/2.0/mlflow/%2e%2e/%2e%2e/x"):
        answer = run(raw(path))
        assert answer.status_code in (400, 401, 404), (path, answer.status_code, answer.text)


def test_health_is_read_only_and_public(api):
    answer = run(_call(api, "GET", "/health"))
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert "dependencies" not in answer.json()
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for headers in ({}, {"X-HTTP-Method-Override": "GET"}, {"X-HTTP-Method": "GET"}):
            assert run(_call(api, method, "/health", headers=headers)).status_code == 405
    # overriding to a state-changing method from a GET does nothing either: GET stays GET
    override = run(_call(api, "GET", "/api/v1/tokens", api.key("models:read"),
                         headers={"X-HTTP-Method-Override": "POST"}))
    assert override.status_code == 200
    admin = run(_call(api, "GET", "/health", api.key("admin"))).json()
    assert admin["dependencies"]["database"]["ok"] is True
    reader = run(_call(api, "GET", "/health", api.key("models:read"))).json()
    assert "dependencies" not in reader


def test_errors_are_problem_json_with_a_reason(api):
    key = api.key("models:register", "models:read")
    cases = [
        ("POST", "/api/v1/models/register", {"json": {"model_uri": "x"}}, 422),
        ("POST", "/api/v1/models/register", {"content": b"{not json", "headers": {"content-type": "application/json"}},
         422),
        ("POST", "/api/v1/models/register", {"json": {"model_uri": "runs:/x/m", "model_name": "m", "token_id": "t",
                                                      "metric_name": "acc", "baseline_value": 1, "extra": 1}}, 422),
        ("POST", "/api/v1/models/register", {"content": b"{" + b" " * (2 * 1024 * 1024) + b"}",
                                             "headers": {"content-type": "application/json"}}, 413),
        ("GET", "/api/v1/tokens/Not_A_Token", {}, 422),
        ("GET", "/api/v1/tokens/no-such-token", {}, 404),
        ("GET", "/api/v1/models/no-such-model/1/lineage", {}, 404),
        ("GET", "/api/v1/models/bad:name/x/lineage", {}, 400),
    ]
    for method, path, kwargs, status in cases:
        answer = run(_call(api, method, path, key, **kwargs))
        assert answer.status_code == status, (path, answer.text)
        body = answer.json()
        assert answer.headers["content-type"] == "application/problem+json"
        assert body["status"] == status and body["detail"] and body["type"].startswith("urn:hokusai:problem:")


def test_api_key_cli_create_list_revoke(tmp_path, capsys):
    """Through the installed entry point once (the dispatch), then in-process (fast)."""
    import os

    from hokusai.api.cli import main as api_main
    from hokusai.settings import load_settings

    env = {"HOKUSAI_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    created = subprocess.run([sys.executable, "-c", "from hokusai_assets.cli import main; main()", "api-key", "create",
                              "--name", "ci", "--scopes", "models:read,mlflow:read", "--expires-days", "3"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("hk_") and len(secret.splitlines()) == 1 and secret not in created.stderr
    prefix = secret[:11]

    def hokusai(*args):
        code = api_main(list(args), settings_loader=lambda: load_settings(env))
        out, err = capsys.readouterr()
        return code, out, err

    code, listed, _ = hokusai("api-key", "list")
    assert code == 0 and prefix in listed and "active" in listed and secret not in listed
    assert hokusai("api-key", "revoke", prefix)[0] == 0
    assert "revoked" in hokusai("api-key", "list")[1]
    assert hokusai("api-key", "revoke", "hk_nosuchk")[0] == 2
    code, _, err = hokusai("api-key", "create", "--name", "x", "--scopes", "models:everything")
    assert code == 2 and "unknown scope" in err
