"""Benchmark: the settlement sensor's tick over 10,000 pending claims, real redis-server + SQLite
(and PostgreSQL with --postgres).

Three ticks are measured, each on fresh state (a new ledger, an empty Redis):
- publish: 10,000 recorded claims pushed once (Lua, 500 per call) and marked published;
- consume: 10,000 settlements (one per published claim, as the relayer answers) moved into
  processing, applied to the outbox in one transaction, acknowledged;
- both: 10,000 settlements to apply and 10,000 new claims to publish in the same tick;
- consume+chain: the consume tick, its 10,000 pending links of the lineage chain settled from their
  claims: in the tick's transaction (``ChainFollower``), then ``reconcile`` (what the sensor does);
- full: the sensor's whole tick at its busiest: 10,000 settlements applied, their 10,000 links
  reconciled and 10,000 new claims published.
Each tick is what the sensor calls: ``settlement_tick`` (engine and client already built), with the
chain's ``ChainFollower`` and then ``reconcile`` where links are seeded.
Target: median <= 1 s per tick. Claims are seeded with one bulk insert (not timed). Each run
prints wall seconds and this process's CPU seconds (Redis's and PostgreSQL's own work is in the
wall time only): on a shared machine the CPU figure is the steadier one.

Usage: .venv/bin/python bench/settlement_bench.py [--claims 10000] [--repeats 5] [--postgres]
    [--kinds publish,consume,both,consume+chain,full]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hokusai.chain.settlement import ChainFollower, reconcile  # noqa: E402
from hokusai.settlement.database import dispose_engines, ledger_engine, sqlite_url  # noqa: E402
from hokusai.settlement import outbox  # noqa: E402
from hokusai.settlement.queues import DEFAULT_QUEUES as Q  # noqa: E402
from hokusai.settlement.relay import settlement_tick  # noqa: E402
from hokusai.settlement.settlement_messages import settlement_message  # noqa: E402
from hokusai.harness.servers import postgres, redis_server  # noqa: E402
from hokusai.harness.settlement_fixtures import claim_message  # noqa: E402


def seed(engine, start: int, count: int, status: str = "recorded") -> list[dict]:
    messages = [claim_message(i) for i in range(start, start + count)]
    now = time.time()
    rows = [{"idempotency_key": m["idempotency_key"], "attestation_hash": m["attestation_hash"],
             "model_id": m["model_id"], "model_id_uint": m["model_id_uint"], "eval_id": m["eval_id"],
             "token_id": "digits-demo", "partition_key": f"digits-demo/0xwallet/{m['eval_id']}.csv@etag",
             "message": json.dumps(m, sort_keys=True, separators=(",", ":")), "deadline": m["deadline"],
             "status": status, "attempt": 1, "error_retries": 0, "recorded_at": now, "updated_at": now}
            for m in messages]
    with engine.begin() as connection:
        # the message sits in the claim row on ledgers before claim_messages (the bench also runs on those)
        messages_table = getattr(outbox, "claim_messages", None)
        if messages_table is None:
            connection.execute(outbox.claims.insert(), rows)
        else:
            connection.execute(outbox.claims.insert(), [{k: v for k, v in r.items() if k != "message"} for r in rows])
            connection.execute(messages_table.insert(), [{"idempotency_key": r["idempotency_key"],
                                                          "message": r["message"]} for r in rows])
    return messages


def answer(client, messages: list[dict]) -> None:
    """The relayer's settlements for ``messages``, pushed in one pipeline (not timed). Each mint is its own
    transaction, as on chain: its hash, block, time, gas and reward differ from the others'."""
    pipe = client.pipeline(transaction=False)
    for i, m in enumerate(messages):
        pipe.lpush(Q.settlements, json.dumps(settlement_message(
            m, "minted", settled_at=f"2026-06-11T12:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 10}00Z",
            reward_amount=str(10**18 + 7919 * i), tx_hash="0x" + f"{i:064x}", block_number=100 + i // 4,
            gas_used=str(210_000 + i % 97))))
    pipe.execute()


