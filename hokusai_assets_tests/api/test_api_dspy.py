"""``POST /api/v1/dspy/execute``: the programs of ``HOKUSAI_DSPY_PROGRAMS_DIR`` on the local LM, one call
or a batch, each failure a problem+json with the status ``hokusai.dspy.service`` gives it."""

from __future__ import annotations

import shutil

import pytest

from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.api_fixtures import api_harness, run

EMAIL = {"recipient": "Ana", "subject": "launch", "key_points": "the date moved", "tone": "warm"}


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_cache):
    programs = tmp_path_factory.mktemp("dspy-programs")
    shutil.copytree(REPO_ROOT / "examples" / "dspy", programs, dirs_exist_ok=True)
    return api_harness(tmp_path_factory.mktemp("api-dspy"), shared_cache,
                       {"HOKUSAI_DSPY_PROGRAMS_DIR": str(programs), "RATE_LIMIT_REQUESTS": "100000"})


def execute(api, body, token=None):
    async def call():
        async with api.client(token or api.key("dspy:execute")) as client:
            return await client.post("/api/v1/dspy/execute", json=body)

    return run(call())


def test_one_call_and_a_batch_of_a_served_program(api):
    one = execute(api, {"model_id": "email-assistant-v1", "inputs": EMAIL})
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["success"] and set(body["outputs"]) == {"email"} and body["usage"]
    batch = execute(api, {"model_id": "email-assistant-v1", "inputs_list": [EMAIL, {"recipient": "Bo"}]})
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [item["success"] for item in results] == [True, False]
    assert "subject" in results[1]["error"]["message"]


@pytest.mark.parametrize("body,status,words", [
    ({"model_id": "no-such-program", "inputs": EMAIL}, 404, "no-such-program"),
    ({"model_id": "email-assistant-v1", "inputs": {"recipient": "Ana"}}, 422, "subject"),
    ({"model_id": "email-assistant-v1", "inputs": EMAIL, "inputs_list": [EMAIL]}, 400, "exactly one"),
    ({"model_id": "email-assistant-v1"}, 400, "exactly one"),
    ({"model_id": "email-assistant-v1", "inputs": EMAIL, "shell": "rm -rf /"}, 422, "shell"),
    ({"model_id": "email-assistant-v1", "inputs": EMAIL, "timeout_seconds": 0}, 422, "timeout_seconds"),
])
def test_bad_requests_are_problems_with_a_reason(api, body, status, words):
    answer = execute(api, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.text


def test_a_config_that_does_not_load_is_a_503_naming_its_file(tmp_path, shared_cache):
    programs = tmp_path / "programs"
    programs.mkdir()
    (programs / "broken.yaml").write_text("name: broken\nsource: {type: local, path: missing.py, class_name: X}\n")
    api = api_harness(tmp_path / "api", shared_cache, {"HOKUSAI_DSPY_PROGRAMS_DIR": str(programs)})
    answer = execute(api, {"model_id": "broken", "inputs": {}})
    assert answer.status_code == 503 and "broken" in answer.json()["detail"]
