"""The DSPy demo token through the whole evaluation: Dagster job, attestation, claim, MLflow registry."""

import json
from pathlib import Path

import pytest

from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.conftest import OTHER_WALLET, WALLET, checked_mint_request

pytest.importorskip("dspy")
TOKEN = "topics-dspy-demo"
SAMPLES = REPO_ROOT / "tokens" / TOKEN / "samples"


def test_dspy_token_improving_then_mislabelled(make_runner, monkeypatch, capsys):
    import mlflow

    from hokusai.core.registry import ModelRegistry

    runner = make_runner("dspy")
    improving = runner.evaluate(SAMPLES / "improving.csv", TOKEN, WALLET)
    assert improving.status == "evaluated", improving.reason
    assert improving.eligible and improving.delta_one_bps >= 2000 and improving.champion_moved
    folder = Path(improving.files["attestation.json"]).parent
    checked_mint_request(folder)
    attested = json.loads((folder / "attestation.json").read_text())["attestation"]["data"]["dspy"]
    assert attested["lm"] == {"model": "hokusai-local/nearest-demo", "api_base": None, "temperature": 0.0,
                              "max_tokens": 1000}
    assert attested["program"]["optimizer"] == "LabeledFewShot"
    for role in ("baseline", "candidate"):
        assert attested["usage"][role]["hokusai-local/nearest-demo"]["total_tokens"] > 0
    assert "jane.doe@example.com" not in Path(improving.files["clean_rows.csv"]).read_text()
    delta_one = json.loads((folder / "delta_one.json").read_text())
    assert delta_one["eligibility"]["rule"] == "hokusai-eligibility-v2"

    mislabelled = runner.evaluate(SAMPLES / "mislabelled.jsonl", TOKEN, OTHER_WALLET)
    assert mislabelled.status == "evaluated", mislabelled.reason
    assert not mislabelled.eligible and mislabelled.delta_one_bps <= -1000 and not mislabelled.champion_moved

    registry = ModelRegistry(runner.settings.mlflow_tracking_uri, runner.settings.mlflow_artifact_root)
    version = registry.get_version(f"hokusai-{TOKEN}", improving.model_version)
    assert version.tags["hokusai_token_id"] == TOKEN and version.tags["eligible"] == "true"
    assert version.tags["delta_one_bps"] == str(improving.delta_one_bps)
    run = mlflow.get_run(version.run_id)
    params = " ".join(run.data.params.values())
    assert "peloton" not in params and "courtside" not in params  # no demo text in params (autolog off)
    served = mlflow.pyfunc.load_model(version.model_uri)
    assert served.predict([{"text": "a late dunk and a rebound in the playoffs"}]) == ["sports"]

    # the claim is reproducible from its pins: same candidate commitment, same attestation hash
    from hokusai.cli import main

    monkeypatch.setenv("HOKUSAI_HOME", str(runner.settings.home))
    monkeypatch.setenv("HOKUSAI_CACHE_DIR", str(runner.settings.cache_dir))
    capsys.readouterr()
    assert main(["reproduce", improving.partition_key]) == 0
    out = capsys.readouterr().out
    assert "ok   candidate_commitment: identical" in out and "ok   attestation_hash: identical" in out


def test_dry_run_of_the_dspy_token(tmp_path, shared_cache, monkeypatch, capsys):
    from hokusai.cli import main
    from hokusai_assets.runner import DagsterRunner

    monkeypatch.setenv("HOKUSAI_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOKUSAI_CACHE_DIR", str(shared_cache))
    code = main(["evaluate", "--dry-run", "--token", TOKEN, "--json", "--output-dir", str(tmp_path / "out")],
                runner_factory=lambda settings, ephemeral: DagsterRunner(settings, ephemeral=ephemeral))
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["status"] == "evaluated" and summary["eligible"]
    assert summary["delta_one_bps"] >= 2000
    checked_mint_request(tmp_path / "out")
