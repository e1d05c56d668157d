"""PII benchmark: load + scrub a 1,000,000-row x 20-column CSV, and corpus precision/recall.

    .venv/bin/python bench/pii_bench.py [--rows 1000000] [--repeats 3]

The CSV (numeric, categorical and free-text columns, a PII-named email column,
PII inside ~3% of the free-text cells, dates/prices/ids in ~25%) is written to a
temp dir. Each repeat runs in a fresh process so its peak RSS (VmHWM) is the
load + scrub alone, not the generator's. Load is ``pd.read_csv`` twice over: as
``hokusai.intake.loading`` calls it (C engine, round-trip floats) and with
``engine="pyarrow"`` (multi-threaded). Wall and CPU seconds are both printed: on a
shared machine the wall clock includes other people's work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

PROTECTED = ["country", "device", "plan", "channel", *[f"f{i}" for i in range(1, 9)],
             "quantity", "shipping_cost", "review_text", "label"]
PII_SHARE, NEGATIVE_SHARE = 0.03, 0.25


def generate_csv(path: Path, rows: int, seed: int = 7) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from faker import Faker

    from hokusai.pii.patterns import PII_KINDS
    from hokusai.harness.pii_corpus import PII_TEMPLATES, faker_pool

    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    words = np.array(sorted({w.lower() for w in fake.words(3000)} | set(
        "the a to order delivery was late great product would buy again support refund "
        "box arrived damaged colour size fits well price quality".split())))
    pools = {kind: faker_pool(kind, 2000, seed + i) for i, kind in enumerate(PII_KINDS)}
    negatives = ("on 2024-{:02d}-{:02d}", "total ${:,}.{:02d}", "order ORD-2024-{:06d}{}",
                 "v{}.{}.{}", "at 2023-05-{:02d} {:02d}:30:00", "invoice {}{:09d}")

    def free_text(n: int) -> list[str]:
        lengths = rng.integers(6, 20, size=n)
        picks = rng.integers(0, len(words), size=(n, 20))
        roll = rng.random(n)
        kinds = rng.integers(0, len(PII_KINDS), size=n)
        numbers = rng.integers(1, 28, size=(n, 2))
        texts = []
        for i in range(n):
            text = " ".join(words[picks[i, :lengths[i]]])
            if roll[i] < PII_SHARE:
                kind = PII_KINDS[kinds[i]]
                value = pools[kind][picks[i, 0] % 2000]
                text += " " + PII_TEMPLATES[kind][picks[i, 1] % len(PII_TEMPLATES[kind])].format(value)
            elif roll[i] < PII_SHARE + NEGATIVE_SHARE:
                text += " " + negatives[kinds[i] % len(negatives)].format(*numbers[i], *numbers[i])
            texts.append(text)
        return texts

    first, last = words[rng.integers(0, len(words), rows)], words[rng.integers(0, len(words), rows)]
    domains = np.array(["example.com", "example.org", "mail.example.net", "example.co.uk"])
    emails = [f"{a}.{b}{i}@{d}" for i, (a, b, d) in
              enumerate(zip(first, last, domains[rng.integers(0, 4, rows)]))]
    start = np.datetime64("2023-01-01T00:00:00")
    created = (start + rng.integers(0, 3 * 365 * 86400, rows).astype("timedelta64[s]")).astype(str)
    columns = {
        "order_id": np.arange(10_000_000, 10_000_000 + rows),
        "created_at": np.char.replace(created, "T", " "),
        "customer_email": emails,
        "country": rng.choice(["US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "ES", "IT"], rows),
        "device": rng.choice(["ios", "android", "web", "desktop"], rows),
        "plan": rng.choice(["free", "basic", "pro", "enterprise"], rows),
        "channel": rng.choice(["email", "ads", "organic", "referral", "social"], rows),
        **{f"f{i}": rng.normal(size=rows).round(6) for i in range(1, 9)},
        "quantity": rng.integers(1, 10, rows),
        "shipping_cost": rng.uniform(0, 40, rows).round(2),
        "review_text": free_text(rows),
        "support_note": free_text(rows),
        "label": rng.integers(0, 2, rows),
    }
    pacsv.write_csv(pa.table(columns), path)


def measure(path: Path, engine: str) -> dict:
    """Load + scrub once, in this process; report seconds (wall and CPU) and peak RSS."""
    import pandas as pd

    from hokusai.pii.scrub import pii_key, scrub_frame

    started, cpu_started = time.perf_counter(), time.process_time()
    if engine == "c":  # exactly as hokusai.intake.loading reads a CSV
        frame = pd.read_csv(path, float_precision="round_trip", low_memory=False)
    else:
        frame = pd.read_csv(path, engine="pyarrow")
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    result = scrub_frame(frame, pii_key(b"bench-secret-" + b"x" * 32, "bench-token"), PROTECTED)
    scrubbed, cpu_scrubbed = time.perf_counter(), time.process_time()
    peak_kib = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmHWM:"))
    return {"rows": len(frame), "columns": frame.shape[1], "load_s": loaded - started,
            "scrub_s": scrubbed - loaded, "total_s": scrubbed - started,
            "load_cpu_s": cpu_loaded - cpu_started, "scrub_cpu_s": cpu_scrubbed - cpu_loaded,
            "peak_rss_mib": peak_kib / 1024, "counts": result.counts,
            "columns_hashed": result.columns_hashed, "cells_changed": result.cells_changed}


def summarize(engine: str, runs: list[dict], rows: int) -> None:
    median = {key: statistics.median(r[key] for r in runs)
              for key in ("load_s", "scrub_s", "total_s", "load_cpu_s", "scrub_cpu_s")}
    print(f"| read_csv engine={engine} | {len(runs)} | {median['load_s']:.2f} | {median['scrub_s']:.2f} "
          f"| **{median['total_s']:.2f}** | {rows / median['total_s']:,.0f} | {median['load_cpu_s']:.2f} "
          f"| {median['scrub_cpu_s']:.2f} | {max(r['peak_rss_mib'] for r in runs):,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default="c,pyarrow")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="c", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.engine)))
        return
    runs: dict[str, list[dict]] = {engine: [] for engine in args.engines.split(",")}
    with tempfile.TemporaryDirectory(prefix="pii-bench-") as tmp:
        path = Path(tmp) / "contribution.csv"
        started = time.perf_counter()
        generate_csv(path, args.rows)
        print(f"generated {args.rows:,} rows x 20 columns, {path.stat().st_size / 2**20:.0f} MiB, "
              f"in {time.perf_counter() - started:.1f} s")
        for _ in range(args.repeats):
            for engine in runs:
                out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--engine", engine],
                                     check=True, capture_output=True, text=True).stdout
                run = json.loads(out)
                runs[engine].append(run)
                print(f"  {engine:8s} load {run['load_s']:.2f} s + scrub {run['scrub_s']:.2f} s = "
                      f"{run['total_s']:.2f} s (cpu {run['load_cpu_s']:.2f} + {run['scrub_cpu_s']:.2f}), "
                      f"peak RSS {run['peak_rss_mib']:,.0f} MiB", flush=True)
    print("\n| load | runs | load s | scrub s | total s | rows/s | load CPU s | scrub CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for engine, engine_runs in runs.items():
        summarize(engine, engine_runs, args.rows)
    last = next(iter(runs.values()))[-1]
    print(f"\nPII replaced: {last['counts']}\nhashed by name: {last['columns_hashed']}; "
          f"cells changed: {last['cells_changed']:,}")

    from hokusai.harness.pii_corpus import format_scores, make_corpus, score_values

    started = time.perf_counter()
    corpus = make_corpus()
    print(f"\nlabelled corpus: {len(corpus.frame):,} rows, {len(corpus.truths):,} labelled values "
          f"({time.perf_counter() - started:.1f} s to generate)")
    print(format_scores(score_values(corpus)))


if __name__ == "__main__":
    main()
