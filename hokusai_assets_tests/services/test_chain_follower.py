"""The links of the claims a settlement tick mints are settled in the tick's own transaction
(``ChainFollower``), on SQLite and a real PostgreSQL 15, with a real redis-server: the chain ends as
``reconcile`` alone left it, with the same events; and on PostgreSQL a link's change of state is a HOT
update (``chain_links`` pages keep room: ``fillfactor``), on new ledgers and on upgraded ones."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from hokusai.chain.ledger import GENESIS, LINKS_FILLFACTOR, Chain, ChainLink, heads, links
from hokusai.chain.settlement import ChainFollower, reconcile
from hokusai.harness.settlement_fixtures import claim_message
from hokusai.settlement.database import METADATA, dispose_engines, ledger_engine, make_engine, sqlite_url
from hokusai.settlement.outbox import mark_published, claims_to_publish, record_claim
from hokusai.settlement.queues import DEFAULT_QUEUES, redis_client
from hokusai.settlement.relay import settlement_tick
from hokusai.settlement.settlement_messages import settlement_message

TOKEN = "digits-demo"
SETTLED_AT = "2026-06-11T12:00:00.000Z"


def _commitment(position: int) -> str:
    return "0x" + f"{position:064x}"


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request, tmp_path):
    """Makes the URL of a new, empty ledger of this test's kind, each call another."""
    def make() -> str:
        name = f"ledger_{uuid.uuid4().hex[:8]}"
        if request.param == "sqlite":
            return sqlite_url(tmp_path / f"{name}.db")
        server = request.getfixturevalue("postgres_server")
        server.create_database(name)
        return server.url(name)
    yield make
    dispose_engines()


def published_chain(url: str, count: int) -> tuple[Chain, list[dict]]:
    """``count`` published claims, each the pending link after the one before (genesis first)."""
    engine = ledger_engine(url)
    chain = Chain(url)
    chain.start(ChainLink(TOKEN, 0, GENESIS, _commitment(0), _commitment(0), 10, "models:/genesis"))
    messages = []
    for index in range(count):
        message = claim_message(index)
        partition_key = f"{TOKEN}/0xwallet/{index}.csv@1"
        record_claim(engine, message, token_id=TOKEN, partition_key=partition_key)
        result = chain.append(ChainLink(TOKEN, index + 1, "pending", _commitment(index + 1), _commitment(index + 1),
                                        10, f"models:/m-{index}", parent_commitment=_commitment(index),
                                        partition_key=partition_key, idempotency_key=message["idempotency_key"]))
        assert result.appended
        messages.append(message)
    assert len(mark_published(engine, claims_to_publish(engine, count))) == count
    return chain, messages


def answer(client, messages: list[dict], statuses: list[str]) -> None:
    for message, status in zip(messages, statuses):
        client.lpush(DEFAULT_QUEUES.settlements, json.dumps(settlement_message(message, status, settled_at=SETTLED_AT)))


def states(chain: Chain) -> list[tuple[int, str]]:
    with chain.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(links.c.position, links.c.state)
                                                         .order_by(links.c.position))]


def test_the_tick_settles_its_minted_claims_links_and_the_chain_ends_as_reconcile_left_it(new_url, redis, client):
    # minted, no_delta, minted: the third link is built on the second, which is rolled back
    statuses = ["minted", "no_delta", "minted"]
    before_chain, before_messages = published_chain(new_url(), 3)
    answer(client, before_messages, statuses)
    settlement_tick(before_chain.engine, redis_client(redis.url))
    before_events = reconcile(before_chain)  # as the sensor followed before: all of it after the tick

    chain, messages = published_chain(new_url(), 3)
    answer(client, messages, statuses)
    follower = ChainFollower()
    report = settlement_tick(chain.engine, redis_client(redis.url), on_changes=follower)
    assert [c.status for c in report.settled.changes] == statuses
    # in the tick's transaction: the minted claims' links, newest first as reconcile orders them
    assert [(e.idempotency_key, e.action) for e in follower.events] == [
        (messages[2]["idempotency_key"], "settled"), (messages[0]["idempotency_key"], "settled")]
    assert states(chain) == [(0, "genesis"), (1, "minted"), (2, "pending"), (3, "minted")]
    events = follower.events + reconcile(chain)
    assert sorted(events) == sorted(before_events)
    assert {e.model_name for e in events} == {m["model_id"] for m in messages}
    assert states(chain) == states(before_chain) == [(0, "genesis"), (1, "minted"), (2, "rolled_back"),
                                                     (3, "orphaned")]
    with chain.engine.connect() as connection:
        assert connection.execute(select(heads.c.head_position)).scalar() == 1
    assert reconcile(chain) == []


