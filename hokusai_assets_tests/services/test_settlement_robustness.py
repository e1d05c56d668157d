"""Settlements that must not jam the tick, or touch a claim they do not answer (issue 16), through a
real redis-server on a SQLite and a PostgreSQL 15 ledger.

1. Valid JSON whose text the ledger cannot store (a NUL escape, a lone surrogate; PostgreSQL text holds
   no NUL, UTF-8 no lone surrogate), or raw bytes that are not even JSON text: set aside with the reason,
   the rest of the batch applied, the processing list emptied, and the next tick clean.
2. A late settlement for a message a re-sign replaced: recorded, visible with its reason, and it changes
   neither the claim nor its chain link.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from hokusai.harness.servers import postgres, redis_server
from hokusai.harness.settlement_fixtures import claim_message, fake_relayer
from hokusai.settlement.database import dispose_engines, ledger_engine, sqlite_url
from hokusai.settlement.outbox import claim_settlements, get_claim, record_claim, record_or_resign
from hokusai.settlement.queues import DEFAULT_QUEUES as Q
from hokusai.settlement.relay import publish_pending, settlement_tick
from hokusai.settlement.settlement_messages import settlement_message

NOW = 1_800_000_000.0
SETTLED_AT = "2027-01-15T08:00:00Z"  # NOW + 3600 or so, as the relayer writes it


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def postgres_server():
    with postgres() as server:
        yield server


@pytest.fixture
def client(redis):
    client = redis.client()
    client.flushall()
    return client


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "ledger.db")
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"jam_{uuid.uuid4().hex[:8]}"
        server.create_database(name)
        url = server.url(name)
    yield url, ledger_engine(url)
    dispose_engines()


def published(engine, client, message: dict, now: float = NOW) -> None:
    record_claim(engine, message, token_id="digits-demo", partition_key=f"p/{message['eval_id']}", now=now)
    publish_pending(engine, client, keys=[message["idempotency_key"]], now=now)


def settlement(message: dict, status: str = "minted", **fields) -> dict:
    optional = {"tx_hash": "0x" + "ab" * 32, "block_number": 7} if status == "minted" else {}
    return settlement_message(message, status, settled_at=SETTLED_AT,
                              reward_amount="5" if status == "minted" else "0", **{**optional, **fields})


def logged(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(claim_settlements).order_by(claim_settlements.c.id)).all()


# -- 1. text the ledger cannot store ------------------------------------------------------------------

NUL, SURROGATE = "\x00", "\ud800"
# (name, how the settlement is spoiled, what the reason names)
POISONED = [
    ("nul_in_tx_hash", {"tx_hash": "0xab" + NUL}, "$.tx_hash"),
    ("nul_in_error", {"status": "error", "error": "nonce too low" + NUL}, "$.error"),
    ("nul_in_eval_id", {"eval_id": "eval" + NUL}, "$.eval_id"),
    ("nul_in_model_id", {"model_id": NUL}, "$.model_id"),
    ("nul_in_an_unknown_field", {"relayer_note": "a" + NUL + "b"}, "$.relayer_note"),
    ("nul_deep_in_an_unknown_field", {"relayer_trace": {"steps": ["ok", NUL]}}, "$.relayer_trace.steps[1]"),
    ("nul_in_an_unknown_key", {"x" + NUL: 1}, "$: a key"),
    ("surrogate_in_tx_hash", {"tx_hash": "0x" + SURROGATE}, "$.tx_hash"),
    ("surrogate_in_error", {"status": "error", "error": SURROGATE + " reverted"}, "$.error"),
    ("surrogate_in_an_unknown_field", {"relayer_note": SURROGATE}, "$.relayer_note"),
]


@pytest.mark.parametrize("name, spoiled, where", POISONED, ids=[case[0] for case in POISONED])
def test_a_settlement_the_ledger_cannot_store_is_set_aside_and_the_tick_goes_on(client, ledger, name, spoiled,
                                                                                 where):
    _, engine = ledger
    poisoned, good = claim_message(1), claim_message(2)
    published(engine, client, poisoned)
    published(engine, client, good)
    bad = json.dumps(settlement(poisoned, **{"status": "minted", **spoiled}))
    assert "\\u0000" in bad or "\\ud800" in bad  # the message itself is plain ASCII JSON
    client.lpush(Q.settlements, bad, json.dumps(settlement(good)))

    report = settlement_tick(engine, client, now=NOW + 10)
    assert [c.idempotency_key for c in report.settled.changes] == [good["idempotency_key"]]
    [(raw, reason)] = report.settled.rejected
    assert raw == bad and reason.startswith(where), reason
    kind = "a NUL character" if "\\u0000" in bad else "a lone surrogate"
    assert kind in reason and "cannot store" in reason, reason
    assert client.llen(Q.settlements_processing) == 0 and client.llen(Q.settlements) == 0
    assert get_claim(engine, poisoned["idempotency_key"]).status == "published"
    assert get_claim(engine, good["idempotency_key"]).status == "minted"
    rows = {row.outcome: row for row in logged(engine)}
    assert rows["rejected"].raw == bad and rows["rejected"].reason == reason
    # the next tick finds nothing left behind
    again = settlement_tick(engine, client, now=NOW + 20)
    assert again.settled.changes == [] and again.settled.rejected == [] and again.settled.duplicates == 0


def test_raw_bytes_the_ledger_cannot_store_are_set_aside_with_storable_text(client, ledger):
    """Not JSON, and not text the database takes either: a NUL byte, bytes that are not UTF-8. The raw
    text is logged with replacement characters; the bytes stay readable for the ack (Redis holds them)."""
    _, engine = ledger
    good = claim_message(3)
    published(engine, client, good)
    nul_byte = json.dumps(settlement(good)).replace('"minted"', '"min\x00ted"').encode()
    not_utf8 = b'{"status": "\xff\xfe"}'
    client.lpush(Q.settlements, nul_byte, not_utf8, json.dumps(settlement(good)))

    report = settlement_tick(engine, client, now=NOW + 10)
    assert [c.status for c in report.settled.changes] == ["minted"]
    assert len(report.settled.rejected) == 2
    assert all(reason.startswith("not JSON") for _, reason in report.settled.rejected)
    assert client.llen(Q.settlements_processing) == 0
    stored = sorted(row.raw for row in logged(engine) if row.outcome == "rejected")
    assert stored == sorted(['{"status": "\ufffd\ufffd"}', nul_byte.decode().replace("\x00", "\ufffd")])
    assert settlement_tick(engine, client, now=NOW + 20).settled.rejected == []


def test_text_with_a_lone_surrogate_handed_to_the_outbox_is_set_aside_too(ledger):
    """Text read from Redis keeps bytes that are not UTF-8 as escapes; a caller's text may hold any
    surrogate, and its hash and its logged text must not fail either."""
    from hokusai.settlement.outbox import apply_settlements

    _, engine = ledger
    report = apply_settlements(engine, ['{"status": "\ud800"}'], now=NOW)
    [(_, reason)] = report.rejected
    assert reason.startswith("not JSON")
    [row] = logged(engine)
    assert row.raw == '{"status": "\ufffd\ufffd\ufffd"}'  # its three bytes (surrogatepass), each replaced
    assert apply_settlements(engine, ['{"status": "\ud800"}'], now=NOW).duplicates == 1
