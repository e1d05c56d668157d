"""A ledger made before ``claim_messages`` (every signed message in its claim row) is upgraded in place
on SQLite and on a real PostgreSQL 15, keeps every claim exactly, and then works as a new one.

The data is a real ledger written by the code before the change (fixtures/ledger_before_claim_messages.json,
which says how it was made); the old table is declared here and checked against that code's own DDL.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, MetaData, Table, Text, func, inspect, select

from hokusai.harness.settlement_fixtures import claim_message
from hokusai.settings import REPO_ROOT
from hokusai.settlement import outbox
from hokusai.settlement.database import create_tables, dispose_engines, ledger_engine, make_engine
from hokusai.settlement.outbox import (
    apply_settlements,
    claim_messages,
    claims_to_publish,
    get_claim,
    list_claims,
    mark_published,
)
from hokusai.settlement.settlement_messages import settlement_message

OLD = json.loads((REPO_ROOT / "hokusai_assets_tests" / "fixtures" / "ledger_before_claim_messages.json").read_text())
NOW = 1_800_000_100.0


def old_schema() -> MetaData:
    """The claims table as it was: today's columns, but not the later ``queued_at``, with ``message``
    after ``partition_key``."""
    metadata = MetaData()
    columns = []
    for column in outbox.claims.columns:
        if column.name == "queued_at":
            continue
        columns.append(column._copy())
        if column.name == "partition_key":
            columns.append(Column("message", Text, nullable=False))
    Table("claims", metadata, *columns)
    outbox.claim_settlements.to_metadata(metadata)
    return metadata


@pytest.fixture
def old_ledger(ledger_url):
    """The URL of a ledger holding the fixture's rows in the old schema."""
    url = ledger_url
    engine = make_engine(url)
    with engine.begin() as connection:
        old_schema().create_all(connection)
        if url.startswith("sqlite"):  # the table declared above is the one the old code made
            ddl = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'claims'").scalar()
            assert ddl == OLD["claims_ddl_sqlite"]
        connection.execute(Table("claims", MetaData(), autoload_with=connection).insert(), OLD["claims"])
        for entry in OLD["claim_settlements"]:  # in order, ids from the table's own sequence as the old code's were
            connection.execute(outbox.claim_settlements.insert(), {k: v for k, v in entry.items() if k != "id"})
    engine.dispose()
    dispose_engines()
    yield url
    dispose_engines()


def test_an_old_ledger_is_upgraded_in_place_and_keeps_every_claim(old_ledger):
    engine = ledger_engine(old_ledger)
    columns = {c["name"] for c in inspect(engine).get_columns("claims")}
    assert "message" not in columns and "status" in columns
    for old in OLD["claims"]:
        row = get_claim(engine, old["idempotency_key"])
        assert dict(row._mapping) == old  # every column, the message text byte for byte
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(claim_messages)).scalar() == len(OLD["claims"])
        log = connection.execute(select(outbox.claim_settlements).order_by(outbox.claim_settlements.c.id)).all()
        assert [dict(r._mapping) for r in log] == OLD["claim_settlements"]
    create_tables(engine)  # a second upgrade finds nothing to do
    assert [dict(r._mapping) for r in list_claims(engine)] == sorted(
        OLD["claims"], key=lambda c: (c["recorded_at"], c["idempotency_key"]))


def test_an_upgraded_ledger_publishes_and_settles_as_a_new_one(old_ledger):
    engine = ledger_engine(old_ledger)
    by_key = {c["idempotency_key"]: c for c in OLD["claims"]}
    pending = claims_to_publish(engine, 10)
    # the never-published claim, then the re-signed budget-blocked one (attempt 2, its new message)
    assert [(r.attempt, r.message) for r in pending] == [
        (by_key[r.idempotency_key]["attempt"], by_key[r.idempotency_key]["message"]) for r in pending]
    assert sorted(r.attempt for r in pending) == [1, 2]
    assert "msg-4-resigned" in {json.loads(r.message)["message_id"] for r in pending}
    assert [c.status for c in mark_published(engine, pending, now=NOW)] == ["published", "published"]

    def settle(index: int, status: str, **optional) -> str:
        claim = claim_message(index)
        return json.dumps(settlement_message(claim, status, settled_at="2026-06-11T12:00:00.000Z", **optional))

    # the old log still recognises a settlement it applied (same bytes as the fixture's maker sent)
    replayed = settle(1, "minted", reward_amount="1000000000000000000", tx_hash="0x" + "ab" * 32,
                      block_number=100, gas_used="210000")
    # claim 0 settles twice in one batch (error, then minted): it ends minted; claim 4 no_delta, with no
    # tx_hash, block number or gas; no row has a next retry (NULL in every row: typed, on PostgreSQL)
    report = apply_settlements(engine, [replayed, settle(0, "error", error="nonce too low"),
                                        settle(0, "minted", reward_amount="5", tx_hash="0x" + "ef" * 32,
                                               block_number=7, gas_used=21000),
                                        settle(4, "no_delta")], now=NOW)
    assert report.duplicates == 1 and not report.rejected
    assert [(c.previous, c.status) for c in report.changes] == [
        ("published", "error"), ("error", "minted"), ("published", "no_delta")]
    first = get_claim(engine, claim_message(0)["idempotency_key"])
    assert (first.status, first.reward_amount, first.block_number, first.gas_used, first.error,
            first.next_retry_at, first.error_retries) == ("minted", "5", 7, "21000", None, None, 1)
    fourth = get_claim(engine, claim_message(4)["idempotency_key"])
    assert (fourth.status, fourth.tx_hash, fourth.block_number, fourth.gas_used, fourth.attempt) == (
        "no_delta", None, None, None, 2)
    assert json.loads(fourth.message)["message_id"] == "msg-4-resigned"
