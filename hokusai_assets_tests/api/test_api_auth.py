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


CHEAP = "/api/v1/claims/0x" + "ab" * 32  # an authenticated read that is quick: 404, no such claim


def refused_within_the_cache_bound(api, key: str, path: str = CHEAP):
    """The first answer after a revocation that refuses ``key``: it must come within the stated bound
    (HOKUSAI_API_KEY_CACHE_SECONDS, the key cache's age limit), and every answer after it refuses too."""
    import time

    bound = api.settings.api_key_cache_seconds
    revoked_at = time.monotonic()  # after the revocation, so after the cached row was read
    while True:
        sent = time.monotonic()
        answer = run(_call(api, "GET", path, key))
        if answer.status_code == 401:
            break
        assert answer.status_code in (200, 404), answer.text
        # accepted means the row was read less than `bound` before this request was checked
        assert sent - revoked_at < bound, "a revoked key still works past the bound"
        time.sleep(0.05)
    assert all(run(_call(api, "GET", path, key)).status_code == 401 for _ in range(3))
    return answer


def test_revocation_takes_effect_within_the_cache_bound(api):
    import time

    from hokusai.api.keys import revoke_key

    assert api.settings.api_key_cache_seconds == 2.0  # the documented default bound
    good = api.key("contributors:read")
    cached_after = time.monotonic()
    assert run(_call(api, "GET", CHEAP, good)).status_code == 404  # authenticated; its row now cached
    revoke_key(api.state.engine, good[:11])  # as `hokusai api-key revoke` does, from outside the API
    started = time.monotonic()
    still = run(_call(api, "GET", CHEAP, good)).status_code
    if time.monotonic() - cached_after < 0.9 * 2.0:  # certainly inside the bound: the cache answered
        assert still == 404, "the cache was not used"
    answer = refused_within_the_cache_bound(api, good)
    assert "revoked" in answer.json()["detail"]
    print(f"revocation took effect after {time.monotonic() - started:.2f} s (bound 2 s)")


def test_a_cached_key_still_checks_its_secret_and_its_expiry(tmp_path, shared_cache):
    import time

    long_cache = api_harness(tmp_path, shared_cache, {"HOKUSAI_API_KEY_CACHE_SECONDS": "60"})
    good = long_cache.key("contributors:read")
    assert run(_call(long_cache, "GET", CHEAP, good)).status_code == 404  # authenticated; now cached
    assert good[:11] in {f"hk_{prefix}" for prefix in long_cache.state.key_cache._rows}
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")  # same prefix: the cached row, another secret
    assert run(_call(long_cache, "GET", CHEAP, tampered)).status_code == 401
    soon = long_cache.key("contributors:read", expires_days=4 / 86400)
    expires = time.time() + 4
    assert run(_call(long_cache, "GET", CHEAP, soon)).status_code == 404, "expired before first use"
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    answer = run(_call(long_cache, "GET", CHEAP, soon))  # its row cached seconds ago, expired since
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]


def test_without_the_cache_a_revocation_is_immediate(tmp_path, shared_cache):
    from hokusai.api.keys import revoke_key

    uncached = api_harness(tmp_path, shared_cache, {"HOKUSAI_API_KEY_CACHE_SECONDS": "0"})
    key = uncached.key("contributors:read")
    assert run(_call(uncached, "GET", CHEAP, key)).status_code == 404
    revoke_key(uncached.state.engine, key[:11])
    assert run(_call(uncached, "GET", CHEAP, key)).status_code == 401


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_the_cache_bound_must_be_seconds(tmp_path, shared_cache, value):
    from hokusai_assets_tests.conftest import isolated_settings

    with pytest.raises(ValueError, match=r"HOKUSAI_API_KEY_CACHE_SECONDS must be (a number|0 or more), got"):
        isolated_settings(tmp_path, shared_cache, {"HOKUSAI_API_KEY_CACHE_SECONDS": value})


def test_revoked_expired_malformed_and_unknown_keys(api):
    from hokusai.api.keys import revoke_key

    good = api.key("models:read")
    assert run(_call(api, "GET", "/api/v1/tokens", good)).status_code == 200
    revoke_key(api.state.engine, good.split("_")[0] + "_" + good.split("_")[1])
    answer = refused_within_the_cache_bound(api, good, "/api/v1/tokens")
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
