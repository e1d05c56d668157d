"""Schemathesis over the API's own OpenAPI schema, in process (ASGI), with its default checks —
``ignored_auth`` included: every operation that declares security must refuse a request without it.
A few examples per operation keep it fast; derandomized, so every run tries the same cases."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hokusai_assets_tests.api_fixtures import api_harness

# schemathesis parametrizes at import time, so the app is built then, on its own state folder
_ROOT = Path(tempfile.mkdtemp(prefix="hokusai-api-schema-"))
API = api_harness(_ROOT / "home", _ROOT / "cache", {"RATE_LIMIT_REQUESTS": "1000000"})
ADMIN_KEY = API.key("admin", name="schemathesis")
# The default checks, one adjusted: schema-valid input may still get 400 where a rule no JSON Schema
# states decides (an EIP-55 checksum, a registry URI that must exist, a partition key's file type),
# and 409 for a file name already taken. Every other default check, ignored_auth included, as is.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", API.app, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _cleanup(shared_cache):
    """The registry (built on first request) uses the session's MLflow template cache, like the other modules."""
    import dataclasses

    API.state.settings = dataclasses.replace(API.state.settings, cache_dir=shared_cache)
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)


def test_schema_documents_security_and_problem_responses():
    document = API.app.openapi()
    public = {"/api/v1/auth/siwe/nonce", "/api/v1/auth/siwe/verify"}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert ("security" in operation) == (path not in public), path
            if path == "/health":
                assert operation["security"][0] == {}  # optional: no key is fine
            assert "application/problem+json" in operation["responses"]["401"]["content"]


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY}"})