def seed_chain(engine, messages: list[dict]) -> None:
    """A chain of ``len(messages)`` pending links, one per claim (bulk insert, not timed)."""
    from hokusai.chain.ledger import heads, links

    now = "2026-06-11T12:00:00+00:00"
    commitments = ["0x" + f"{i:064x}" for i in range(len(messages) + 1)]
    rows = [{"token_id": "digits-demo", "position": i + 1, "state": "pending", "commitment": commitments[i + 1],
             "parent_commitment": commitments[i], "rows_root": commitments[i + 1], "rows_count": 10,
             "model_uri": f"models:/m-{i}", "partition_key": f"digits-demo/0xwallet/{m['eval_id']}.csv@etag",
             "eval_id": m["eval_id"], "idempotency_key": m["idempotency_key"], "created_at": now, "updated_at": now}
            for i, m in enumerate(messages)]
    with engine.begin() as connection:
        connection.execute(links.insert(), rows)
        connection.execute(heads.insert(), [{"token_id": "digits-demo", "head_position": len(messages),
                                             "head_commitment": commitments[-1]}])


def measure(kind: str, new_ledger, redis, count: int) -> float:
    from hokusai.chain.ledger import Chain

    engine, client = new_ledger(), redis.client()
    client.flushall()
    from hokusai.settlement.queues import redis_client

    client_for_tick = redis_client(redis.url)
    if kind in ("consume", "both", "consume+chain", "full"):
        messages = seed(engine, 0, count, status="published")
        answer(client, messages)
        if kind in ("consume+chain", "full"):
            seed_chain(engine, messages)
    if kind in ("publish", "both", "full"):
        seed(engine, count, count)
    chain = Chain(engine.url.render_as_string(hide_password=False))
    follower = ChainFollower() if kind in ("consume+chain", "full") else None  # as the sensor ticks
    started, cpu = time.perf_counter(), time.process_time()
    report = settlement_tick(engine, client_for_tick, on_changes=follower)
    if follower is not None:
        assert len(follower.events) + len(reconcile(chain)) == count
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    expected = {"publish": (count, 0), "consume": (0, count), "both": (count, count),
                "consume+chain": (0, count), "full": (count, count)}[kind]
    assert (len(report.published), len(report.settled.changes)) == expected, report.summary
    assert client.llen(Q.settlements_processing) == 0
    dispose_engines()
    return elapsed, cpu


def run(label: str, new_ledger, redis, count: int, repeats: int, kinds: list[str]) -> None:
    for kind in kinds:
        runs = [measure(kind, new_ledger, redis, count) for _ in range(repeats)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"{label} | {kind} | {count:,} | {statistics.median(walls):.3f} s | {statistics.median(cpus):.3f} s | "
              f"{', '.join(f'{w:.3f}' for w in walls)} | load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--kinds", default="publish,consume,both,consume+chain,full")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    root = Path(tempfile.mkdtemp(prefix="hokusai-settlement-bench-"))
    print("ledger | tick | claims | median wall | median CPU | runs, wall (s) | load after")
    try:
        _run_all(root, args, kinds)
    finally:  # each run's ledgers take ~1 GB: a bench must not fill the disk under the next one
        import shutil

        dispose_engines()
        shutil.rmtree(root, ignore_errors=True)


def _run_all(root: Path, args, kinds: list[str]) -> None:
    with redis_server(root / "redis") as redis:
        counter = iter(range(10**6))
        run("SQLite (WAL)", lambda: ledger_engine(sqlite_url(root / f"ledger-{next(counter)}.db")), redis,
            args.claims, args.repeats, kinds)
        if args.postgres:
            with postgres() as pg:
                def new_pg_ledger():
                    name = f"ledger{next(counter)}"
                    pg.create_database(name)
                    return ledger_engine(pg.url(name))
                run("PostgreSQL 15", new_pg_ledger, redis, args.claims, args.repeats, kinds)


if __name__ == "__main__":
    main()
