"""The claims outbox on a real SQLite file: record once, settle idempotently, retry on purpose."""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest
from sqlalchemy import func, select

from hokusai.settlement import outbox
from hokusai.settlement.database import dispose_engines, ledger_engine, make_engine, sqlite_url
from hokusai.settlement.outbox import (
    RetryPolicy,
    apply_settlements,
    claim_settlements,
    claims_to_publish,
    get_claim,
    mark_published,
    promote_due_retries,
    record_claim,
    retry_claim,
    settle_locally,
)
from hokusai.settlement.settlement_messages import settlement_message, settlement_problems
from hokusai.harness.settlement_fixtures import EXAMPLE, SETTLEMENTS, claim_message

NOW = 1_800_000_000.0


@pytest.fixture
def engine(tmp_path):
    yield ledger_engine(sqlite_url(tmp_path / "ledger.db"))
    dispose_engines()


def settle(claim: dict, status: str, **optional) -> str:
    return json.dumps(settlement_message(claim, status, settled_at="2026-06-11T12:00:00Z", **optional))


def published(engine, message: dict) -> None:
    record_claim(engine, message, token_id="digits-demo", partition_key=f"p/{message['eval_id']}", now=NOW)
    pending = claims_to_publish(engine, 10, [message["idempotency_key"]])
    assert [c.status for c in mark_published(engine, pending, now=NOW)] == ["published"]


def test_recording_twice_is_a_no_op(engine):
    message = claim_message(1)
    row, created = record_claim(engine, message, token_id="digits-demo", partition_key="p/1", now=NOW)
    assert created and (row.status, row.attempt, row.partition_key) == ("recorded", 1, "p/1")
    changed = {**message, "message_id": "another"}
    again, created = record_claim(engine, changed, token_id="digits-demo", partition_key="p/1", now=NOW + 5)
    assert not created and json.loads(again.message)["message_id"] == "msg-1" and again.recorded_at == NOW
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(outbox.claims)).scalar() == 1


def test_the_fixture_settlements_are_valid_and_the_malformed_ones_are_not():
    for status, message in SETTLEMENTS["valid"].items():
        assert settlement_problems(message) == [] and message["status"] == status
    for case in SETTLEMENTS["malformed"]:
        try:
            message = json.loads(case["raw"])
        except ValueError:
            continue  # not JSON: the consumer's parser reports it (test below)
        assert any(case["problem"] in p for p in settlement_problems(message)), case["name"]


def test_a_message_id_is_a_string_when_present():
    """What a relayer that says which signed message it answers adds (docs/claims.md)."""
    valid = SETTLEMENTS["valid"]["minted"]
    assert settlement_problems({**valid, "message_id": "msg-1"}) == []
    assert [p[:13] for p in settlement_problems({**valid, "message_id": 7})] == ["$.message_id:"]


@pytest.mark.parametrize("field, value", [
    ("reward_amount", "5\n"), ("reward_amount", "\u0665"), ("gas_used", "21000\n"), ("model_id_uint", "21\n"),
    ("model_id_uint", "2\u0663"), ("idempotency_key", "0x" + "ab" * 32 + "\n")])
def test_numbers_and_hashes_are_ascii_to_the_end_of_the_text(field, value):
    """As the relayer's JavaScript patterns read them: ``$`` is the end of the text, ``\\d`` only 0-9
    (Python's ``$`` lets one trailing newline through, its ``\\d`` every script's digits)."""
    problems = settlement_problems({**SETTLEMENTS["valid"]["minted"], field: value})
    assert [p.split(":")[0] for p in problems] == [f"$.{field}"], problems


@pytest.mark.parametrize("status", ["minted", "no_delta", "replay", "budget_blocked", "error"])
def test_each_status_is_applied_and_reported(engine, status):
    published(engine, EXAMPLE)
    raw = json.dumps(SETTLEMENTS["valid"][status])
    report = apply_settlements(engine, [raw], now=NOW)
    [change] = report.changes
    assert (change.previous, change.status, change.partition_key) == ("published", status, f"p/{EXAMPLE['eval_id']}")
    assert change.settlement == SETTLEMENTS["valid"][status]
    row = get_claim(engine, EXAMPLE["idempotency_key"])
    expected = SETTLEMENTS["valid"][status]
    assert (row.status, row.reward_amount, row.tx_hash, row.error, row.settled_by) == (
        status, expected["reward_amount"], expected.get("tx_hash"), expected.get("error"), "relayer")
    again = apply_settlements(engine, [raw], now=NOW + 1)  # re-read after a crash before the ack
    assert again.changes == [] and again.duplicates == 1


