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

import pytest
from sqlalchemy import select

from hokusai.harness.settlement_fixtures import claim_message, fake_relayer
from hokusai.settlement.database import dispose_engines, ledger_engine
from hokusai.settlement.outbox import claim_settlements, get_claim, record_claim, record_or_resign
from hokusai.settlement.queues import DEFAULT_QUEUES as Q
from hokusai.settlement.relay import publish_pending, settlement_tick
from hokusai.settlement.settlement_messages import settlement_message

NOW = 1_800_000_000.0
SETTLED_AT = "2027-01-15T08:00:00Z"  # NOW + 3600 or so, as the relayer writes it


@pytest.fixture
def ledger(ledger_url):
    yield ledger_url, ledger_engine(ledger_url)
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
    # longer than the ledger's columns (PostgreSQL varchar): the same jam
    ("tx_hash_too_long", {"tx_hash": "0x" + "a" * 79}, "$.tx_hash: at most 80 characters"),
    ("gas_used_too_long", {"gas_used": "1" * 81}, "$.gas_used: at most 80 characters"),
    ("gas_used_too_large", {"gas_used": 10**80}, "$.gas_used: at most 80 characters"),
    ("reward_amount_too_long", {"reward_amount": "1" * 81}, "$.reward_amount: at most 80 characters"),
    ("settled_at_too_long", {"settled_at": "2026-05-05T12:05:00.123456+12:34:56.123456"},
     "$.settled_at: at most 40 characters"),
]


@pytest.mark.parametrize("name, spoiled, where", POISONED, ids=[case[0] for case in POISONED])
def test_a_settlement_the_ledger_cannot_store_is_set_aside_and_the_tick_goes_on(client, ledger, name, spoiled,
                                                                                 where):
    _, engine = ledger
    poisoned, good = claim_message(1), claim_message(2)
    published(engine, client, poisoned)
    published(engine, client, good)
    bad = json.dumps({**settlement(poisoned, status=spoiled.get("status", "minted")), **spoiled})
    assert bad.isascii()  # the message itself is plain ASCII JSON
    client.lpush(Q.settlements, bad, json.dumps(settlement(good)))

    report = settlement_tick(engine, client, now=NOW + 10)
    assert [c.idempotency_key for c in report.settled.changes] == [good["idempotency_key"]]
    [(raw, reason)] = report.settled.rejected
    assert raw == bad and reason.startswith(where), reason
    if name.startswith(("nul", "surrogate")):
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


# -- 2. a settlement for a message that a re-sign replaced -------------------------------------------

GENESIS, CANDIDATE = "0x" + "11" * 32, "0x" + "22" * 32


def resigned_claim(url, engine, client):
    """A claim published with a short deadline, its chain link pending; its signature expired unsettled and
    a re-run re-signed it (attempt 2, published too). Both messages are on the relayer's queue, old first."""
    from hokusai.chain.ledger import ChainLink, Chain

    old = claim_message(5, deadline=int(NOW) + 100)
    published(engine, client, old)
    chain = Chain(url)
    chain.start(ChainLink("digits-demo", 0, "genesis", GENESIS, "0x" + "00" * 32, 0, "models:/genesis"))
    link = ChainLink("digits-demo", 1, "pending", CANDIDATE, "0x" + "33" * 32, 10, "models:/candidate",
                     parent_commitment=GENESIS, partition_key=f"p/{old['eval_id']}",
                     idempotency_key=old["idempotency_key"])
    assert chain.append(link).appended
    fresh = {**old, "message_id": "msg-5-resigned", "deadline": int(NOW) + 10_000,
             "attester_signatures": ["0x" + "cd" * 65]}
    _, action = record_or_resign(engine, fresh, token_id="digits-demo", partition_key=f"p/{old['eval_id']}",
                                 now=NOW + 200)
    assert action == "re-signed"
    publish_pending(engine, client, keys=[old["idempotency_key"]], now=NOW + 200)
    assert client.llen(Q.mint_requests) == 2 and get_claim(engine, old["idempotency_key"]).attempt == 2
    return chain, old, fresh


def expect_untouched(engine, chain, old, report, reason_has: str) -> None:
    from hokusai.chain.settlement import reconcile

    assert report.settled.changes == [] and report.settled.rejected == []
    [(raw, reason)] = report.settled.superseded
    assert reason_has in reason and reason.endswith("recorded, nothing changed"), reason
    assert "1 for a replaced message" in report.summary
    row = get_claim(engine, old["idempotency_key"])
    assert (row.status, row.attempt, row.error, row.tx_hash) == ("published", 2, None, None)
    assert json.loads(row.message)["message_id"] == "msg-5-resigned"
    assert reconcile(chain, now=NOW + 400) == []  # the new message's link is not rolled back
    assert chain.link_by_key(old["idempotency_key"]).state == "pending"
    assert chain.rebase_requested(f"p/{old['eval_id']}") is None
    [entry] = [e for e in logged(engine) if e.outcome == "superseded"]
    assert (entry.raw, entry.reason, entry.status) == (raw, reason, json.loads(raw)["status"])


def expect_current_settles(engine, client, chain, old) -> None:
    from hokusai.chain.settlement import reconcile

    assert fake_relayer(client, lambda m: "minted", settled_at=SETTLED_AT) == {"minted": 1}
    [change] = settlement_tick(engine, client, now=NOW + 500).settled.changes
    assert (change.previous, change.status) == ("published", "minted")
    assert [event.action for event in reconcile(chain, now=NOW + 500)] == ["settled"]
    assert chain.link_by_key(old["idempotency_key"]).state == "minted"


