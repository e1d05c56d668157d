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


@pytest.fixture
def relayed_platform(tmp_path, shared_cache, monkeypatch, chain_tokens_env):
    """Anvil with the real DeltaVerifier, and a real redis-server as the relayer's queues: claims stay
    pending until a settlement arrives, so they stack."""
    from hokusai_assets.runner import DagsterRunner
    from hokusai.harness.servers import redis_server
    from resources.model_registry import ModelRegistryResource
    from resources.settlement import ClaimsLedgerResource, RelayerResource

    improving = pd.read_csv(SAMPLES / "improving.csv")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    improving.iloc[:175].to_csv(first, index=False)
    improving.iloc[175:].to_csv(second, index=False)
    with anvil() as node, redis_server(tmp_path / "redis") as redis:
        verifier = deploy_verifier(node)
        url = f"{node.url}/?apikey={API_KEY}"
        monkeypatch.setenv(RPC_VAR, url)
        monkeypatch.setenv("HOKUSAI_RELAYER_REDIS_URL", redis.url)
        settings = isolated_settings(tmp_path / "state", shared_cache, {
            RPC_VAR: url, "HOKUSAI_VERIFYING_CONTRACT": verifier.address, "HOKUSAI_CHAIN_ID": str(node.chain_id),
            "HOKUSAI_RELAYER_REDIS_URL": redis.url, **chain_tokens_env})
        resources = {"claims_ledger": ClaimsLedgerResource(url=settings.ledger_database_url),
                     "relayer": RelayerResource(redis_url=redis.url),
                     "model_registry": ModelRegistryResource(tracking_uri=settings.mlflow_tracking_uri,
                                                             artifact_root=settings.mlflow_artifact_root)}
        yield DagsterRunner(settings), verifier, resources, redis.client(), (first, second)
        dispose_engines()


def test_stacked_claims_are_signed_on_an_earlier_chain_head_and_one_built_on_an_unsettled_link_is_re_based(
        relayed_platform):
    from dagster import build_sensor_context

    from hokusai.chain.head_check import STACKED
    from hokusai.chain.ledger import ORPHANED, PENDING, ROLLED_BACK
    from hokusai.harness.settlement_fixtures import fake_relayer
    from sensors.rebase import contribution_rebase_sensor
    from sensors.settlement import claim_settlement_sensor

    runner, verifier, resources, client, (first_file, second_file) = relayed_platform
    chain = Chain(runner.settings.ledger_database_url)

    def settle():
        claim_settlement_sensor(build_sensor_context(instance=runner.instance, resources=resources))

    # The first evaluation makes the genesis (refused: not seeded); governance seeds it; signed on it.
    first = runner.evaluate(first_file, CHAIN_TOKEN, WALLET)
    assert first.eligible and first.claim_reason.startswith(NOT_SEEDED), first.claim_reason
    genesis = chain.head(CHAIN_TOKEN)
    model_id = int(envelope(first)["attestation"]["token"]["model_id_uint"])
    verifier.register_model(model_id)
    verifier.set_genesis(model_id, genesis.commitment)
    _, signed_first = attest_again(runner, first.partition_key)
    assert signed_first["claim"]["chain_head"]["code"] == MATCH and signed_first["claim_status"] == "published"
    first_candidate = signed_first["mint_request"]["candidate_commitment"]

    # Stacked: the second is measured on the first's pending model while the chain's head is still the
    # genesis, an earlier link followed only by that pending link: signed, its claim queued behind the first's.
    second = runner.evaluate(second_file, CHAIN_TOKEN, WALLET)
    assert second.claim and second.claim_status == "published", second.claim_reason
    stacked = envelope(second)
    assert stacked["claim"]["chain_head"]["code"] == STACKED
    assert stacked["claim"]["chain_head"]["onchain_head"] == genesis.commitment == verifier.head(model_id)
    second_message = json.loads(open(second.files["mint_request.json"]).read())
    assert second_message["baseline_commitment"] == first_candidate != genesis.commitment
    assert [link.state for link in chain.active_links(CHAIN_TOKEN)] == [GENESIS, PENDING, PENDING]

    # The first does not settle (the contract pays it 0 and keeps its head: the chain still says genesis),
    # so the second, built on it, reverts: both leave the ledger's chain and the second is re-based.
    answers = {first.partition_key: "no_delta",
               second.partition_key: "error:LineageParentMismatch(model, genesis, first)"}
    assert fake_relayer(client, lambda m: answers[m["contributors"][0]["submissionId"]]) == {"no_delta": 1, "error": 1}
    settle()
    assert chain.link_by_key(signed_first["mint_request"]["idempotency_key"]).state == ROLLED_BACK
    assert chain.link_by_key(second_message["idempotency_key"]).state in (ROLLED_BACK, ORPHANED)
    assert chain.head(CHAIN_TOKEN).commitment == genesis.commitment == verifier.head(model_id)
    [request] = contribution_rebase_sensor(build_sensor_context(
        instance=runner.instance, resources={"claims_ledger": resources["claims_ledger"]})).run_requests
    assert request.partition_key == second.partition_key

    # Re-evaluated on the restored head: the chain's head is its baseline again, so it is signed.
    rebased = runner._evaluate_partition(second.partition_key, CHAIN_TOKEN)
    assert rebased.claim and rebased.claim_status == "published", rebased.claim_reason
    assert envelope(rebased)["claim"]["chain_head"]["code"] == MATCH
    rebased_message = json.loads(open(rebased.files["mint_request.json"]).read())
    assert rebased_message["baseline_commitment"] == genesis.commitment
    assert rebased_message["idempotency_key"] != second_message["idempotency_key"]

    # It is paid: the chain's head moves to its model (resetModelHead, as the mint would), the ledger follows.
    assert fake_relayer(client, lambda m: "minted") == {"minted": 1}
    verifier.reset_head(model_id, rebased_message["candidate_commitment"])
    settle()
    head = chain.head(CHAIN_TOKEN)
    assert (head.state, head.commitment) == (MINTED, verifier.head(model_id))
    assert head.partition_key == second.partition_key and head.position == 1
