"""The whole graph on embedded defaults: real training, real MLflow store, real signatures."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey

from hokusai.core.registry import CHAMPION_ALIAS, ModelRegistry
from hokusai.claims.verify import verify_outputs
from hokusai_assets_tests.conftest import OTHER_WALLET, SAMPLES, WALLET, checked_mint_request

IMPROVING = SAMPLES / "improving.csv"
LABEL_NOISE = SAMPLES / "label-noise.csv"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """One state folder where the improving and then the label-noise sample are evaluated."""
    from hokusai_assets.runner import DagsterRunner
    from hokusai_assets_tests.conftest import isolated_settings

    root = tmp_path_factory.mktemp("e2e")
    runner = DagsterRunner(isolated_settings(root / "state", root / "cache"))
    improving = runner.evaluate(IMPROVING, "digits-demo", WALLET)
    noise = runner.evaluate(LABEL_NOISE, "digits-demo", OTHER_WALLET)
    return runner, improving, noise


def registry_of(runner):
    settings = runner.settings
    return ModelRegistry(settings.mlflow_tracking_uri, settings.mlflow_artifact_root)


def test_improving_contribution_is_eligible_and_becomes_champion(evaluated):
    runner, improving, _ = evaluated
    assert improving.status == "evaluated", improving.reason
    assert improving.delta_one_bps >= 100
    assert improving.eligible is True and improving.reason == "accepted"
    assert improving.champion_moved is True and improving.model_version == 2
    champion = registry_of(runner).get_alias("hokusai-digits-demo", CHAMPION_ALIAS)
    assert champion.version == 2
    assert champion.tags["hokusai_token_id"] == "digits-demo"
    assert champion.tags["benchmark_metric"] == "accuracy"
    assert 0.0 < float(champion.tags["benchmark_value"]) <= 1.0
    assert champion.tags["contributor_wallet"] == WALLET
    assert champion.tags["delta_one_bps"] == str(improving.delta_one_bps)
    assert champion.tags["data_hash"] == hashlib.sha256(IMPROVING.read_bytes()).hexdigest()
    assert champion.weights_commitment.startswith("0x") and len(champion.weights_commitment) == 66


def test_label_noise_is_not_eligible_and_champion_stays(evaluated):
    runner, improving, noise = evaluated
    assert noise.status == "evaluated", noise.reason
    assert noise.delta_one_bps < 100
    assert noise.eligible is False and noise.reason == "delta_below_threshold"
    assert noise.champion_moved is False and noise.model_version == 3
    registry = registry_of(runner)
    assert registry.get_alias("hokusai-digits-demo", CHAMPION_ALIAS).version == 2
    assert registry.get_alias("hokusai-digits-demo", "candidate").version == 3


def test_only_the_eligible_contribution_has_a_claim(evaluated):
    _, improving, noise = evaluated
    claimed = Path(improving.files["attestation.json"]).parent
    assert improving.claim is True and improving.signer
    assert checked_mint_request(claimed)["idempotency_key"].startswith("0x")
    assert (claimed / "zk_output.json").exists()
    unclaimed = Path(noise.files["attestation.json"]).parent
    assert noise.claim is False and noise.claim_reason == "not eligible (delta_below_threshold)"
    assert noise.signer is None
    assert sorted(p.name for p in unclaimed.glob("*.json")) == ["attestation.json", "delta_one.json"]
    assert set(noise.files) == {"attestation.json", "delta_one.json", "clean_rows.csv"}
    envelope = json.loads((unclaimed / "attestation.json").read_text())
    assert "eip712" not in envelope and envelope["claim"] == {
        "claim": False, "reason": "not eligible (delta_below_threshold)", "rebase": False, "chain_position": None}
    checks = verify_outputs(unclaimed)
    assert all(check.passed for check in checks), checks
    assert {c.name for c in checks} == {"attestation_hash", "attestation_figures", "delta_one_sha256",
                                        "delta_one_figures", "claim_block", "claim"}
    assert [c.detail for c in checks if c.name == "claim"] == [
        "no claim: not eligible (delta_below_threshold); nothing was signed (unsigned evidence: compare "
        "attestation_hash with the one the platform published)"]
    # the verifier pins the token's published benchmark commitment: the demo's, and then another one
    demo_root = "0xbc339a550b2a8a1776fa1921295748db73480a93f56eeb3a55b0dba7a02d601a"
    assert all(c.passed for c in verify_outputs(unclaimed, expected_benchmark_root=demo_root))
    [wrong] = [c for c in verify_outputs(unclaimed, expected_benchmark_root="0x" + "11" * 32) if not c.passed]
    assert wrong.name == "benchmark_rows_root" and wrong.detail.startswith(f"attested {demo_root}, required 0x1111")


def test_on_the_embedded_default_the_claim_settles_locally_and_only_the_claim_is_in_the_outbox(evaluated):
    from hokusai.settlement.database import ledger_engine
    from hokusai.settlement.outbox import list_claims
    from hokusai.settlement.relay import NO_RELAYER_NOTE

    runner, improving, noise = evaluated
    assert (improving.claim_status, improving.claim_note) == ("minted", NO_RELAYER_NOTE)
    assert noise.claim_status is None
    [row] = list_claims(ledger_engine(runner.settings.ledger_database_url))
    message = checked_mint_request(Path(improving.files["mint_request.json"]).parent)
    assert row.idempotency_key == message["idempotency_key"] and row.partition_key == improving.partition_key
    assert (row.status, row.settled_by, row.attempt) == ("minted", "local", 1)
    assert json.loads(row.message)["attestation_hash"] == improving.attestation_hash


def test_the_first_baseline_says_what_governance_seeds(evaluated):
    runner, improving, noise = evaluated
    baseline = json.loads(Path(improving.files["delta_one.json"]).read_text())["baseline_model"]
    assert baseline["version"] == 1
    assert improving.weight_genesis == f"ModelRegistry.setWeightGenesis(1001, {baseline['weights_commitment']})"
    genesis = json.loads((runner.settings.outputs_dir / "digits-demo" / "genesis.json").read_text())
    assert genesis["weights_commitment"] == baseline["weights_commitment"] and genesis["baseline_version"] == 1
    assert noise.weight_genesis is None  # judged against v2: not the first baseline


def test_a_mint_request_beside_an_ineligible_attestation_fails_verification(evaluated, tmp_path):
    _, improving, noise = evaluated
    unclaimed = Path(noise.files["attestation.json"]).parent
    for name in ("attestation.json", "delta_one.json"):
        (tmp_path / name).write_bytes((unclaimed / name).read_bytes())
    (tmp_path / "mint_request.json").write_bytes(Path(improving.files["mint_request.json"]).read_bytes())
    failed = {check.name for check in verify_outputs(tmp_path) if not check.passed}
    assert "claim" in failed


def test_mlflow_has_one_experiment_per_token_and_one_run_per_partition(evaluated):
    runner, improving, noise = evaluated
    registry = registry_of(runner)
    experiment = registry.client.get_experiment_by_name("hokusai-digits-demo")
    runs = registry.client.search_runs([experiment.experiment_id], "tags.hokusai_role = 'candidate'")
    by_partition = {run.data.tags["hokusai_partition"]: run for run in runs}
    assert set(by_partition) == {improving.partition_key, noise.partition_key}
    run = by_partition[improving.partition_key].data
    assert run.params["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert run.params["merge_strategy"] == "append"
    assert run.metrics["model/delta_one_bps"] == improving.delta_one_bps
    assert {"model/accuracy", "model/baseline.auroc", "model/f1_score", "model/baseline.f1_score"} <= set(run.metrics)
    assert run.metrics["model/accuracy"] - run.metrics["model/baseline.accuracy"] == pytest.approx(
        improving.delta_one_bps / 10_000, abs=1e-4)


def own_attester(runner) -> str:
    from hokusai.claims.attester_keys import configured_attester_address

    return configured_attester_address(runner.settings.home, {})[0]


def test_outputs_verify_and_a_tampered_copy_does_not(evaluated, tmp_path):
    runner, improving, _ = evaluated
    folder = Path(improving.files["attestation.json"]).parent
    checks = verify_outputs(folder, own_attester(runner))
    assert all(check.passed for check in checks), checks
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in ("attestation.json", "mint_request.json", "delta_one.json"):
        (tampered / name).write_bytes((folder / name).read_bytes())
    mint_request = checked_mint_request(tampered)
    mint_request["evaluation"]["new_score_bps"] += 1
    (tampered / "mint_request.json").write_text(json.dumps(mint_request))
    failed = {check.name for check in verify_outputs(tampered, own_attester(runner)) if not check.passed}
    assert {"eip712_digest", "signature[0]"} <= failed


FORGER_KEY = "0x" + "5a" * 32


def rehash(folder: Path, attestation_edit=None, delta_one_edit=None, mint_edit=None, sign_with=None) -> None:
    """Edit the documents and make every hash, key and digest agree again, as a forger would."""
    from hokusai.claims.eip712 import idempotency_key, mint_request_digest, sign_mint_request
    from hokusai.rules.attestation import attestation_hash
    from hokusai.rules.canonical import canonical_hash

    envelope = json.loads((folder / "attestation.json").read_text())
    attestation = envelope["attestation"]
    if delta_one_edit:
        delta_one = json.loads((folder / "delta_one.json").read_text())
        delta_one_edit(delta_one)
        (folder / "delta_one.json").write_text(json.dumps(delta_one))
        attestation["result"]["delta_one_sha256"] = canonical_hash(delta_one)
    if attestation_edit:
        attestation_edit(attestation)
    envelope["attestation_hash"] = attestation_hash(attestation)
    mint = json.loads((folder / "mint_request.json").read_text())
    mint["attestation_hash"] = envelope["attestation_hash"]
    mint["idempotency_key"] = idempotency_key(mint["model_id_uint"], envelope["attestation_hash"])
    if mint_edit:
        mint_edit(mint)
    eip712 = envelope["eip712"]
    if sign_with:
        from hokusai.claims.attester_keys import _address_of

        mint["attester_signatures"] = [sign_mint_request(mint, eip712["chain_id"], eip712["verifying_contract"],
                                                         sign_with)]
        eip712["signer"] = _address_of(sign_with)
    eip712["digest"] = mint_request_digest(mint, eip712["chain_id"], eip712["verifying_contract"])
    (folder / "attestation.json").write_text(json.dumps(envelope))
    (folder / "mint_request.json").write_text(json.dumps(mint))


def copy_outputs(improving, into: Path) -> Path:
    folder = Path(improving.files["attestation.json"]).parent
    into.mkdir()
    for name in ("attestation.json", "mint_request.json", "delta_one.json"):
        (into / name).write_bytes((folder / name).read_bytes())
    return into


def set_in(path: str, value):
    def edit(document):
        *parents, last = path.split(".")
        for key in parents:
            document = document[key][0] if key == "contributors" else document[key]
        document[last] = value
    return edit


def dev_key(runner) -> str:
    return json.loads((runner.settings.home / "keys" / "dev_attester.json").read_text())["private_key_hex"]


OTHER = "0x" + "77" * 20
# (id, what the forger does, the checks that must fail); "DEV" signs with the platform's own key:
# a bug, or an insider, that only the cross-checks can catch
FORGERIES = [
    ("pay_another_wallet_signed_by_forger", dict(mint_edit=set_in("contributors.wallet_address", OTHER),
                                                 sign_with=FORGER_KEY), {"signature[0]", "mint_request_fields"}),
    ("pay_another_wallet_signed_by_the_platform", dict(mint_edit=set_in("contributors.wallet_address", OTHER),
                                                       sign_with="DEV"), {"mint_request_fields"}),
    ("bigger_score_in_both_documents", dict(
        attestation_edit=set_in("result.new_score_bps", 9900), mint_edit=set_in("evaluation.new_score_bps", 9900),
        sign_with="DEV"), {"attestation_figures", "delta_one_figures"}),
    ("impossible_interval", dict(attestation_edit=set_in("result.statistics.ci_low_bps", 9999), sign_with="DEV"),
     {"attestation_figures", "delta_one_figures"}),
    ("verdict_that_does_not_follow", dict(
        delta_one_edit=set_in("eligibility.seed_robust.ci_low_bps", 20.0), sign_with="DEV"), {"delta_one_figures"}),
    ("another_submission", dict(mint_edit=set_in("contributors.submissionId", "digits-demo/x/y.csv@1"),
                                sign_with="DEV"), {"mint_request_fields"}),
    ("another_candidate", dict(mint_edit=set_in("candidate_commitment", "0x" + "ab" * 32), sign_with="DEV"),
     {"mint_request_fields"}),
]


@pytest.mark.parametrize("name, forgery, expected", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_a_forged_claim_fails_verification(evaluated, tmp_path, name, forgery, expected):
    runner, improving, _ = evaluated
    folder = copy_outputs(improving, tmp_path / name)
    if forgery.get("sign_with") == "DEV":
        forgery = {**forgery, "sign_with": dev_key(runner)}
    rehash(folder, **forgery)
    checks = verify_outputs(folder, own_attester(runner))
    failed = {check.name for check in checks if not check.passed}
    assert expected <= failed, checks
    assert "attestation_hash" not in failed and "eip712_digest" not in failed  # every hash was made to agree


def test_a_claim_verifies_only_against_a_pinned_signer(evaluated, tmp_path):
    """The signer an envelope names is the forger's to write: without a pinned one, a signature fails."""
    runner, improving, _ = evaluated
    folder = copy_outputs(improving, tmp_path / "forged")
    rehash(folder, sign_with=FORGER_KEY)
    unpinned = {c.name: c for c in verify_outputs(folder)}
    assert not unpinned["signature[0]"].passed and "no signer is pinned" in unpinned["signature[0]"].detail
    genuine = {c.name: c for c in verify_outputs(copy_outputs(improving, tmp_path / "genuine"))}
    assert not genuine["signature[0]"].passed  # the genuine claim too: nothing is trusted as written
    pinned = {c.name: c for c in verify_outputs(folder, own_attester(runner))}
    assert not pinned["signature[0]"].passed


