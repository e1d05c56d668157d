"""CORS: exactly the origins of HOKUSAI_API_CORS_ORIGINS, no wildcard, no credentials, none by default.

A preflight from a listed origin is answered with that origin; any other origin gets no CORS header
(a browser then keeps the answer from the page). The settings refuse a wildcard or a non-origin.
"""

from __future__ import annotations

import pytest

from hokusai_assets_tests.api_fixtures import api_harness, run
from hokusai_assets_tests.conftest import isolated_settings

ALLOWED = "https://app.hokusai.example"


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_cache):
    return api_harness(tmp_path_factory.mktemp("api-cors"), shared_cache,
                       {"HOKUSAI_API_CORS_ORIGINS": f"{ALLOWED}, http://127.0.0.1:3000"})


@pytest.fixture(scope="module")
def closed_api(tmp_path_factory, shared_cache):
    return api_harness(tmp_path_factory.mktemp("api-no-cors"), shared_cache)


def _preflight(api, origin: str, path: str = "/api/v1/tokens", method: str = "GET"):
    async def send():
        async with api.client() as client:
            return await client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                       "Access-Control-Request-Headers": "authorization"})
    return run(send())


def _get(api, token: str | None, origin: str, path: str = "/api/v1/tokens"):
    async def send():
        async with api.client(token) as client:
            return await client.get(path, headers={"Origin": origin})
    return run(send())


def test_a_listed_origin_passes_the_preflight_and_reads_answers(api):
    for origin in (ALLOWED, "http://127.0.0.1:3000"):
        answer = _preflight(api, origin)
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == origin
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in answer.headers
    # the proxy's writes and the upload are preflighted the same way
    assert _preflight(api, ALLOWED, "/api/mlflow/api/2.0/mlflow/experiments/create", "POST").status_code == 200
    answer = _get(api, api.key("models:read"), ALLOWED)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "ratelimit-remaining" in answer.headers["access-control-expose-headers"].lower()
    refused = _get(api, None, ALLOWED)  # an error answer carries CORS too: the page can read why
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.hokusai.example.evil.example",
                                    "http://app.hokusai.example", "https://app.hokusai.example:8443", "null"])
def test_any_other_origin_is_refused(api, origin):
    answer = _preflight(api, origin)
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    simple = _get(api, api.key("models:read"), origin)
    assert "access-control-allow-origin" not in simple.headers


def test_no_origin_is_allowed_by_default(closed_api):
    assert closed_api.settings.api_cors_origins == ()
    answer = _preflight(closed_api, ALLOWED)
    assert answer.status_code == 405 and "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in _get(closed_api, closed_api.key("models:read"), ALLOWED).headers


@pytest.mark.parametrize("value,words", [
    ("*", "wildcards are not allowed"),
    ("https://*.hokusai.example", "wildcards are not allowed"),
    ("https://app.hokusai.example/", "not an origin"),
    ("https://app.hokusai.example/path", "not an origin"),
    ("app.hokusai.example", "not an origin"),
    ("ftp://app.hokusai.example", "not an origin"),
])
def test_the_setting_takes_exact_origins_only(tmp_path, shared_cache, value, words):
    with pytest.raises(ValueError, match=words):
        isolated_settings(tmp_path, shared_cache, {"HOKUSAI_API_CORS_ORIGINS": value})


def test_origins_are_compared_as_browsers_send_them(tmp_path, shared_cache):
    settings = isolated_settings(tmp_path, shared_cache,
                                 {"HOKUSAI_API_CORS_ORIGINS": "HTTPS://App.Hokusai.Example,https://app.hokusai.example"})
    assert settings.api_cors_origins == (ALLOWED,)