def test_a_final_claim_is_never_changed_by_a_later_settlement(engine):
    published(engine, EXAMPLE)
    apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["minted"])], now=NOW)
    report = apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["error"])], now=NOW)
    assert report.changes == [] and report.unchanged == 1
    assert get_claim(engine, EXAMPLE["idempotency_key"]).status == "minted"


def test_malformed_and_foreign_settlements_are_set_aside_with_a_reason(engine):
    published(engine, EXAMPLE)
    other = claim_message(99)
    foreign = json.dumps({**SETTLEMENTS["valid"]["minted"], "attestation_hash": other["attestation_hash"]})
    raws = [case["raw"] for case in SETTLEMENTS["malformed"]] + [settle(other, "minted"), foreign]
    report = apply_settlements(engine, raws, now=NOW)
    assert report.changes == [] and len(report.rejected) == len(raws)
    reasons = [reason for _, reason in report.rejected]
    for case, reason in zip(SETTLEMENTS["malformed"], reasons):
        assert case["problem"] in reason, (case["name"], reason)
    assert reasons[-2] == f"no claim with idempotency key {other['idempotency_key']}"
    assert "is not the claim's" in reasons[-1]
    with engine.connect() as connection:
        logged = connection.execute(select(claim_settlements.c.outcome, claim_settlements.c.reason)).all()
    assert [outcome for outcome, _ in logged] == ["rejected"] * len(raws)
    assert get_claim(engine, EXAMPLE["idempotency_key"]).status == "published"


def test_numbers_are_read_as_json_reads_them_and_one_beyond_the_ledger_is_set_aside(engine):
    """orjson reads an integer beyond 64 bits as a float; json as the integer it is. A block number
    beyond BIGINT used to fail the whole batch's write (every later tick again): now it is set aside."""
    published(engine, EXAMPLE)
    other = claim_message(7)
    published(engine, other)
    huge_gas = json.dumps({**SETTLEMENTS["valid"]["minted"], "gas_used": 10**23})
    huge_block = json.dumps(settlement_message(other, "minted", settled_at="2026-06-11T12:00:00Z",
                                               block_number=2**63))
    report = apply_settlements(engine, [huge_gas, huge_block], now=NOW)
    assert [c.idempotency_key for c in report.changes] == [EXAMPLE["idempotency_key"]]
    assert get_claim(engine, EXAMPLE["idempotency_key"]).gas_used == str(10**23)
    [(raw, reason)] = report.rejected
    assert raw == huge_block and reason.startswith("$.block_number: must be an integer >= 0 (at most 2**63 - 1)")
    assert get_claim(engine, other["idempotency_key"]).status == "published"


def test_a_transient_error_is_retried_with_backoff_then_left_for_the_operator(engine):
    policy = RetryPolicy(max_error_retries=2, error_retry_base_seconds=10)
    published(engine, EXAMPLE)
    key, now = EXAMPLE["idempotency_key"], NOW
    for attempt, delay in ((1, 10), (2, 20)):
        apply_settlements(engine, [settle(EXAMPLE, "error", error=f"nonce too low #{attempt}")], now=now,
                          policy=policy)
        row = get_claim(engine, key)
        assert (row.status, row.error_retries, row.next_retry_at) == ("error", attempt, now + delay)
        assert promote_due_retries(engine, now=now + delay - 1) == []
        [change] = promote_due_retries(engine, now=now + delay)
        assert (change.previous, change.status) == ("error", "recorded")
        assert get_claim(engine, key).attempt == attempt + 1
        assert [c.status for c in mark_published(engine, claims_to_publish(engine, 10), now=now)] == ["published"]
        now += delay
    apply_settlements(engine, [settle(EXAMPLE, "error", error="nonce too low #3")], now=now, policy=policy)
    row = get_claim(engine, key)
    assert (row.status, row.error_retries, row.next_retry_at) == ("error", 2, None)  # the operator's now


def test_an_error_a_republish_cannot_cure_is_not_retried(engine):
    published(engine, EXAMPLE)
    apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["error"])], now=NOW)  # LineageParentMismatch
    assert get_claim(engine, EXAMPLE["idempotency_key"]).next_retry_at is None
    assert promote_due_retries(engine, now=NOW + 10**6) == []


def test_budget_blocked_is_retried_on_request_as_a_new_attempt(engine):
    published(engine, EXAMPLE)
    key = EXAMPLE["idempotency_key"]
    apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["budget_blocked"])], now=NOW)
    assert get_claim(engine, key).next_retry_at is None  # a top-up is a human act: no automatic retry
    with pytest.raises(ValueError, match="another claim"):
        retry_claim(engine, key, claim_message(5), now=NOW)
    change = retry_claim(engine, key, now=NOW)
    assert (change.previous, change.status) == ("budget_blocked", "recorded")
    assert get_claim(engine, key).attempt == 2
    with pytest.raises(ValueError, match="only budget_blocked or error"):
        retry_claim(engine, key, now=NOW)


