"""The publisher's queue is a column the database computes (``claims.queued_at``), no index holds
``status``, so on PostgreSQL a settlement (published -> minted) is a HOT update; a ledger made before
(claims indexed by (status, recorded_at), the log by idempotency key) is upgraded in place, on SQLite
and a real PostgreSQL 15, and then works as a new one.

The old ledger is a real one written by the code before the change
(fixtures/ledger_before_queued_at.json, which says how it was made); its schema is declared here and
checked against that code's own DDL.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import Column, Index, MetaData, Table, inspect, select

from hokusai.harness.settlement_fixtures import claim_message
from hokusai.settings import REPO_ROOT
from hokusai.settlement import outbox
from hokusai.settlement.database import create_tables, dispose_engines, ledger_engine, make_engine
from hokusai.settlement.outbox import (
    CLAIMS_FILLFACTOR,
    RetryPolicy,
    apply_settlements,
    claims_to_publish,
    get_claim,
    promote_due_retries,
)
from hokusai.settlement.settlement_messages import settlement_message

OLD = json.loads((REPO_ROOT / "hokusai_assets_tests" / "fixtures" / "ledger_before_queued_at.json").read_text())
T0 = 1_800_000_000.0  # the fixture's clock
SETTLED_AT = "2026-06-11T12:00:00.000Z"


def old_schema() -> MetaData:
    """The tables as the previous code made them: no ``queued_at``, claims indexed by (status,
    recorded_at), the log by idempotency key."""
    metadata = MetaData()
    columns: list[Column] = [column._copy() for column in outbox.claims.columns if column.name != "queued_at"]
    old_claims = Table("claims", metadata, *columns)
    Index("ix_claims_status_recorded_at", old_claims.c.status, old_claims.c.recorded_at)
    outbox.claim_messages.to_metadata(metadata)
    log = outbox.claim_settlements.to_metadata(metadata)
    Index("ix_claim_settlements_idempotency_key", log.c.idempotency_key)
    return metadata


def make_old_ledger(url: str, extra_published: int = 0) -> None:
    """The fixture's rows (and ``extra_published`` more published claims) in the old schema."""
    engine = make_engine(url)
    metadata = old_schema()
    with engine.begin() as connection:
        metadata.create_all(connection)
        if engine.dialect.name == "sqlite":  # the schema declared above is the one the old code made
            ddl = dict(connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('claims', 'claim_settlements') "
                "AND sql IS NOT NULL").all())
            assert ddl == OLD["ddl_sqlite"]
        tables = metadata.tables
        connection.execute(tables["claims"].insert(), OLD["claims"])
        connection.execute(tables["claim_messages"].insert(), OLD["claim_messages"])
        for entry in OLD["claim_settlements"]:  # ids from the table's own sequence, as the old code's were
            connection.execute(tables["claim_settlements"].insert(), {k: v for k, v in entry.items() if k != "id"})
        if extra_published:
            rows, messages = _published_rows(100, extra_published)
            connection.execute(tables["claims"].insert(), rows)
            connection.execute(tables["claim_messages"].insert(), messages)
    engine.dispose()


def _published_rows(start: int, count: int) -> tuple[list[dict], list[dict]]:
    rows, messages = [], []
    for i in range(start, start + count):
        m = claim_message(i)
        rows.append({"idempotency_key": m["idempotency_key"], "attestation_hash": m["attestation_hash"],
                     "model_id": m["model_id"], "model_id_uint": m["model_id_uint"], "eval_id": m["eval_id"],
                     "token_id": "digits-demo", "partition_key": f"digits-demo/0xwallet/{m['eval_id']}.csv@etag",
                     "deadline": m["deadline"], "status": "published", "attempt": 1, "error_retries": 0,
                     "recorded_at": T0 + i, "published_at": T0 + i, "updated_at": T0 + i})
        messages.append({"idempotency_key": m["idempotency_key"], "message": json.dumps(m, sort_keys=True)})
    return rows, messages


def _minted(index: int) -> str:
    return json.dumps(settlement_message(claim_message(index), "minted", settled_at=SETTLED_AT,
                                         reward_amount="1000000000000000000", tx_hash="0x" + "ab" * 32,
                                         block_number=100, gas_used="210000"))


def _indexes(engine, table: str) -> set[str]:
    """The table's indexes but those of its unique constraints (which PostgreSQL lists too)."""
    return {index["name"] for index in inspect(engine).get_indexes(table) if index["name"].startswith("ix_")}


def _fillfactor(connection) -> list[str]:
    return connection.exec_driver_sql("SELECT reloptions FROM pg_class WHERE oid = 'claims'::regclass").scalar() or []


@pytest.fixture
def old_ledger(ledger_url):
    make_old_ledger(ledger_url)
    dispose_engines()
    yield ledger_url
    dispose_engines()