def test_a_missing_delta_one_and_a_wrong_claim_block_fail(evaluated, tmp_path):
    runner, improving, _ = evaluated
    folder = copy_outputs(improving, tmp_path / "no-delta")
    (folder / "delta_one.json").unlink()
    checks = {c.name: c for c in verify_outputs(folder, own_attester(runner))}
    assert not checks["delta_one_sha256"].passed and "delta_one.json is missing" in checks["delta_one_sha256"].detail
    folder = copy_outputs(improving, tmp_path / "moved")
    envelope = json.loads((folder / "attestation.json").read_text())
    envelope["claim"]["chain_position"] = 7
    (folder / "attestation.json").write_text(json.dumps(envelope))
    checks = {c.name: c for c in verify_outputs(folder, own_attester(runner))}
    assert not checks["claim_block"].passed and "chain position 7" in checks["claim_block"].detail
    envelope["claim"] = {**envelope["claim"], "chain_position": 1, "reason": "whatever the platform said"}
    (folder / "attestation.json").write_text(json.dumps(envelope))
    checks = {c.name: c for c in verify_outputs(folder, own_attester(runner))}
    assert checks["claim_block"].passed and "not covered by any hash" in checks["claim_block"].detail


def test_assets_carry_metadata_for_the_ui(evaluated):
    runner, improving, _ = evaluated
    instance = runner.instance
    def metadata(asset):
        event = instance.get_latest_materialization_event(AssetKey(asset))
        return event.asset_materialization.metadata
    assert metadata("contributed_dataset")["dagster/row_count"].value > 0
    assert len(metadata("contributed_dataset")["sha256"].value) == 64
    assert "| accuracy |" in metadata("delta_one")["metric_table"].value
    assert metadata("new_model")["mlflow_run_id"].value
    assert metadata("attestation")["attestation_hash"].value.startswith("0x")
    assert metadata("attestation")["claim"].value == "no claim: not eligible (delta_below_threshold)"


