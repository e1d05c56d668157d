"""The chain's view, end to end, on a real chain: with ``HOKUSAI_CHAIN_RPC_URL`` set, the attestation
reads the real DeltaVerifier's ``currentModelHead`` (on anvil) before it signs, and signs only when the
chain's head allows the claim's baseline. The RPC URL carries an API key that must appear nowhere."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from dagster import AssetKey

from hokusai.chain.head_check import MATCH, MISMATCH, NOT_SEEDED
from hokusai.chain.ledger import GENESIS, MINTED, Chain
from hokusai.settlement.database import dispose_engines
from hokusai.harness.anvil import anvil, deploy_verifier
from hokusai_assets_tests.conftest import CHAIN_TOKEN, SAMPLES, WALLET, isolated_settings
from hokusai_assets_tests.leak_scan import Secret, files_under, scan_files

API_KEY = "rpc-api-key-7f3e9c21d"  # fixed, so a failure is reproducible; what a provider puts in the URL
RPC_VAR = "HOKUSAI_CHAIN_RPC_URL"


@pytest.fixture
def platform(tmp_path, shared_cache, monkeypatch, chain_tokens_env):
    from hokusai_assets.runner import DagsterRunner

    first = tmp_path / "first.csv"
    pd.read_csv(SAMPLES / "improving.csv").iloc[:175].to_csv(first, index=False)
    with anvil() as node:
        verifier = deploy_verifier(node)
        url = f"{node.url}/?apikey={API_KEY}"
        monkeypatch.setenv(RPC_VAR, url)  # the resource takes it as EnvVar: resolved from the environment
        settings = isolated_settings(tmp_path / "state", shared_cache, {
            RPC_VAR: url, "HOKUSAI_VERIFYING_CONTRACT": verifier.address, "HOKUSAI_CHAIN_ID": str(node.chain_id),
            "HOKUSAI_STEP_RETRIES": "1", "HOKUSAI_STEP_RETRY_DELAY_SECONDS": "0", **chain_tokens_env})
        yield DagsterRunner(settings), verifier, (first,), tmp_path
        dispose_engines()


def envelope(outcome) -> dict:
    return json.loads(open(outcome.files["attestation.json"]).read())


def attest_again(runner, partition_key: str):
    """Only the attestation step again, on the stored DeltaOne and models: the chain is read afresh."""
    result = runner.job.execute_in_process(
        partition_key=partition_key, instance=runner.instance, raise_on_error=False,
        asset_selection=[AssetKey("attestation")], tags={"hokusai/token_id": CHAIN_TOKEN},
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    if not result.success:
        return result, runner._failure_outcome(result, partition_key)
    return result, result.output_for_node("attestation")


def test_a_claim_is_signed_only_on_the_head_the_chain_holds(platform, monkeypatch):
    runner, verifier, (first_file,), root = platform
    chain = Chain(runner.settings.ledger_database_url)

    # Nothing seeded on chain: eligible, but not signed; the evidence is kept and the call to make is named.
    first = runner.evaluate(first_file, CHAIN_TOKEN, WALLET)
    assert first.status == "evaluated" and first.eligible and not first.claim, first.reason
    genesis = chain.head(CHAIN_TOKEN)
    model_id = int(envelope(first)["attestation"]["token"]["model_id_uint"])
    assert first.claim_reason.startswith(NOT_SEEDED)
    assert f"ModelRegistry.setWeightGenesis({model_id}, {genesis.commitment})" in first.claim_reason
    assert "mint_request.json" not in first.files and "delta_one.json" in first.files
    assert envelope(first)["claim"]["chain_head"]["code"] == NOT_SEEDED
    assert [link.state for link in chain.active_links(CHAIN_TOKEN)] == [GENESIS]  # nothing appended

    # The RPC goes down: fail closed, retried once, then a failure that says it is retryable.
    monkeypatch.setenv(RPC_VAR, f"http://127.0.0.1:1/?apikey={API_KEY}")
    result, down = attest_again(runner, first.partition_key)
    assert down.status == "error" and down.step == "attestation"
    assert "not signed" in down.reason and "unreachable" in down.reason and "retryable" in down.reason
    assert RPC_VAR in down.reason and API_KEY not in down.reason
    retries = [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1
    assert [link.state for link in chain.active_links(CHAIN_TOKEN)] == [GENESIS]
    monkeypatch.setenv(RPC_VAR, f"{verifier.node.url}/?apikey={API_KEY}")

    # Governance seeds the genesis, but the chain's head is then moved to a model the ledger never had
    # (a head reset, another writer): refused, naming both commitments, and not re-based.
    verifier.register_model(model_id)
    verifier.set_genesis(model_id, genesis.commitment)
    foreign = "0x" + "5e" * 32
    verifier.reset_head(model_id, foreign)
    _, refused = attest_again(runner, first.partition_key)
    assert not refused["claim"]["claim"] and not refused["claim"]["rebase"] and refused["mint_request"] is None
    reason = refused["claim"]["reason"]
    assert reason.startswith(MISMATCH) and foreign in reason and genesis.commitment in reason
    assert chain.rebase_requested(first.partition_key) is None
    assert [link.state for link in chain.active_links(CHAIN_TOKEN)] == [GENESIS]

    # The chain's head is the claim's baseline (the genesis): signed, appended, settled as today.
    verifier.reset_head(model_id, genesis.commitment)
    _, signed = attest_again(runner, first.partition_key)
    assert signed["claim"]["claim"] and signed["claim_status"] == "minted", signed["claim"]["reason"]
    assert signed["mint_request"]["baseline_commitment"] == genesis.commitment == verifier.head(model_id)
    assert signed["claim"]["chain_head"]["code"] == MATCH
    assert [link.state for link in chain.active_links(CHAIN_TOKEN)] == [GENESIS, MINTED]

    # The URL's key is in no file of the state folder (outputs, ledger, Dagster's run and event storage, MLflow).
    state = root / "state"
    assert scan_files(files_under(state), [Secret.of(RPC_VAR, API_KEY)], root=state) == []