def test_an_old_ledger_is_upgraded_in_place_and_queues_as_before(old_ledger):
    engine = ledger_engine(old_ledger)
    messages = {m["idempotency_key"]: m["message"] for m in OLD["claim_messages"]}
    for old in OLD["claims"]:  # every claim kept exactly, its message beside it
        assert dict(get_claim(engine, old["idempotency_key"])._mapping) == {
            **old, "message": messages[old["idempotency_key"]]}
    with engine.connect() as connection:
        queued = dict(connection.execute(select(outbox.claims.c.eval_id, outbox.claims.c.queued_at)).all())
        log = connection.execute(select(outbox.claim_settlements).order_by(outbox.claim_settlements.c.id)).all()
        if engine.dialect.name == "postgresql":
            assert _fillfactor(connection) == [f"fillfactor={CLAIMS_FILLFACTOR}"]
    # recorded claims (6, 7) carry their recorded_at, every other claim NULL: computed from status
    assert queued == {c["eval_id"]: c["recorded_at"] if c["status"] == "recorded" else None for c in OLD["claims"]}
    assert {c["eval_id"] for c in OLD["claims"] if c["status"] == "recorded"} == {"eval-6", "eval-7"}
    assert [dict(r._mapping) for r in log] == OLD["claim_settlements"]
    assert _indexes(engine, "claims") == {"ix_claims_queued_at", "ix_claims_next_retry_at"}
    assert _indexes(engine, "claim_settlements") == set()
    create_tables(engine)  # a second upgrade finds nothing to do

    assert [p.eval_id for p in claims_to_publish(engine, 10)] == ["eval-6", "eval-7"]
    # the error claim's automatic retry is due at T0 + 80, the budget-blocked one's at T0 + 3620
    assert [c.eval_id for c in promote_due_retries(engine, now=T0 + 100)] == ["eval-2"]
    # a retry keeps its place: recorded 1 s after claim 1, it goes before claims 6 and 7
    assert [(p.eval_id, p.attempt) for p in claims_to_publish(engine, 10)] == [
        ("eval-2", 2), ("eval-6", 1), ("eval-7", 1)]
    # the log still recognises the settlement it applied (the same bytes the fixture's maker sent)
    report = apply_settlements(engine, [_minted(0), _minted(4)], now=T0 + 200)
    assert report.duplicates == 1 and [(c.eval_id, c.status) for c in report.changes] == [("eval-4", "minted")]
    assert get_claim(engine, claim_message(4)["idempotency_key"]).status == "minted"


def test_on_sqlite_the_publisher_reads_its_index_in_order(ledger_url):
    if not ledger_url.startswith("sqlite"):
        pytest.skip("the plan of SQLite; PostgreSQL's depends on its statistics")
    engine = ledger_engine(ledger_url)
    query = (select(outbox.claims.c.idempotency_key).where(outbox.claims.c.queued_at.isnot(None))
             .order_by(outbox.claims.c.queued_at).limit(10))
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(query.compile(engine, compile_kwargs={"literal_binds": True}))))
    assert "ix_claims_queued_at" in plan and "TEMP B-TREE" not in plan, plan


def _hot_updates_of_settling(engine, keys: list[int]) -> tuple[int, int]:
    """(claims updated, of which HOT) when ``apply_settlements`` mints ``keys``' claims: this transaction's count."""
    counts = {}

    def count(connection, changes):
        counts["hot"] = connection.exec_driver_sql(
            "SELECT pg_stat_get_xact_tuples_hot_updated('claims'::regclass)").scalar()
        counts["updated"] = connection.exec_driver_sql(
            "SELECT pg_stat_get_xact_tuples_updated('claims'::regclass)").scalar()

    report = apply_settlements(engine, [_minted(i) for i in keys], now=time.time(), on_changes=count,
                               policy=RetryPolicy())
    assert len(report.changes) == len(keys)
    return counts["updated"], counts["hot"]


@pytest.mark.parametrize("made", ["new", "upgraded"])
def test_on_postgresql_a_settlement_is_a_hot_update(ledger_url, made):
    """Enough claims to fill pages (full pages could not take a new version of their rows)."""
    if ledger_url.startswith("sqlite"):
        pytest.skip("fillfactor and HOT updates are PostgreSQL's")
    count = 400
    if made == "upgraded":
        make_old_ledger(ledger_url, extra_published=count)
        dispose_engines()
        engine = ledger_engine(ledger_url)
    else:
        engine = ledger_engine(ledger_url)
        rows, messages = _published_rows(100, count)
        with engine.begin() as connection:
            connection.execute(outbox.claims.insert(), rows)
            connection.execute(outbox.claim_messages.insert(), messages)
    with engine.connect() as connection:
        assert _fillfactor(connection) == [f"fillfactor={CLAIMS_FILLFACTOR}"]
        pages = connection.exec_driver_sql("SELECT pg_relation_size('claims') / 8192").scalar()
    assert pages >= 10, pages  # many pages, each with room left
    assert _hot_updates_of_settling(engine, list(range(100, 100 + count))) == (count, count)
    dispose_engines()
