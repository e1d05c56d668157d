"""Claims through a real redis-server: publish once, a fake relayer answers, nothing is lost."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from hokusai.settlement.database import dispose_engines, ledger_engine, sqlite_url
from hokusai.settlement.outbox import get_claim, list_claims, record_claim, retry_claim
from hokusai.settlement.queues import DEFAULT_QUEUES as Q
from hokusai.settlement.queues import publish
from hokusai.settlement.relay import consume_settlements, publish_pending, settlement_tick, submit_claim
from hokusai.harness.settlement_fixtures import SETTLEMENTS, claim_message, fake_relayer


@pytest.fixture
def ledger(tmp_path):
    url = sqlite_url(tmp_path / "ledger.db")
    yield url, ledger_engine(url)
    dispose_engines()


def record(engine, count: int, start: int = 0) -> list[dict]:
    messages = [claim_message(i) for i in range(start, start + count)]
    for message in messages:
        record_claim(engine, message, token_id="digits-demo", partition_key=f"digits-demo/p/{message['eval_id']}")
    return messages


def queued_keys(client) -> list[str]:
    return [json.loads(raw)["idempotency_key"] for raw in client.lrange(Q.mint_requests, 0, -1)]


def test_publish_once_even_when_called_twice_or_after_a_crash_before_marking(client, ledger):
    _, engine = ledger
    messages = record(engine, 3)
    # A publisher that pushed the first claim and died before marking it published:
    first = messages[0]
    assert publish(client, [(first["idempotency_key"], 1, json.dumps(first))]) == [True]
    changes = publish_pending(engine, client)
    assert sorted(c.idempotency_key for c in changes) == sorted(m["idempotency_key"] for m in messages)
    assert publish_pending(engine, client) == []
    assert sorted(queued_keys(client)) == sorted(m["idempotency_key"] for m in messages)
    assert {row.status for row in list_claims(engine)} == {"published"}
    assert publish(client, [(first["idempotency_key"], 1, json.dumps(first))]) == [False]
    assert client.llen(Q.mint_requests) == 3


def _publish_from_another_process(url: str, redis_url: str, barrier) -> None:
    from hokusai.settlement import outbox  # noqa: F401
    from hokusai.settlement.database import ledger_engine as engine_for
    from hokusai.settlement.queues import redis_client
    from hokusai.settlement.relay import publish_pending as publish_all

    engine, client = engine_for(url), redis_client(redis_url)
    barrier.wait()
    for _ in range(3):
        publish_all(engine, client)


def test_two_publishers_at_once_push_each_claim_once(client, ledger, redis):
    url, engine = ledger
    messages = record(engine, 300)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_publish_from_another_process, args=(url, redis.url, barrier))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    keys = queued_keys(client)
    assert len(keys) == 300 and sorted(keys) == sorted(m["idempotency_key"] for m in messages)
    assert {row.status for row in list_claims(engine)} == {"published"}


def test_the_fake_relayer_drives_every_status_and_a_malformed_settlement_is_set_aside(client, ledger):
    _, engine = ledger
    statuses = ["minted", "no_delta", "replay", "budget_blocked", "error"]
    messages = record(engine, len(statuses))
    answer = {m["idempotency_key"]: status for m, status in zip(messages, statuses)}
    publish_pending(engine, client)
    assert fake_relayer(client, lambda m: answer[m["idempotency_key"]]) == {s: 1 for s in statuses}
    assert client.llen(Q.dead_letters) == 0  # every message we publish passes the relayer's rules
    client.lpush(Q.settlements, "{not json", json.dumps({"event_type": "mint_request_settled"}))
    seen = []
    report = settlement_tick(engine, client, on_changes=lambda connection, changes: seen.extend(changes))
    assert sorted((c.status, c.previous) for c in report.settled.changes) == sorted(
        (s, "published") for s in statuses)
    assert seen == report.settled.changes
    assert {c.partition_key for c in seen} == {f"digits-demo/p/{m['eval_id']}" for m in messages}
    assert len(report.settled.rejected) == 2
    assert any("not JSON" in reason for _, reason in report.settled.rejected)
    assert any("$.status" in reason for _, reason in report.settled.rejected)
    assert client.llen(Q.settlements_processing) == 0 and client.llen(Q.settlements) == 0
    for message, status in zip(messages, statuses):
        assert get_claim(engine, message["idempotency_key"]).status == status
    minted = get_claim(engine, messages[0]["idempotency_key"])
    assert minted.reward_amount == "1000000000000000000" and minted.tx_hash.startswith("0x")

    # After a top-up, the budget-blocked claim goes out again, once, and is paid.
    blocked = messages[3]["idempotency_key"]
    retry_claim(engine, blocked)
    assert [c.idempotency_key for c in settlement_tick(engine, client).published] == [blocked]
    assert settlement_tick(engine, client).published == []
    assert fake_relayer(client, lambda m: "minted") == {"minted": 1}
    [change] = settlement_tick(engine, client).settled.changes
    assert (change.idempotency_key, change.previous, change.status) == (blocked, "published", "minted")


def test_a_message_that_breaks_a_relayer_rule_is_dead_lettered_by_the_fake_relayer(client):
    """The fake relayer is a real judge: the issue-16 message (totalSamples = contribution rows) dies."""
    message = {**claim_message(1), "totalSamples": 350}
    client.lpush(Q.mint_requests, json.dumps(message))
    assert fake_relayer(client, lambda m: "minted") == {"dead_lettered": 1}
    assert client.llen(Q.dead_letters) == 1 and client.llen(Q.settlements) == 0


def _consume_and_die(url: str, redis_url: str) -> None:
    from hokusai.settlement import outbox  # noqa: F401
    from hokusai.settlement.database import ledger_engine as engine_for
    from hokusai.settlement.queues import redis_client
    from hokusai.settlement.relay import consume_settlements as consume

    def die(connection, changes):  # killed after the move, before the outbox commits and acks
        os._exit(3)

    consume(engine_for(url), redis_client(redis_url), on_changes=die)


def test_a_consumer_killed_between_move_and_ack_loses_nothing(client, ledger, redis):
    url, engine = ledger
    messages = record(engine, 20)
    publish_pending(engine, client)
    fake_relayer(client, lambda m: "minted")
    assert client.llen(Q.settlements) == 20
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=_consume_and_die, args=(url, redis.url))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 3
    assert client.llen(Q.settlements) == 0 and client.llen(Q.settlements_processing) == 20
    assert {row.status for row in list_claims(engine)} == {"published"}  # nothing was committed
    report = consume_settlements(engine, client)
    assert len(report.changes) == 20 and {c.status for c in report.changes} == {"minted"}
    assert client.llen(Q.settlements_processing) == 0
    assert {row.status for row in list_claims(engine)} == {"minted"}
    # Killed after the commit but before the ack: the message is read again and seen for what it is.
    client.lpush(Q.settlements_processing, json.dumps(SETTLEMENTS["valid"]["minted"]))
    report = consume_settlements(engine, client)
    assert report.changes == [] and len(report.rejected) == 1  # a settlement for a claim we never made
    [raw] = [raw for raw, _ in report.rejected]
    client.lpush(Q.settlements_processing, raw)
    assert consume_settlements(engine, client).duplicates == 1
    assert client.llen(Q.settlements_processing) == 0
    assert len(messages) == 20


def test_submit_claim_publishes_at_once_with_a_relayer_and_settles_locally_without(client, ledger):
    _, engine = ledger
    message = claim_message(1)
    submitted = submit_claim(engine, client, message, token_id="digits-demo", partition_key="p/1")
    assert (submitted.created, submitted.status) == (True, "published") and "hokusai:mint_requests" in submitted.note
    again = submit_claim(engine, client, message, token_id="digits-demo", partition_key="p/1")
    assert (again.created, again.status) == (False, "published") and client.llen(Q.mint_requests) == 1
    local = submit_claim(engine, None, claim_message(2), token_id="digits-demo", partition_key="p/2")
    assert (local.status, local.note) == ("minted", "settled locally: no relayer configured "
                                                    "(HOKUSAI_RELAYER_REDIS_URL unset)")
    assert client.llen(Q.mint_requests) == 1


def test_redis_down_leaves_the_claim_recorded_for_the_sensor(ledger, tmp_path):
    from hokusai.settlement.queues import redis_client
    from hokusai.harness.servers import free_port

    _, engine = ledger
    nowhere = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    submitted = submit_claim(engine, nowhere, claim_message(3), token_id="digits-demo", partition_key="p/3")
    assert submitted.status == "recorded" and "the settlement sensor will retry" in submitted.note


def test_take_is_oldest_first_and_ack_removes_exactly_what_it_names(client):
    """take: leftovers of a dead consumer first, then the oldest new ones, up to the limit, in order;
    ack: the named messages leave processing, whether they are its oldest (one trim) or not (one by one),
    and anything else stays."""
    from hokusai.settlement.queues import ack_settlements, take_settlements

    client.delete(Q.settlements, Q.settlements_processing)
    client.lpush(Q.settlements_processing, "left-1", "left-2")  # a dead consumer's, oldest first
    client.lpush(Q.settlements, *[f"m{i}" for i in range(1, 1203)])  # m1 is the oldest
    taken = take_settlements(client, 1200)
    assert taken == ["left-1", "left-2", *[f"m{i}" for i in range(1, 1201)]]
    assert client.lrange(Q.settlements, 0, -1) == [b"m1202", b"m1201"]
    assert client.llen(Q.settlements_processing) == 1202
    client.lpush(Q.settlements_processing, "another-consumer's")  # newer than all of them: stays
    ack_settlements(client, taken[:700])  # the oldest 700, in order: trimmed
    assert client.llen(Q.settlements_processing) == 503
    ack_settlements(client, [taken[-1], taken[800], taken[701]])  # not the oldest, not in order: one by one
    left = [m.decode() for m in reversed(client.lrange(Q.settlements_processing, 0, -1))]
    assert left == [m for m in taken[700:] if m not in {taken[-1], taken[800], taken[701]}] + ["another-consumer's"]
    client.delete(Q.settlements_processing)
    client.lpush(Q.settlements_processing, "same", "same", "newer")  # one text twice: ack one, one stays
    ack_settlements(client, ["same"])
    assert client.lrange(Q.settlements_processing, 0, -1) == [b"newer", b"same"]
    assert take_settlements(client, 10) == ["same", "newer", "m1201", "m1202"]


def test_a_whole_list_within_the_limit_is_taken_at_once_and_a_longer_one_in_batches(client):
    """The usual tick (processing empty, the relayer's list within the limit) takes the list whole; a
    message the relayer pushes after it waits in a new list for the next tick. Over the limit, or with
    leftovers in processing, the batches take the oldest up to the limit."""
    from hokusai.settlement.queues import ack_settlements, take_settlements

    client.delete(Q.settlements, Q.settlements_processing)
    assert take_settlements(client, 10) == []
    client.lpush(Q.settlements, "a", "b", "c")  # "a" is the oldest
    assert take_settlements(client, 3) == ["a", "b", "c"]
    assert client.llen(Q.settlements) == 0 and client.lrange(Q.settlements_processing, 0, -1) == [b"c", b"b", b"a"]
    client.lpush(Q.settlements, "d")  # the relayer goes on pushing
    ack_settlements(client, ["a", "b", "c"])
    assert client.llen(Q.settlements_processing) == 0
    client.lpush(Q.settlements, "e", "f")
    assert take_settlements(client, 2) == ["d", "e"]  # three waiting, limit two: the two oldest
    assert client.lrange(Q.settlements, 0, -1) == [b"f"]
    assert take_settlements(client, 5) == ["d", "e", "f"]  # leftovers first (not acknowledged), then the new
    assert client.llen(Q.settlements) == 0
