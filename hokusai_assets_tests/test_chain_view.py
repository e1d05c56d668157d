"""The chain's view, end to end, on a real chain: with ``HOKUSAI_CHAIN_RPC_URL`` set, the attestation
reads the real DeltaVerifier's ``currentModelHead`` (on anvil) before it signs, and signs only when the
chain's head allows the claim's baseline. The RPC URL carries an API key that must appear nowhere."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hokusai.chain.head_check import MATCH, MISMATCH, NOT_SEEDED
from hokusai.chain.ledger import GENESIS, MINTED, Chain
from hokusai.settlement.database import dispose_engines
from hokusai_assets_tests.chain_node import anvil, deploy_verifier
from hokusai_assets_tests.conftest import CHAIN_TOKEN, OTHER_WALLET, SAMPLES, WALLET, isolated_settings
from hokusai_assets_tests.leak_scan import Secret, files_under, scan_files

API_KEY = "rpc-api-key-7f3e9c21d"  # fixed, so a failure is reproducible; what a provider puts in the URL
RPC_VAR = "HOKUSAI_CHAIN_RPC_URL"


@pytest.fixture
def platform(tmp_path, shared_cache, monkeypatch, chain_tokens_env):
    from hokusai_assets.runner import DagsterRunner

    improving = pd.read_csv(SAMPLES / "improving.csv")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    improving.iloc[:175].to_csv(first, index=False)
    improving.iloc[175:].to_csv(second, index=False)
    with anvil() as node:
        verifier = deploy_verifier(node)
        url = f"{node.url}/?apikey={API_KEY}"
        monkeypatch.setenv(RPC_VAR, url)  # the resource takes it as EnvVar: resolved from the environment
        settings = isolated_settings(tmp_path / "state", shared_cache, {
            RPC_VAR: url, "HOKUSAI_VERIFYING_CONTRACT": verifier.address, "HOKUSAI_CHAIN_ID": str(node.chain_id),
            "HOKUSAI_STEP_RETRIES": "1", "HOKUSAI_STEP_RETRY_DELAY_SECONDS": "0", **chain_tokens_env})
        yield DagsterRunner(settings), verifier, (first, second), tmp_path
        dispose_engines()


def envelope(outcome) -> dict:
    return json.loads(open(outcome.files["attestation.json"]).read())


def test_a_claim_is_signed_only_on_the_head_the_chain_holds(platform, monkeypatch):
    runner, verifier, (first_file, second_file), root = platform
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

    # Governance seeds the genesis; the same evaluation run again is signed: the chain's head is its baseline.
    verifier.register_model(model_id)
    verifier.set_genesis(model_id, genesis.commitment)
    signed = runner._evaluate_partition(first.partition_key, CHAIN_TOKEN)
    assert signed.claim and signed.claim_status == "minted", signed.claim_reason  # settled locally: no relayer
    request = json.loads(open(signed.files["mint_request.json"]).read())
    assert request["baseline_commitment"] == genesis.commitment == verifier.head(model_id)
    assert envelope(signed)["claim"]["chain_head"] == {
        "allowed": True, "code": MATCH, "reason": envelope(signed)["claim"]["chain_head"]["reason"],
        "onchain_head": genesis.commitment, "baseline_commitment": genesis.commitment}
    first_link = chain.head(CHAIN_TOKEN)
    assert first_link.position == 1 and first_link.state == MINTED  # the ledger's head; the chain's is still genesis

    # The next contribution is measured on the first, which the chain never paid: refused, naming both heads.
    second = runner.evaluate(second_file, CHAIN_TOKEN, OTHER_WALLET)
    assert second.eligible and not second.claim and not second.rebased
    assert second.claim_reason.startswith(MISMATCH)
    assert genesis.commitment in second.claim_reason and first_link.commitment in second.claim_reason
    assert "mint_request.json" not in second.files and chain.head(CHAIN_TOKEN) == first_link

    # The RPC goes down: fail closed, retried once, then a failure that says it is retryable.
    monkeypatch.setenv(RPC_VAR, f"http://127.0.0.1:1/?apikey={API_KEY}")
    down = runner._evaluate_partition(second.partition_key, CHAIN_TOKEN)
    assert down.status == "error" and down.step == "attestation"
    assert "not signed" in down.reason and "unreachable" in down.reason and "retryable" in down.reason
    assert RPC_VAR in down.reason and API_KEY not in down.reason
    assert chain.head(CHAIN_TOKEN) == first_link
    attempts = [event for event in runner.instance.all_logs(down.run_id)
                if event.dagster_event and event.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(attempts) == 1

    # The chain moves to the first's model (as its paying mint would) and the RPC is back: signed.
    monkeypatch.setenv(RPC_VAR, f"{verifier.node.url}/?apikey={API_KEY}")
    verifier.reset_head(model_id, first_link.commitment)
    paid = runner._evaluate_partition(second.partition_key, CHAIN_TOKEN)
    assert paid.claim, paid.claim_reason
    assert json.loads(open(paid.files["mint_request.json"]).read())["baseline_commitment"] == first_link.commitment

    # The URL's key is in no file of the state folder (outputs, ledger, Dagster's run and event storage, MLflow).
    state = root / "state"
    assert scan_files(files_under(state), [Secret.of(RPC_VAR, API_KEY)], root=state) == []
