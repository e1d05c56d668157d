"""The champion follows the chain through settlement, on a real redis-server: a claim the contract
does not pay is rolled back, what was built on it is re-based and paid on the restored head."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from dagster import build_sensor_context

from hokusai.chain.ledger import MINTED, ORPHANED, PENDING, ROLLED_BACK, Chain
from hokusai.core.registry import CHAMPION_ALIAS, ModelRegistry
from hokusai.settlement.database import dispose_engines
from hokusai_assets_tests.conftest import CHAIN_TOKEN, OTHER_WALLET, SAMPLES, WALLET, isolated_settings
from hokusai.harness.servers import redis_server
from hokusai.harness.settlement_fixtures import fake_relayer
from resources.model_registry import ModelRegistryResource
from resources.settlement import ClaimsLedgerResource, RelayerResource
from sensors.rebase import contribution_rebase_sensor
from sensors.settlement import claim_settlement_sensor


@pytest.fixture
def platform(tmp_path, shared_cache, monkeypatch, chain_tokens_env):
    from hokusai_assets.runner import DagsterRunner

    improving = pd.read_csv(SAMPLES / "improving.csv")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    improving.iloc[:175].to_csv(first, index=False)
    improving.iloc[175:].to_csv(second, index=False)
    with redis_server(tmp_path / "redis") as redis:
        monkeypatch.setenv("HOKUSAI_RELAYER_REDIS_URL", redis.url)
        settings = isolated_settings(tmp_path / "state", shared_cache,
                                     {"HOKUSAI_RELAYER_REDIS_URL": redis.url, **chain_tokens_env})
        runner = DagsterRunner(settings)
        resources = {"claims_ledger": ClaimsLedgerResource(url=settings.ledger_database_url),
                     "relayer": RelayerResource(redis_url=redis.url),
                     "model_registry": ModelRegistryResource(tracking_uri=settings.mlflow_tracking_uri,
                                                             artifact_root=settings.mlflow_artifact_root)}
        yield runner, resources, redis.client(), (first, second)
        dispose_engines()


def settle(runner, resources):
    return claim_settlement_sensor(build_sensor_context(instance=runner.instance, resources=resources))


def test_an_unpaid_claim_is_rolled_back_and_the_contribution_built_on_it_is_re_based(platform):
    runner, resources, client, (first_file, second_file) = platform
    first = runner.evaluate(first_file, CHAIN_TOKEN, WALLET)
    second = runner.evaluate(second_file, CHAIN_TOKEN, OTHER_WALLET)
    assert first.claim and second.claim and first.claim_status == second.claim_status == "published"
    chain = Chain(runner.settings.ledger_database_url)
    assert [link.state for link in chain.active_links(CHAIN_TOKEN)] == ["genesis", PENDING, PENDING]

    # The contract pays the first 0 (its own minimum is higher), so its head stays at genesis,
    # and the second, built on the first, reverts with LineageParentMismatch.
    statuses = {first.partition_key: "no_delta",
                second.partition_key: "error:LineageParentMismatch(1001, genesis, first)"}
    assert fake_relayer(client, lambda m: statuses[m["contributors"][0]["submissionId"]]) == {
        "no_delta": 1, "error": 1}
    settle(runner, resources)
    first_link, second_link = chain.link_by_key(_key(first)), chain.link_by_key(_key(second))
    # the second is out either way: orphaned by the first's roll-back, or rolled back by its own revert
    assert first_link.state == ROLLED_BACK and second_link.state in (ROLLED_BACK, ORPHANED)
    genesis = chain.head(CHAIN_TOKEN)
    assert genesis.position == 0
    registry = ModelRegistry(runner.settings.mlflow_tracking_uri, runner.settings.mlflow_artifact_root)
    assert registry.get_alias(f"hokusai-{CHAIN_TOKEN}", CHAMPION_ALIAS).version == genesis.model_version
    assert chain.rebase_requested(first.partition_key) is None  # not paid: not retried
    assert chain.rebase_requested(second.partition_key)  # the contract kept its key unburned for this

    # The re-base sensor asks for the second's run; on the restored head it is measured again and paid.
    [request] = contribution_rebase_sensor(build_sensor_context(
        instance=runner.instance, resources={"claims_ledger": resources["claims_ledger"]})).run_requests
    assert request.partition_key == second.partition_key and request.tags["hokusai/rebase"] == "true"
    rebased = runner._evaluate_partition(second.partition_key, CHAIN_TOKEN)
    assert rebased.claim, rebased.claim_reason
    assert rebased.attestation_hash != second.attestation_hash  # another baseline: another claim
    assert chain.rebase_requested(second.partition_key) is None
    head = chain.head(CHAIN_TOKEN)
    assert head.position == 1 and head.parent_commitment == genesis.commitment and head.state == PENDING
    assert fake_relayer(client, lambda m: "minted") == {"minted": 1}
    settle(runner, resources)
    assert chain.head(CHAIN_TOKEN).state == MINTED
    assert registry.get_alias(f"hokusai-{CHAIN_TOKEN}", CHAMPION_ALIAS).version == rebased.model_version


def _key(outcome) -> str:
    import json
    from pathlib import Path

    return json.loads(Path(outcome.files["mint_request.json"]).read_text())["idempotency_key"]
