"""Benchmark: `hokusai evaluate --dry-run` as a cold process, and warm evaluations in one process.

Usage: .venv/bin/python bench/evaluate_bench.py [--repeats 5]
Targets (2-core machine): cold <= 10 s, warm <= 1.5 s (medians).
CPU seconds are counted with every child: the cold process's (and its workers', reaped when it exits),
and in the warm process this one's plus its worker pool's (read from /proc).
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOKUSAI = str(Path(sys.executable).parent / "hokusai")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pool_cpu() -> float:
    """CPU seconds of this process's live worker processes (``hokusai.workers``' pool), if any."""
    try:
        from hokusai import workers
    except ImportError:
        return 0.0
    total = 0.0
    for pool in list(getattr(workers, "_pools", {}).values()):
        for pid in list((getattr(pool, "_processes", None) or {}).keys()):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_now() -> float:
    return time.process_time() + pool_cpu()


def cold_runs(repeats: int, cache: Path, cpu: list[float] | None = None) -> list[float]:
    times = []
    for _ in range(repeats):
        home = Path(tempfile.mkdtemp(prefix="bench-home-"))
        env = {**os.environ, "HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(cache)}
        start, start_cpu = time.perf_counter(), children_cpu()
        result = subprocess.run([HOKUSAI, "evaluate", "--dry-run", "--json"], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(children_cpu() - start_cpu)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        shutil.rmtree(home, ignore_errors=True)
    return times


def warm_runs(repeats: int, cache: Path, ephemeral: bool = False, cpu: list[float] | None = None) -> list[float]:
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
        start, start_cpu = time.perf_counter(), cpu_now()
        outcome = runner.evaluate(path, "digits-demo", wallet)
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(cpu_now() - start_cpu)
        assert outcome.status == "evaluated", outcome.reason
    shutil.rmtree(home, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    first_ever = cold_runs(1, cache)[0]  # builds the cached empty MLflow database
    cold_cpu, warm_cpu, warm_ephemeral_cpu = [], [], []
    load_before = os.getloadavg()
    cold = cold_runs(args.repeats, cache, cold_cpu)
    warm = warm_runs(args.repeats, cache, cpu=warm_cpu)
    warm_ephemeral = warm_runs(args.repeats, cache, ephemeral=True, cpu=warm_ephemeral_cpu)
    load_after = os.getloadavg()
    print(json.dumps({
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "cold_cpu_median_s": round(statistics.median(cold_cpu), 2),
        "cold_cpu_s": [round(t, 2) for t in cold_cpu],
        "warm_cpu_median_s": round(statistics.median(warm_cpu), 2),
        "warm_cpu_s": [round(t, 2) for t in warm_cpu],
        "warm_ephemeral_cpu_median_s": round(statistics.median(warm_ephemeral_cpu), 2),
        "warm_ephemeral_cpu_s": [round(t, 2) for t in warm_ephemeral_cpu],
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