def test_budget_blocked_is_retried_by_itself_when_a_delay_is_set(engine):
    published(engine, EXAMPLE)
    apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["budget_blocked"])], now=NOW,
                      policy=RetryPolicy(budget_retry_seconds=3600))
    assert promote_due_retries(engine, now=NOW + 3599) == []
    assert [c.status for c in promote_due_retries(engine, now=NOW + 3600)] == ["recorded"]


def test_an_expired_claim_is_not_republished_but_can_be_re_signed(engine):
    message = claim_message(7, deadline=int(NOW) + 100)
    published(engine, message)
    key = message["idempotency_key"]
    apply_settlements(engine, [settle(message, "budget_blocked", error="MintBudgetExceeded")], now=NOW,
                      policy=RetryPolicy(budget_retry_seconds=50))
    assert promote_due_retries(engine, now=NOW + 200) == []  # due, but its deadline has passed
    row = get_claim(engine, key)
    assert (row.status, row.next_retry_at) == ("budget_blocked", None) and "re-sign" in row.error
    with pytest.raises(ValueError, match="signature has expired"):
        retry_claim(engine, key, now=NOW + 200)
    fresh = {**message, "deadline": int(NOW) + 10_000, "message_id": "msg-7-resigned"}
    retry_claim(engine, key, fresh, now=NOW + 200)
    row = get_claim(engine, key)
    assert (row.status, row.deadline, json.loads(row.message)["message_id"]) == (
        "recorded", fresh["deadline"], "msg-7-resigned")


def test_a_failing_change_handler_rolls_everything_back(engine):
    published(engine, EXAMPLE)

    def chain_code(connection, changes):
        assert [c.status for c in changes] == ["minted"]
        raise RuntimeError("the lineage chain could not advance")

    with pytest.raises(RuntimeError):
        apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["minted"])], now=NOW, on_changes=chain_code)
    assert get_claim(engine, EXAMPLE["idempotency_key"]).status == "published"
    report = apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["minted"])], now=NOW)
    assert [c.status for c in report.changes] == ["minted"]  # not taken for a duplicate


def test_local_settlement_mints_a_recorded_claim_once(engine):
    record_claim(engine, EXAMPLE, now=NOW)
    report = settle_locally(engine, EXAMPLE["idempotency_key"], now=NOW)
    assert [(c.previous, c.status) for c in report.changes] == [("recorded", "minted")]
    row = get_claim(engine, EXAMPLE["idempotency_key"])
    assert (row.status, row.settled_by) == ("minted", "local")
    assert settle_locally(engine, EXAMPLE["idempotency_key"], now=NOW).changes == []


def _create_tables_at_once(url: str, barrier, index: int) -> None:
    from hokusai.settlement import outbox as declared  # noqa: F401
    from hokusai.settlement.database import ledger_engine as engine_for
    from hokusai.settlement.outbox import record_claim as record
    from hokusai.harness.settlement_fixtures import claim_message as message_for

    barrier.wait()
    record(engine_for(url), message_for(index))


