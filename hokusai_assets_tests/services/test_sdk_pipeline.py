"""The SDK reads what the pipeline registered: the pipeline runs in-process against the real MLflow server.

Also the README's REST example: its curl commands, run as written against that server.
"""

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytest.register_assert_rewrite("hokusai_assets_tests.sdk_fixtures")

from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.conftest import SAMPLES, WALLET
from hokusai_assets_tests.sdk_fixtures import random_wallet

pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]

MODEL = "hokusai-digits-demo"
README_SECTION = "## The Python SDK and REST"


def test_lineage_of_versions_the_pipeline_registered(pipeline_on_server, server_registry):
    improving = pipeline_on_server
    lineage = server_registry.get_model_lineage(MODEL)
    assert [step["version"] for step in lineage["versions"]] == [1, 2]
    assert lineage["token_id"] == "digits-demo"
    baseline, contribution = lineage["versions"]
    assert baseline["role"] == "baseline" and baseline["contributor_address"] is None
    assert set(baseline["metrics"]) == {"accuracy", "precision", "recall", "f1_score", "auroc"}  # as first measured
    assert set(contribution["metrics"]) == set(baseline["metrics"])  # its own scores only, not its baseline's
    assert contribution["role"] == "improvement" and contribution["baseline_version"] == 1
    assert (contribution["contributor_address"], contribution["delta_one_bps"], contribution["eligible"]) == (
        WALLET, improving.delta_one_bps, True)
    assert contribution["data_hash"] == hashlib.sha256((SAMPLES / "improving.csv").read_bytes()).hexdigest()
    assert contribution["metrics"]["accuracy"] == contribution["benchmark_value"]
    assert contribution["metrics"]["accuracy"] - baseline["metrics"]["accuracy"] == pytest.approx(
        improving.delta_one_bps / 10000, abs=1e-4)
    assert lineage["champion_version"] == 2 and "champion" in contribution["aliases"]
    assert lineage["total_delta_one_bps"] == improving.delta_one_bps and lineage["contributors"] == [WALLET]


def test_impact_and_token_listing_of_pipeline_contributions(pipeline_on_server, server_registry):
    improving = pipeline_on_server
    impact = server_registry.get_contributor_impact(WALLET)
    assert (impact["total_contributions"], impact["accepted_contributions"]) == (1, 1)
    assert impact["total_delta_one_bps"] == improving.delta_one_bps and impact["tokens"] == ["digits-demo"]
    assert impact["models"][0]["model_name"] == MODEL and impact["models"][0]["versions"] == [2]
    listed = server_registry.list_models_by_token("digits-demo")
    assert [m["model_id"] for m in listed] == [f"{MODEL}/1", f"{MODEL}/2"]
    champion = server_registry.get_tokenized_model(MODEL, 2)
    assert champion["metric_name"] == "accuracy" and champion["tags"]["attestation_hash"] == improving.attestation_hash


