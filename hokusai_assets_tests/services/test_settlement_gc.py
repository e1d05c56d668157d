"""The settlement tick and the chain's reconcile run with the cyclic collector paused (``paused_gc``),
seen from inside their real statements (a real redis-server, a SQLite ledger), and restore it after."""

from __future__ import annotations

import gc

from sqlalchemy import event

from hokusai.chain.ledger import Chain
from hokusai.chain.settlement import reconcile
from hokusai.harness.settlement_fixtures import claim_message
from hokusai.settlement.database import dispose_engines, ledger_engine, sqlite_url
from hokusai.settlement.outbox import get_claim, record_claim
from hokusai.settlement.queues import redis_client
from hokusai.settlement.relay import settlement_tick


def test_every_statement_of_a_tick_and_of_reconcile_runs_with_the_collector_paused(redis, client, tmp_path):
    url = sqlite_url(tmp_path / "ledger.db")
    engine = ledger_engine(url)
    message = claim_message(0)
    record_claim(engine, message, token_id="digits-demo", partition_key="digits-demo/0xwallet/a.csv@1")
    states = []
    event.listen(engine, "before_cursor_execute", lambda *args: states.append(gc.isenabled()))
    gc.enable()
    try:
        report = settlement_tick(engine, redis_client(redis.url))
        assert states and not any(states) and gc.isenabled()
        assert [change.status for change in report.published] == ["published"]
        states.clear()
        assert get_claim(engine, message["idempotency_key"]).status == "published"
        assert states and all(states)  # outside the tick: collected as usual
        states.clear()
        assert reconcile(Chain(url)) == []
        assert states and not any(states) and gc.isenabled()
    finally:
        gc.enable()
        dispose_engines()
