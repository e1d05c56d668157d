"""Benchmark: `hokusai evaluate --dry-run` as a cold process, and warm evaluations in one process.

Usage: .venv/bin/python bench/evaluate_bench.py [--repeats 5]
Targets (2-core machine): cold <= 10 s, warm <= 1.5 s (medians).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOKUSAI = str(Path(sys.executable).parent / "hokusai")


def cold_runs(repeats: int, cache: Path) -> list[float]:
    times = []
    for _ in range(repeats):
        home = Path(tempfile.mkdtemp(prefix="bench-home-"))
        env = {**os.environ, "HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(cache)}
        start = time.perf_counter()
        result = subprocess.run([HOKUSAI, "evaluate", "--dry-run", "--json"], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        shutil.rmtree(home, ignore_errors=True)
    return times


def warm_runs(repeats: int, cache: Path, ephemeral: bool = False) -> list[float]:
    import pandas as pd

    sys.path.insert(0, str(REPO))
    from hokusai.tokens.demo_data import mock_contribution
    from hokusai.settings import load_settings
    from hokusai_assets.runner import DagsterRunner

    home = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    settings = load_settings({"HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(cache)})
    runner = DagsterRunner(settings, ephemeral=ephemeral)
    improving = pd.read_csv(REPO / "tokens/digits-demo/samples/improving.csv")
    files = []
    for seed in range(repeats + 1):
        path = home / f"contribution-{seed}.csv"
        mock_contribution(improving, seed).to_csv(path, index=False)
        files.append(path)
    wallet = "0x" + "42" * 20
    first = runner.evaluate(files[0], "digits-demo", wallet)  # warms imports, trains the baseline
    assert first.status == "evaluated", first.reason
    times = []
    for path in files[1:]:
        start = time.perf_counter()
        outcome = runner.evaluate(path, "digits-demo", wallet)
        times.append(time.perf_counter() - start)
        assert outcome.status == "evaluated", outcome.reason
    shutil.rmtree(home, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    first_ever = cold_runs(1, cache)[0]  # builds the cached empty MLflow database
    cold = cold_runs(args.repeats, cache)
    warm = warm_runs(args.repeats, cache)
    warm_ephemeral = warm_runs(args.repeats, cache, ephemeral=True)
    print(json.dumps({
        "first_ever_cold_s": round(first_ever, 2),
        "cold_median_s": round(statistics.median(cold), 2),
        "cold_runs_s": [round(t, 2) for t in cold],
        "warm_median_s": round(statistics.median(warm), 2),
        "warm_runs_s": [round(t, 2) for t in warm],
        "warm_ephemeral_median_s": round(statistics.median(warm_ephemeral), 2),
        "warm_ephemeral_runs_s": [round(t, 2) for t in warm_ephemeral],
    }, indent=2))


if __name__ == "__main__":
    main()