def test_sdk_documents_have_the_pipelines_shape(pipeline_on_server):
    """PerformanceTracker fed what the pipeline measured gives the pipeline's verdict, in the same layout."""
    from hokusai.tracking import PerformanceTracker

    improving = pipeline_on_server
    folder = Path(improving.files["attestation.json"]).parent
    pipeline_delta = json.loads((folder / "delta_one.json").read_text())
    pipeline_attestation = json.loads((folder / "attestation.json").read_text())["attestation"]
    table = pipeline_delta["delta_computation"]["metric_deltas"]
    evaluation, attribution = pipeline_delta["evaluation_metadata"], pipeline_delta["contributor_attribution"]
    token = pipeline_attestation["token"]
    delta, attestation = PerformanceTracker().track_improvement(
        {m: row["baseline_value"] for m, row in table.items()}, {m: row["new_value"] for m, row in table.items()},
        {**{k: v for k, v in evaluation.items()}, **token,
         "contributor_address": attribution["wallet_address"], "data_hash": attribution["data_hash"],
         "contributed_samples": attribution["contributed_samples"], "total_samples": attribution["total_samples"],
         "partition_key": attribution["data_manifest"]["partition_key"],
         "clean_rows_sha256": attribution["data_manifest"]["clean_rows_sha256"],
         "clean_rows_root": attribution["data_manifest"].get("clean_rows_root"),
         "baseline_model": pipeline_delta["baseline_model"],
         "candidate_weights_commitment": pipeline_delta["new_model"]["weights_commitment"],
         "training_sha256": pipeline_delta["new_model"]["training_sha256"],
         "min_improvement_bps": pipeline_delta["eligibility"]["min_improvement_bps"],
         "min_samples": pipeline_delta["eligibility"].get("min_samples"),
         "significance": pipeline_delta["delta_computation"].get("primary_metric_statistics"),
         "primary_metric": pipeline_delta["delta_computation"]["primary_metric"]})
    assert delta["delta_computation"] == pipeline_delta["delta_computation"]
    # The SDK is given metrics, not training sets: it cannot refit over seeds, so its verdict is the
    # single-fit rule v1; the pipeline's is v2 (docs/eligibility.md). Everything else is the same.
    seed_robust = {"rule", "seed_robust"}
    assert {k: v for k, v in delta["eligibility"].items() if k not in seed_robust} == {
        k: v for k, v in pipeline_delta["eligibility"].items() if k not in seed_robust}
    assert delta["eligibility"]["rule"] == "hokusai-eligibility-v1"
    assert pipeline_delta["eligibility"]["rule"] == "hokusai-eligibility-v2"
    assert _shape(delta, skip={"data_manifest", "eligibility"}) == _shape(pipeline_delta,
                                                                         skip={"data_manifest", "eligibility"})
    assert _shape(attestation) == _shape(pipeline_attestation)
    for section in ("eval_id", "token", "contribution", "baseline_model", "candidate_model"):
        assert attestation[section] == pipeline_attestation[section], section
    result = {k: v for k, v in attestation["result"].items() if k != "delta_one_sha256"}
    assert result == {k: v for k, v in pipeline_attestation["result"].items() if k != "delta_one_sha256"}


def _shape(document, skip=frozenset()):
    """The nested key structure of a JSON document (values and list items left out)."""
    if not isinstance(document, dict):
        return None
    return {key: (None if key in skip else _shape(value, skip)) for key, value in document.items()}


def test_sdk_improvement_on_a_pipeline_champion_joins_its_lineage(pipeline_on_server, server_registry):
    champion = server_registry.get_version(MODEL, 2)
    wallet = random_wallet()
    registered = server_registry.register_improved_model(
        f"{MODEL}/2", champion.model_uri, wallet,
        {"data_hash": "ab" * 32, "metrics": {"accuracy": float(champion.tags["benchmark_value"]) - 0.001}})
    try:
        assert registered["model_name"] == MODEL and registered["baseline_version"] == 2
        assert registered["eligible"] is False and registered["alias"] == "candidate"
        assert registered["delta_one_bps"] == -10 and registered["eligibility_reason"] == "delta_below_threshold"
        lineage = server_registry.get_model_lineage(registered["model_id"])
        assert [s["version"] for s in lineage["versions"]] == [1, 2, registered["version"]]
        assert lineage["versions"][-1]["contributor_address"] == wallet and lineage["champion_version"] == 2
    finally:  # leave the token as the pipeline left it (the README example reads it)
        server_registry.client.delete_model_version(MODEL, str(registered["version"]))


def readme_curl_commands() -> list[str]:
    """The curl commands of the README's SDK section, continuation lines joined."""
    text = (REPO_ROOT / "README.md").read_text()
    assert README_SECTION in text, f"README.md has no '{README_SECTION}' section"
    section = text.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        if "curl" not in block:
            continue
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip().startswith("curl"):
                commands.append(command.strip())
    return commands


def test_readme_rest_example_runs_against_the_server(pipeline_on_server, mlflow_server):
    improving = pipeline_on_server
    commands = readme_curl_commands()
    assert len(commands) == 3, commands
    answers = []
    for command in commands:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url})
        assert done.returncode == 0, done.stderr
        answers.append(json.loads(done.stdout))
    champion, by_token, by_wallet = answers
    tags = {tag["key"]: tag["value"] for tag in champion["model_version"]["tags"]}
    assert champion["model_version"]["version"] == "2"
    assert tags["contributor_wallet"] == WALLET and tags["delta_one_bps"] == str(improving.delta_one_bps)
    assert sorted(int(v["version"]) for v in by_token["model_versions"]) == [1, 2]
    assert [(v["name"], v["version"]) for v in by_wallet["model_versions"]] == [(MODEL, "2")]
