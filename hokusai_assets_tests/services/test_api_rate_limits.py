"""Rate limits: exactly N per window across two API processes sharing a real redis-server under
concurrent load; 429 with Retry-After and RateLimit headers; Redis stopped gives 503 (fails closed);
the in-process backend per key, per IP for unauthenticated routes, and the proxy's own bucket."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from hokusai.api.app import build_state
from hokusai.api.keys import create_key
from hokusai_assets_tests.api_fixtures import api_harness, run, start_api_server
from hokusai_assets_tests.conftest import isolated_settings
from hokusai.harness.servers import redis_server

LIMIT = 25
REQUESTS = 80


async def _burst(urls: list[str], key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=40)) as client:
        return await asyncio.gather(*(
            client.get(f"{urls[i % len(urls)]}/api/v1/contributions/digits-demo/"
                       "0x00000000000000000000000000000000000d1617/a.csv@abc",
                       headers={"Authorization": f"Bearer {key}"}) for i in range(count)))


def test_exactly_n_across_two_processes_on_redis_then_fail_closed(tmp_path, shared_cache):
    with redis_server(tmp_path / "redis") as redis:
        env = {"HOKUSAI_HOME": str(tmp_path / "home"), "HOKUSAI_CACHE_DIR": str(shared_cache),
               "HOKUSAI_API_REDIS_URL": redis.url, "RATE_LIMIT_REQUESTS": str(LIMIT), "RATE_LIMIT_PERIOD": "60"}
        state = build_state(isolated_settings(tmp_path / "home", shared_cache, {"HOKUSAI_API_REDIS_URL": redis.url}))
        key = create_key(state.engine, state.pepper, "load", "contributors:read")[0]
        servers = [start_api_server(env, tmp_path / f"api-{n}.log", timeout=180) for n in range(2)]
        try:
            answers = run(_burst([s.url for s in servers], key, REQUESTS))
            statuses = [a.status_code for a in answers]
            # 404: the contribution does not exist, but the request was let through and counted
            assert statuses.count(404) == LIMIT and statuses.count(429) == REQUESTS - LIMIT, statuses
            refused = next(a for a in answers if a.status_code == 429)
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["ratelimit-limit"] == str(LIMIT) and refused.headers["ratelimit-remaining"] == "0"
            assert refused.headers["content-type"] == "application/problem+json"
            allowed = next(a for a in answers if a.status_code == 404)
            assert allowed.headers["ratelimit-policy"] == f"{LIMIT};w=60"
            # both processes served requests and counted into the same window
            per_server = {s.url: 0 for s in servers}
            for index, answer in enumerate(answers):
                per_server[servers[index % 2].url] += answer.status_code == 404
            assert all(count > 0 for count in per_server.values()), per_server
            redis.stop()
            down = httpx.get(f"{servers[0].url}/api/v1/claims/0x" + "ab" * 32, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            assert down.status_code == 503 and "retry-after" in down.headers, down.text
            assert "rate limiting is unavailable" in down.json()["detail"]
            assert redis.password not in down.text
            health = httpx.get(f"{servers[1].url}/health", timeout=30)
            assert health.status_code == 503
        finally:
            for server in servers:
                server.stop()


@pytest.fixture
def small(tmp_path, shared_cache):
    return api_harness(tmp_path, shared_cache, {"RATE_LIMIT_REQUESTS": "5", "RATE_LIMIT_PERIOD": "60",
                                                "RATE_LIMIT_MLFLOW_REQUESTS": "8"})


def test_in_process_limits_per_key_per_ip_and_the_proxy_bucket(small):
    first, second = small.key("contributors:read", "mlflow:read"), small.key("contributors:read")

    async def scenario():
        path = "/api/v1/claims/0x" + "cd" * 32
        async with small.client(first) as a, small.client(second) as b, small.client() as anonymous:
            first_answers = [(await a.get(path)).status_code for _ in range(7)]
            second_answers = [(await b.get(path)).status_code for _ in range(2)]
            proxy = [(await a.get("/api/mlflow/api/2.0/mlflow/experiments/search")).status_code for _ in range(9)]
            nonces = [(await anonymous.post("/api/v1/auth/siwe/nonce")).status_code for _ in range(6)]
            bad_keys = [(await anonymous.get(path, headers={"Authorization": "Bearer hk_guess"})).status_code
                        for _ in range(2)]
        return first_answers, second_answers, proxy, nonces, bad_keys

    first_answers, second_answers, proxy, nonces, bad_keys = run(scenario())
    assert first_answers == [404] * 5 + [429] * 2  # the key's own bucket
    assert second_answers == [404] * 2  # another key is not affected
    assert proxy == [503] * 8 + [429]  # the proxy's bucket (503: no MLflow server configured here)
    assert nonces == [200] * 5 + [429]  # per client IP on an unauthenticated route
    assert bad_keys == [429, 429]  # failed attempts count against the same IP bucket
