"""The settlement sensor on a real Dagster instance and a real redis-server."""

from __future__ import annotations

import pytest
from dagster import AssetKey, AssetObservation, DagsterInstance, EnvVar, build_sensor_context

from hokusai.settlement.database import dispose_engines, ledger_engine, sqlite_url
from hokusai.settlement.outbox import get_claim, record_claim
from hokusai_assets.partitions import CONTRIBUTIONS_PARTITIONS_NAME
from hokusai.harness.settlement_fixtures import claim_message, fake_relayer
from resources.model_registry import ModelRegistryResource
from resources.settlement import ClaimsLedgerResource, RelayerResource
from sensors.settlement import claim_settlement_sensor

PARTITION = "digits-demo/0x00000000000000000000000000000000000d1617/improving.csv@c30ca20e4ebc"


@pytest.fixture
def setup(tmp_path, redis, client):
    """The module's redis-server (services/conftest.py), emptied by ``client``."""
    url = sqlite_url(tmp_path / "ledger.db")
    engine = ledger_engine(url)
    message = claim_message(1)
    record_claim(engine, message, token_id="digits-demo", partition_key=PARTITION)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CONTRIBUTIONS_PARTITIONS_NAME, [PARTITION])
    resources = {"claims_ledger": ClaimsLedgerResource(url=url), "relayer": RelayerResource(redis_url=redis.url),
                 "model_registry": ModelRegistryResource(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")}
    yield instance, resources, redis, engine, message
    dispose_engines()


def tick(instance, resources):
    return claim_settlement_sensor(build_sensor_context(instance=instance, resources=resources))


def test_each_tick_publishes_then_records_the_settlement_as_an_observation(setup):
    instance, resources, redis, engine, message = setup
    published = tick(instance, resources)
    [observation] = published.asset_events
    assert isinstance(observation, AssetObservation) and observation.partition == PARTITION
    assert observation.asset_key == AssetKey("attestation")
    assert observation.metadata["claim_status"].value == "published"
    assert fake_relayer(redis.client(), lambda m: "minted") == {"minted": 1}
    settled = tick(instance, resources)
    [observation] = settled.asset_events
    assert observation.metadata["claim_status"].value == "minted"
    assert observation.metadata["previous_status"].value == "published"
    assert observation.metadata["reward_amount"].value == "1000000000000000000"
    assert get_claim(engine, message["idempotency_key"]).status == "minted"
    quiet = tick(instance, resources)
    assert quiet.asset_events == [] and quiet.skip_reason.skip_message == "no claim changed"
    # What the daemon does with the tick's events: the partition's claim state, stored.
    instance.report_runless_asset_event(observation)
    [record] = instance.fetch_observations(AssetKey("attestation"), limit=5).records
    stored = record.asset_observation
    assert stored.partition == PARTITION and stored.metadata["claim_status"].value == "minted"


def test_without_a_relayer_the_sensor_says_claims_settle_locally(setup):
    instance, resources, *_ = setup
    result = tick(instance, {**resources, "relayer": RelayerResource()})
    assert "claims settle locally" in result.skip_reason.skip_message


def test_redis_down_skips_the_tick_without_losing_the_claim(setup):
    instance, resources, redis, engine, message = setup
    redis.stop()
    try:
        result = tick(instance, resources)
    finally:
        redis.start()  # the module's server: the next test needs it up
    assert result.skip_reason.skip_message.startswith("settlement tick failed: ConnectionError")
    assert redis.password not in result.skip_reason.skip_message
    assert get_claim(engine, message["idempotency_key"]).status == "recorded"
    assert tick(instance, resources).asset_events[0].metadata["claim_status"].value == "published"


def test_the_redis_password_is_an_env_var_in_the_definitions(tmp_path):
    import os

    from hokusai.settings import load_settings
    from resources import build_resources

    url = "redis://:s3cret-pass@127.0.0.1:6390/0"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(tmp_path / "state"), "HOKUSAI_RELAYER_REDIS_URL": url})
    settings = load_settings(env)
    relayer = build_resources(settings)["relayer"]
    assert isinstance(relayer.redis_url, EnvVar) and relayer.redis_url == "HOKUSAI_RELAYER_REDIS_URL"
    assert "s3cret" not in repr(relayer)
    ledger = build_resources(settings)["claims_ledger"]
    assert ledger.url == f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"
    from dataclasses import replace

    with pytest.raises(ValueError, match="environment variable HOKUSAI_LEDGER_URL"):
        build_resources(replace(settings, ledger_url="postgresql+psycopg2://u:pw@127.0.0.1/db"))


def test_an_evaluated_claim_reaches_the_relayer_and_is_paid(tmp_path, shared_cache, monkeypatch, redis, client):
    """The whole way: the pipeline signs and publishes; the relayer (fake, strict) takes it; the tick settles."""
    from dataclasses import replace

    from hokusai_assets.runner import DagsterRunner
    from hokusai_assets_tests.conftest import SAMPLES, WALLET, isolated_settings
    from hokusai.settlement.queues import DEFAULT_QUEUES as Q

    monkeypatch.setenv("HOKUSAI_RELAYER_REDIS_URL", redis.url)
    settings = isolated_settings(tmp_path / "state", shared_cache, {"HOKUSAI_RELAYER_REDIS_URL": redis.url})
    runner = DagsterRunner(settings)
    outcome = runner.evaluate(SAMPLES / "improving.csv", "digits-demo", WALLET)
    assert outcome.status == "evaluated" and outcome.claim is True, outcome.reason
    assert outcome.claim_status == "published" and "hokusai:mint_requests" in outcome.claim_note
    assert fake_relayer(client, lambda m: "minted") == {"minted": 1}
    assert client.llen(Q.dead_letters) == 0
    resources = {"claims_ledger": ClaimsLedgerResource(url=settings.ledger_database_url),
                 "relayer": RelayerResource(redis_url=redis.url),
                 "model_registry": ModelRegistryResource(tracking_uri=settings.mlflow_tracking_uri)}
    [observation] = tick(runner.instance, resources).asset_events
    assert observation.partition == outcome.partition_key
    assert observation.metadata["claim_status"].value == "minted"
    dispose_engines()


def test_a_settlement_for_a_replaced_message_is_logged_with_its_reason(setup, capfd):
    """A SignatureExpired naming another deadline than the claim's current message: recorded, logged, nothing
    changed (test_settlement_robustness.py has the re-sign itself)."""
    import json

    from hokusai.settlement.queues import DEFAULT_QUEUES as Q
    from hokusai.settlement.settlement_messages import settlement_message

    instance, resources, redis, engine, message = setup
    tick(instance, resources)
    late = settlement_message(message, "error", settled_at="2026-06-11T12:00:00Z",
                              error=f"SignatureExpired({message['deadline'] - 86_400}, 1781179200)")
    redis.client().lpush(Q.settlements, json.dumps(late))
    result = tick(instance, resources)
    assert result.asset_events == [] and result.skip_reason is None
    [line] = [line for line in capfd.readouterr().err.splitlines() if "replaced message:" in line]
    assert "not the claim's current message" in line and "nothing changed" in line
    assert get_claim(engine, message["idempotency_key"]).status == "published"
