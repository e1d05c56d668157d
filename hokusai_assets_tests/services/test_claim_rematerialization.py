"""One idempotency key, one signed message, through real re-materializations (Dagster in process, the
same partition run again) on a SQLite and a PostgreSQL ledger (issue 16: a re-run signed a new message
under the key while the outbox kept the first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from hokusai.settlement.database import dispose_engines, ledger_engine
from hokusai.settlement.outbox import claim_messages, claims, get_claim, list_claims
from hokusai_assets_tests.conftest import DEMO_TOKEN, SAMPLES, WALLET, checked_mint_request, isolated_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def runner(request, tmp_path, shared_cache, monkeypatch):
    from hokusai_assets.runner import DagsterRunner

    env = {}
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        server.create_database("ledger_rerun", exist_ok=True)
        env["HOKUSAI_LEDGER_URL"] = server.url("ledger_rerun")
        monkeypatch.setenv("HOKUSAI_LEDGER_URL", env["HOKUSAI_LEDGER_URL"])
    yield DagsterRunner(isolated_settings(tmp_path / "state", shared_cache, env))
    dispose_engines()


def claim_metadata(runner, run_id: str) -> dict:
    """The attestation's materialization metadata of that run: what the UI shows."""
    from dagster import AssetKey

    [event] = [e for e in runner.instance.get_latest_materialization_events([AssetKey("attestation")]).values()
               if e is not None and e.run_id == run_id]
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def test_a_re_materialized_claim_is_the_recorded_one_and_other_evidence_is_refused(runner):
    first = runner.evaluate(SAMPLES / "improving.csv", DEMO_TOKEN, WALLET)
    assert first.claim and first.claim_status == "minted", first.claim_reason
    file = Path(first.files["mint_request.json"])
    signed_bytes = file.read_bytes()
    message = checked_mint_request(file.parent)
    engine = ledger_engine(runner.settings.ledger_database_url)
    key = message["idempotency_key"]
    assert json.loads(get_claim(engine, key).message) == message
    assert claim_metadata(runner, first.run_id)["claim_message"] == "new"

    # The same partition again: the same evidence, so the recorded message, byte for byte (no new
    # message id, deadline or signature), and still one claim.
    again = runner._evaluate_partition(first.partition_key, DEMO_TOKEN)
    assert again.status == "evaluated" and again.claim and again.attestation_hash == first.attestation_hash
    assert file.read_bytes() == signed_bytes
    assert claim_metadata(runner, again.run_id)["claim_message"] == "reused"
    assert again.claim_status == "minted" and "nothing queued again" in again.claim_note
    assert [row.idempotency_key for row in list_claims(engine)] == [key]

    # A recorded claim whose evidence is not this run's (here: its contributor rewritten in the
    # database): the step fails loudly, naming the key and the fields, and writes nothing.
    forged = {**message, "contributors": [{**message["contributors"][0], "wallet_address": "0x" + "ab" * 20}]}
    with engine.begin() as connection:
        connection.execute(update(claim_messages).where(claim_messages.c.idempotency_key == key).values(
            message=json.dumps(forged, sort_keys=True, separators=(",", ":"))))
    refused = runner._evaluate_partition(first.partition_key, DEMO_TOKEN)
    assert refused.status == "error" and refused.step == "attestation"
    assert key in refused.reason and "contributors differ" in refused.reason, refused.reason
    assert file.read_bytes() == signed_bytes
    assert json.loads(get_claim(engine, key).message) == forged

    # An unsettled claim whose signature expired is what a re-run re-signs: the new message replaces
    # the recorded one as a new attempt, so the outbox and mint_request.json hold the same one.
    with engine.begin() as connection:
        connection.execute(update(claim_messages).where(claim_messages.c.idempotency_key == key).values(
            message=json.dumps(message, sort_keys=True, separators=(",", ":"))))
        connection.execute(update(claims).where(claims.c.idempotency_key == key).values(
            status="error", error="SignatureExpired", deadline=1))
    resigned = runner._evaluate_partition(first.partition_key, DEMO_TOKEN)
    assert resigned.claim and resigned.attestation_hash == first.attestation_hash, resigned.reason
    assert claim_metadata(runner, resigned.run_id)["claim_message"] == "re-signed"
    fresh = checked_mint_request(file.parent)
    assert fresh["idempotency_key"] == key and fresh["deadline"] > message["deadline"]
    assert fresh["attester_signatures"] != message["attester_signatures"]
    row = get_claim(engine, key)
    assert json.loads(row.message) == fresh and row.attempt == 2 and row.status == "minted"
    assert "re-signed" in resigned.claim_note