def test_same_contribution_from_same_state_hashes_the_same(make_runner):
    first = make_runner("first").evaluate(IMPROVING, "digits-demo", WALLET)
    second = make_runner("second").evaluate(IMPROVING, "digits-demo", WALLET)
    assert first.status == second.status == "evaluated"
    assert first.delta_one_bps == second.delta_one_bps
    assert first.attestation_hash == second.attestation_hash
    for name in ("delta_one.json",):
        assert Path(first.files[name]).read_bytes() == Path(second.files[name]).read_bytes()


def test_missing_label_column_stops_before_training(make_runner, tmp_path):
    frame = pd.read_csv(IMPROVING).drop(columns=["digit"])
    path = tmp_path / "no-labels.csv"
    frame.to_csv(path, index=False)
    runner = make_runner()
    outcome = runner.evaluate(path, "digits-demo", WALLET)
    assert outcome.status == "rejected"
    assert "label column 'digit' is missing" in outcome.reason
    assert outcome.check == "contribution_matches_token_schema"
    instance = runner.instance
    assert instance.get_latest_materialization_event(AssetKey("contributed_dataset")) is not None
    assert instance.get_latest_materialization_event(AssetKey("new_model")) is None
    assert instance.get_latest_materialization_event(AssetKey("attestation")) is None


def test_unreadable_upload_is_rejected_with_a_reason(make_runner, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x00\x01\x02binary junk\xff\xfe")
    outcome = make_runner().evaluate(path, "digits-demo", WALLET)
    assert outcome.status == "rejected"
    assert "looks binary" in outcome.reason
    record = json.loads(Path(outcome.files["rejection.json"]).read_text())
    assert record["stage"] == "contributed_dataset" and record["reasons"] == [outcome.reason]