def test_a_settlement_without_a_link_or_not_minted_leaves_the_chain_to_reconcile(new_url, redis, client):
    chain, messages = published_chain(new_url(), 2)
    extra = claim_message(7)
    record_claim(chain.engine, extra, token_id=TOKEN, partition_key=f"{TOKEN}/0xwallet/7.csv@1")  # no link
    mark_published(chain.engine, claims_to_publish(chain.engine, 1))
    answer(client, [messages[0], messages[1], extra], ["budget_blocked", "error", "minted"])
    follower = ChainFollower()
    report = settlement_tick(chain.engine, redis_client(redis.url), on_changes=follower)
    assert len(report.settled.changes) == 3 and follower.events == []
    assert states(chain) == [(0, "genesis"), (1, "pending"), (2, "pending")]


def _fillfactor(connection) -> list[str]:
    return connection.exec_driver_sql(
        "SELECT reloptions FROM pg_class WHERE oid = 'chain_links'::regclass").scalar() or []


def _hot_updates_of_settling(chain: Chain, keys: list[str]) -> int:
    """How many of the links' updates, when ``ChainFollower`` settles them, are HOT (this transaction's count)."""
    from hokusai.settlement.outbox import ClaimChange

    changes = [ClaimChange(key, None, TOKEN, "1", "0x", "e", "model", "published", "minted") for key in keys]
    with chain.engine.begin() as connection:
        ChainFollower()(connection, changes)
        return connection.exec_driver_sql(
            "SELECT pg_stat_get_xact_tuples_hot_updated('chain_links'::regclass)").scalar()


def test_on_postgresql_settling_a_tick_of_links_is_a_hot_update(new_url, request):
    if "postgresql" not in request.node.callspec.id:
        pytest.skip("fillfactor and HOT updates are PostgreSQL's")
    count = 200  # a few pages: full pages could not take a new version of their rows
    chain, messages = published_chain(new_url(), count)
    with chain.engine.connect() as connection:
        assert _fillfactor(connection) == [f"fillfactor={LINKS_FILLFACTOR}"]
    hot = _hot_updates_of_settling(chain, [m["idempotency_key"] for m in messages])
    assert hot >= 0.9 * count, hot


def test_a_ledger_made_before_the_fillfactor_is_upgraded_in_place(new_url):
    """The previous code made ``chain_links`` with full pages: the upgrade sets the room for the pages to
    come, keeps every link, and runs once."""
    url = new_url()
    engine = make_engine(url)
    rows = [{"token_id": TOKEN, "position": i, "state": GENESIS if i == 0 else "pending", "commitment": _commitment(i),
             "parent_commitment": _commitment(i - 1) if i else None, "rows_root": _commitment(i), "rows_count": 10,
             "model_uri": f"models:/m-{i}", "partition_key": f"{TOKEN}/0xwallet/{i}.csv@1",
             "idempotency_key": _commitment(1000 + i), "created_at": "2026-06-11T12:00:00+00:00",
             "updated_at": "2026-06-11T12:00:00+00:00"} for i in range(50)]
    with engine.begin() as connection:
        METADATA.create_all(connection)  # the tables as the previous code made them: no upgrade ran
        if engine.dialect.name == "postgresql":
            assert _fillfactor(connection) == []
        connection.execute(links.insert(), rows)
        old = connection.execute(select(links).order_by(links.c.link_id)).all()
    engine.dispose()

    upgraded = ledger_engine(url)
    with upgraded.connect() as connection:
        assert connection.execute(select(links).order_by(links.c.link_id)).all() == old
        if upgraded.dialect.name == "postgresql":
            assert _fillfactor(connection) == [f"fillfactor={LINKS_FILLFACTOR}"]
    from hokusai.settlement.database import create_tables

    create_tables(upgraded)  # a second run finds nothing to do
    with upgraded.connect() as connection:
        assert connection.execute(select(links).order_by(links.c.link_id)).all() == old
        if upgraded.dialect.name == "postgresql":
            assert _fillfactor(connection) == [f"fillfactor={LINKS_FILLFACTOR}"]