@pytest.mark.parametrize("processes", [4])
def test_tables_are_created_safely_when_processes_start_at_once(tmp_path, processes):
    url = sqlite_url(tmp_path / "fresh" / "ledger.db")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    workers = [context.Process(target=_create_tables_at_once, args=(url, barrier, i)) for i in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * processes
    with make_engine(url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(outbox.claims)).scalar() == processes
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a commit is on disk


def test_only_psycopg2_postgres_urls_are_taken():
    with pytest.raises(ValueError, match="postgresql\\+psycopg2://"):
        make_engine("postgresql://u:p@127.0.0.1:1/db")
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://u:p@127.0.0.1/db")


def test_ledger_engine_creates_tables_declared_later(tmp_path):
    from sqlalchemy import Column, Integer, Table, inspect

    from hokusai.settlement.database import METADATA

    url = sqlite_url(tmp_path / "ledger.db")
    ledger_engine(url)
    table = Table("chain_test_heads", METADATA, Column("id", Integer, primary_key=True))
    try:
        assert "chain_test_heads" in inspect(ledger_engine(url)).get_table_names()
    finally:
        METADATA.remove(table)
        dispose_engines()
    time.sleep(0)


def test_the_cli_lists_claims_and_retries_a_blocked_one(tmp_path, monkeypatch, capsys):
    from hokusai.cli import main

    monkeypatch.setenv("HOKUSAI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HOKUSAI_LEDGER_URL", raising=False)
    engine = ledger_engine(sqlite_url(tmp_path / "home" / "ledger.db"))
    published(engine, EXAMPLE)
    apply_settlements(engine, [json.dumps(SETTLEMENTS["valid"]["budget_blocked"])], now=NOW)
    assert main(["claims", "list"]) == 0
    assert f"{EXAMPLE['idempotency_key']} budget_blocked" in capsys.readouterr().out
    assert main(["claims", "retry", EXAMPLE["idempotency_key"]]) == 0
    assert get_claim(engine, EXAMPLE["idempotency_key"]).status == "recorded"
    assert main(["claims", "retry", EXAMPLE["idempotency_key"]]) == 2
    assert "only budget_blocked or error" in capsys.readouterr().err
    dispose_engines()


def test_retrying_an_unknown_claim_names_the_key(engine):
    from hokusai.settlement.outbox import UnknownClaimError

    with pytest.raises(UnknownClaimError, match="no claim with idempotency key 0xabc"):
        retry_claim(engine, "0xabc", now=NOW)


# -- one idempotency key, one signed message (issue 16: a re-materialized partition signed a new
# message under the key while the outbox kept the first) ------------------------------------------

def resigned(message: dict, tag: str, deadline: int) -> dict:
    """The same claim signed again: another id, time, deadline and signature, the same evidence."""
    return {**message, "message_id": f"msg-{tag}", "timestamp": f"2026-06-11T12:00:{tag}Z", "deadline": deadline,
            "attester_signatures": ["0x" + tag * 130][:1]}


def test_a_re_signed_live_claim_is_answered_with_the_recorded_message(engine):
    from hokusai.settlement.outbox import REUSED, record_or_resign, resolve_claim

    message = claim_message(11, deadline=int(NOW) + 3600)
    record_claim(engine, message, now=NOW)
    again = resigned(message, "b", int(NOW) + 7200)
    assert outbox.evidence_differences(message, again) == []
    resolution = resolve_claim(engine, again, now=NOW + 10)
    assert (resolution.action, resolution.message) == (REUSED, message)
    row, action = record_or_resign(engine, again, now=NOW + 10)
    assert action == REUSED and json.loads(row.message) == message and row.attempt == 1


def test_other_evidence_under_a_recorded_key_is_refused_and_changes_nothing(engine):
    from hokusai.settlement.outbox import ClaimConflict, resolve_claim

    message = claim_message(12, deadline=int(NOW) + 3600)
    record_claim(engine, message, now=NOW)
    other = {**message, "contributors": [{**message["contributors"][0], "wallet_address": "0x" + "ab" * 20}],
             "totalSamples": message["totalSamples"] + 1}
    for now in (NOW + 10, NOW + 7200):  # live or expired: other evidence is never a re-signing
        with pytest.raises(ClaimConflict, match="contributors, totalSamples differ"):
            resolve_claim(engine, other, now=now)
        with pytest.raises(ClaimConflict, match=message["idempotency_key"]):
            record_claim(engine, other, now=now)
    row = get_claim(engine, message["idempotency_key"])
    assert json.loads(row.message) == message and (row.status, row.attempt) == ("recorded", 1)


@pytest.mark.parametrize("status", ["budget_blocked", "error"])
def test_an_expired_unsettled_claim_is_replaced_by_its_re_signing_as_a_new_attempt(engine, status):
    from hokusai.settlement.outbox import RESIGNED, REUSED, record_or_resign, resolve_claim

    message = claim_message(13, deadline=int(NOW) + 100)
    published(engine, message)
    apply_settlements(engine, [settle(message, status, error="MintBudgetExceeded")], now=NOW)
    fresh = resigned(message, "c", int(NOW) + 10_000)
    assert resolve_claim(engine, fresh, now=NOW + 50).action == REUSED  # still live: the recorded one stands
    assert resolve_claim(engine, fresh, now=NOW + 200).action == RESIGNED
    row, action = record_or_resign(engine, fresh, now=NOW + 200)
    assert action == RESIGNED and json.loads(row.message) == fresh
    assert (row.status, row.attempt, row.deadline, row.error) == ("recorded", 2, fresh["deadline"], None)
    _, action = record_or_resign(engine, resigned(message, "d", int(NOW) + 20_000), now=NOW + 300)
    assert action == REUSED and json.loads(get_claim(engine, message["idempotency_key"]).message) == fresh


@pytest.mark.parametrize("status", ["minted", "no_delta", "replay"])
def test_a_settled_claim_is_never_re_signed_even_past_its_deadline(engine, status):
    from hokusai.settlement.outbox import REUSED, resolve_claim

    message = claim_message(14, deadline=int(NOW) + 100)
    published(engine, message)
    apply_settlements(engine, [settle(message, status)], now=NOW)
    resolution = resolve_claim(engine, resigned(message, "e", int(NOW) + 10_000), now=NOW + 200)
    assert (resolution.action, resolution.message, resolution.status) == (REUSED, message, status)
    assert resolution.spent == (status != "minted")
