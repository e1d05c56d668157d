"""Trustworthy claims: significance, commitments, row proofs, the prover document, reproduce, replay."""

import json
from pathlib import Path

import pandas as pd
import pytest

from hokusai.commitments.rows import canonical_row_lines, prove_row, rows_root, verify_row
from hokusai.claims.prover_document import hash_tree_root, validate_zk_document
from hokusai_assets_tests.conftest import SAMPLES, WALLET, checked_mint_request, isolated_settings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "interop"
NOISE_WALLET = "0x00000000000000000000000000000000000000a1"


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    from hokusai_assets.runner import DagsterRunner

    root = tmp_path_factory.mktemp("trust")
    runner = DagsterRunner(isolated_settings(root / "state", root / "cache"))
    outcome = runner.evaluate(SAMPLES / "improving.csv", "digits-demo", WALLET)
    assert outcome.status == "evaluated", outcome.reason
    return runner, outcome, root


def outputs(outcome) -> Path:
    return Path(outcome.files["attestation.json"]).parent


def test_a_real_improvement_is_eligible_with_an_interval_above_zero(state):
    _, outcome, _ = state
    delta = json.loads((outputs(outcome) / "delta_one.json").read_text())
    statistics = delta["delta_computation"]["primary_metric_statistics"]
    assert outcome.eligible and delta["eligibility"]["reason"] == "accepted"
    assert statistics["resamples"] >= 1000 and statistics["ci_low_bps"] > 0
    assert statistics["ci_low_bps"] <= outcome.delta_one_bps <= statistics["ci_high_bps"]
    mint = checked_mint_request(outputs(outcome))["evaluation"]
    assert mint["statistical_method"] == "paired_bootstrap_percentile_v1"
    assert mint["ci_low_bps"] == statistics["ci_low_bps"] and 0 < mint["p_value"] < 0.05


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pure_label_noise_is_never_eligible(state, tmp_path, seed):
    runner, _, _ = state
    import numpy as np

    frame = pd.read_csv(SAMPLES / "improving.csv").sample(frac=1.0, random_state=seed)
    frame["digit"] = np.random.default_rng(seed).integers(0, 10, len(frame))
    path = tmp_path / f"noise-{seed}.csv"
    frame.to_csv(path, index=False)
    outcome = runner.evaluate(path, "digits-demo", NOISE_WALLET)
    assert outcome.status == "evaluated", outcome.reason
    assert outcome.eligible is False
    assert outcome.reason in {"delta_below_threshold", "not_significant"}
    assert outcome.claim is False and not (outputs(outcome) / "mint_request.json").exists()


def test_row_proofs_hold_for_every_row_and_fail_for_a_changed_row():
    frame = pd.read_csv(SAMPLES / "improving.csv").head(13)
    lines = canonical_row_lines(frame)
    root = rows_root(lines)
    for index in range(len(lines)):
        proof = prove_row(lines, index).as_dict()
        assert proof["root"] == root and verify_row(proof)
        proof["row"] = proof["row"].replace(",", ";", 1)
        assert not verify_row(proof)


def test_prove_row_and_verify_from_the_cli(state, capsys):
    from hokusai.cli import main

    _, outcome, _ = state
    folder = outputs(outcome)
    assert main(["prove-row", str(folder), "5"]) == 0
    proof = json.loads(capsys.readouterr().out)
    attested = json.loads((folder / "attestation.json").read_text())["attestation"]["contribution"]["clean_rows_root"]
    assert proof["root"] == attested
    path = folder.parent / "proof.json"
    path.write_text(json.dumps(proof))
    assert main(["verify", str(path), "--root", attested]) == 0
    proof["row"] += "0"
    path.write_text(json.dumps(proof))
    assert main(["verify", str(path)]) == 2
    assert main(["prove-row", str(folder), "100000"]) == 2


def test_our_prover_document_is_valid_and_truthful(state):
    _, outcome, _ = state
    document = json.loads((outputs(outcome) / "zk_output.json").read_text())
    envelope = json.loads((outputs(outcome) / "attestation.json").read_text())
    assert validate_zk_document(document) == []
    assert document["attestation"]["proof_system"] == "ecdsa" and document["attestation"]["proof_ready"] is False
    assert document["attestation"]["hash_tree_root"] == hash_tree_root(envelope["attestation"])
    assert document["attestation"]["verification_key"] == envelope["eip712"]["signer"]


@pytest.mark.parametrize("name, valid", [("valid_zk_output.json", True),
                                         ("valid_zk_output_multiple_contributors.json", True),
                                         ("invalid_example.json", False)])
def test_published_examples_against_the_schema(name, valid):
    problems = validate_zk_document(json.loads((FIXTURES / name).read_text()))
    assert (problems == []) is valid, problems


def test_changing_any_claim_field_changes_the_tree_root(state):
    _, outcome, _ = state
    attestation = json.loads((outputs(outcome) / "attestation.json").read_text())["attestation"]
    root = hash_tree_root(attestation)
    attestation["result"]["delta_one_bps"] += 1
    assert hash_tree_root(attestation) != root


def test_reproduce_from_the_pins_gives_the_same_claim_hash(state, monkeypatch, capsys):
    from hokusai.cli import main

    runner, outcome, _ = state
    monkeypatch.setenv("HOKUSAI_HOME", str(runner.settings.home))
    monkeypatch.setenv("HOKUSAI_CACHE_DIR", str(runner.settings.cache_dir))
    assert main(["reproduce", outcome.partition_key]) == 0, capsys.readouterr().out
    printed = capsys.readouterr().out
    assert "ok   attestation_hash: identical" in printed and "FAIL" not in printed


def test_rematerializing_a_partition_gives_the_same_claim_and_key(state):
    runner, first, _ = state
    mint_first = checked_mint_request(outputs(first))
    again = runner.evaluate(SAMPLES / "improving.csv", "digits-demo", WALLET)
    mint_again = checked_mint_request(outputs(again))
    assert again.partition_key == first.partition_key
    assert again.attestation_hash == first.attestation_hash
    assert mint_again["idempotency_key"] == mint_first["idempotency_key"]
    assert again.model_version == first.model_version  # no twin version for the same claim