@pytest.mark.parametrize("error", ["SignatureExpired({deadline}, {now})", "SignatureExpired"],
                         ids=["with_its_deadline", "bare"])
def test_a_late_signature_expired_for_the_replaced_message_changes_neither_claim_nor_link(client, ledger, error):
    """The upstream relayer's format: no message id. A SignatureExpired names the deadline it refused, or
    else came at ``settled_at``; either way not the current message, valid for hours more."""
    url, engine = ledger
    chain, old, fresh = resigned_claim(url, engine, client)
    text = error.format(deadline=old["deadline"], now=int(NOW) + 250)
    assert fake_relayer(client, lambda m: f"error:{text}", max_messages=1, settled_at=SETTLED_AT) == {"error": 1}
    report = settlement_tick(engine, client, now=NOW + 300)
    expect_untouched(engine, chain, old, report, "re-signed")
    assert client.llen(Q.settlements_processing) == 0
    expect_current_settles(engine, client, chain, old)


@pytest.mark.parametrize("answer", ["error:SignatureExpired", "error:nonce too low", "budget_blocked"])
def test_a_settlement_naming_the_replaced_message_is_recorded_and_changes_nothing(client, ledger, answer):
    """A relayer that says which message it answers (``message_id``): matched exactly. Its key is not spent,
    so the current message is still live, and its own answer is the one that counts."""
    url, engine = ledger
    chain, old, _ = resigned_claim(url, engine, client)
    assert fake_relayer(client, lambda m: answer, max_messages=1, echo_message_id=True, settled_at=SETTLED_AT)
    report = settlement_tick(engine, client, now=NOW + 300)
    expect_untouched(engine, chain, old, report, "'msg-5'")
    assert fake_relayer(client, lambda m: "error:nonce too low", echo_message_id=True, settled_at=SETTLED_AT)
    [change] = settlement_tick(engine, client, now=NOW + 310).settled.changes  # the current one: as before
    assert (change.status, get_claim(engine, old["idempotency_key"]).error) == ("error", "nonce too low")


@pytest.mark.parametrize("bare", [False, True], ids=["with_its_deadline", "bare"])
def test_a_signature_expired_for_the_current_message_still_rolls_it_back(client, ledger, bare):
    """Unchanged: the current message's own SignatureExpired (its deadline, or a time past it) applies, and
    the chain re-bases."""
    from datetime import datetime, timezone

    from hokusai.chain.settlement import reconcile

    url, engine = ledger
    chain, old, fresh = resigned_claim(url, engine, client)
    client.delete(Q.mint_requests)
    late = settlement(fresh, "error", error=f"SignatureExpired({fresh['deadline']}, {fresh['deadline'] + 5})")
    if bare:
        settled_at = datetime.fromtimestamp(fresh["deadline"] + 5, timezone.utc).isoformat()
        late = {**late, "error": "SignatureExpired", "settled_at": settled_at}
    client.lpush(Q.settlements, json.dumps(late))
    [change] = settlement_tick(engine, client, now=NOW + 300).settled.changes
    assert (change.previous, change.status) == ("published", "error")
    assert [event.action for event in reconcile(chain, now=NOW + 300)] == ["rolled_back"]
    assert chain.rebase_requested(f"p/{old['eval_id']}")


@pytest.mark.parametrize("status, link", [("minted", "minted"), ("no_delta", "rolled_back")])
def test_the_replaced_message_spending_the_key_settles_the_claim_all_the_same(client, ledger, status, link):
    """The old message paid (it was submitted just before its deadline, and answered after the re-sign):
    the key is spent on chain, so the relayer skips the current message and nothing else will answer.
    Every message under one key carries the same evidence, so the claim takes that outcome, noted."""
    from hokusai.chain.settlement import reconcile

    url, engine = ledger
    chain, old, _ = resigned_claim(url, engine, client)
    assert fake_relayer(client, lambda m: status, max_messages=1, echo_message_id=True, settled_at=SETTLED_AT)
    [change] = settlement_tick(engine, client, now=NOW + 300).settled.changes
    assert (change.previous, change.status) == ("published", status)
    [entry] = logged(engine)
    assert entry.outcome == "applied" and "'msg-5'" in entry.reason and "applied all the same" in entry.reason
    assert [event.action for event in reconcile(chain, now=NOW + 300)] == [
        "settled" if link == "minted" else "rolled_back"]
    assert chain.link_by_key(old["idempotency_key"]).state == link
    assert fake_relayer(client, lambda m: "minted", echo_message_id=True) == {"skipped": 1}


def test_a_signature_expired_with_an_absurd_deadline_does_not_jam_the_tick(ledger):
    """The deadline in the error text is read only when it can be one (a uint256): 5,000 digits would make
    Python's int() raise inside the tick's transaction. Such a text falls back to its time, as a bare one."""
    from hokusai.settlement.outbox import apply_settlements, claims_to_publish, mark_published

    _, engine = ledger
    message = claim_message(6)
    record_claim(engine, message, token_id="digits-demo", partition_key="p/6", now=NOW)
    mark_published(engine, claims_to_publish(engine, 10), now=NOW)
    absurd = settlement(message, "error", error="SignatureExpired(" + "9" * 5000 + ", 1)")
    report = apply_settlements(engine, [json.dumps(absurd)], now=NOW)
    [(_, reason)] = report.superseded  # settled in 2027, the claim valid until 2100: not this message
    assert reason.startswith("SignatureExpired at 2027-01-15T08:00:00Z")
    assert get_claim(engine, message["idempotency_key"]).status == "published"
