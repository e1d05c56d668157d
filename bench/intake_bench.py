"""Intake benchmark: a 1,000,000-row x 20-column CSV through load + PII scrub + validate + clean.

    .venv/bin/python bench/intake_bench.py [--rows 1000000] [--repeats 3]

The contribution is pii_bench's generator output (numeric, categorical, free-text
columns with PII). Each repeat runs in a fresh process: the real intake path
(``read_contribution`` from a local drop zone, ``clean`` with dedup, benchmark
leakage, quality score and the row commitment), then the two Great Expectations
suites of the quality gate, timed separately (the first includes GX's ~5 s import).
Targets: <= 20 s and <= 3 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

WALLET = "0x" + "be" * 20
CATEGORIES = {"country": ["US", "GB", "DE", "FR", "JP", "BR", "IN", "CA", "ES", "IT"],
              "device": ["ios", "android", "web", "desktop"], "plan": ["free", "basic", "pro", "enterprise"],
              "channel": ["email", "ads", "organic", "referral", "social"]}


def write_token(tokens: Path, benchmark_csv: Path) -> None:
    features = [{"name": "order_id", "dtype": "int"}, {"name": "created_at", "dtype": "string"},
                {"name": "customer_email", "dtype": "string"},
                *({"name": name, "dtype": "category", "categories": values} for name, values in CATEGORIES.items()),
                *({"name": f"f{i}", "dtype": "float", "min": -10, "max": 10} for i in range(1, 9)),
                {"name": "quantity", "dtype": "int", "min": 1, "max": 9},
                {"name": "shipping_cost", "dtype": "float", "min": 0, "max": 40},
                {"name": "review_text", "dtype": "string"}, {"name": "support_note", "dtype": "string"}]
    spec = {"token_id": "bench-orders", "model_name": "bench-orders", "model_id_uint": "9",
            "task": "binary_classification", "label_column": "label", "label_values": [0, 1],
            "primary_metric": "accuracy", "base_data": "bench-orders/benchmark.csv",
            "benchmark": {"path": "bench-orders/benchmark.csv", "spec_id": "bench-orders-v1"},
            "estimator": {"class": "sklearn.linear_model.LogisticRegression"}, "features": features}
    (tokens / "bench-orders").mkdir(parents=True, exist_ok=True)
    (tokens / "bench-orders" / "benchmark.csv").write_bytes(benchmark_csv.read_bytes())
    (tokens / "bench-orders.yaml").write_text(json.dumps(spec))  # JSON is YAML


def measure(root: Path) -> dict:
    start = time.perf_counter()
    from hokusai.drops.store import LocalFolderStore
    from hokusai.drops.keys import partition_key_for
    from hokusai.intake.expectations import clean_data_expectations, contribution_expectations, run_expectations
    from hokusai.intake.read import IntakePolicy, clean, read_contribution
    from hokusai.pii.scrub import pii_key
    from hokusai.tokens.spec import load_token_spec, read_token_table

    spec = load_token_spec(root / "tokens" / "bench-orders.yaml")
    benchmark = read_token_table(spec.benchmark_path)
    store = LocalFolderStore(root / "drops")
    key = f"bench-orders/{WALLET}/contribution.csv"
    partition = partition_key_for(store.stat(key))
    imported = time.perf_counter()
    contributed = read_contribution(store, partition, lambda _: spec, lambda t: pii_key(b"s" * 32, t), IntakePolicy())
    loaded = time.perf_counter()
    rows_file = root / f"clean_rows-{os.getpid()}.csv"  # new, as each partition's is (no old file to unlink)
    cleaned = clean(contributed, spec, benchmark, IntakePolicy(), rows_file=rows_file)
    cleaned_at = time.perf_counter()
    report = run_expectations(contributed.frame, contribution_expectations(spec), "bench")
    checked = time.perf_counter()
    clean_report = run_expectations(cleaned.frame, clean_data_expectations(spec, cleaned.frame), "bench-clean")
    clean_checked = time.perf_counter()
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    rows_file.unlink()
    return {"setup_s": imported - start, "load_scrub_s": loaded - imported, "validate_clean_s": cleaned_at - loaded,
            "intake_s": cleaned_at - imported, "gx_s": checked - cleaned_at, "gx_clean_s": clean_checked - checked,
            "peak_rss_mib": peak / 1024, "rows_out": len(cleaned.frame), "pii": contributed.manifest["pii"]["counts"],
            "quality": cleaned.quality["score"], "gx_passed": report.passed and clean_report.passed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    from pii_bench import generate_csv

    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        root = Path(tmp)
        drop = root / "drops" / "bench-orders" / WALLET
        drop.mkdir(parents=True)
        generate_csv(drop / "contribution.csv", args.rows)
        generate_csv(root / "benchmark.csv", 5000, seed=99)
        write_token(root / "tokens", root / "benchmark.csv")
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, __file__, "--measure", str(root)], check=True,
                                 capture_output=True, text=True).stdout
            runs.append(json.loads(out))
            print(json.dumps(runs[-1]))
    median = lambda key: round(statistics.median(r[key] for r in runs), 2)  # noqa: E731
    print(json.dumps({"rows": args.rows, "intake_median_s": median("intake_s"),
                      "rows_per_s": round(args.rows / median("intake_s")), "gx_median_s": median("gx_s"),
                      "gx_clean_median_s": median("gx_clean_s"),
                      "peak_rss_mib_max": round(max(r["peak_rss_mib"] for r in runs))}, indent=2))


if __name__ == "__main__":
    main()
