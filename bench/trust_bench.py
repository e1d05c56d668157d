"""Benchmark: paired bootstrap over a 100,000-row benchmark (1,000 resamples) and a
Merkle root over 1,000,000 rows. Targets: <= 3 s and <= 5 s. Medians of --repeats.

Usage: .venv/bin/python bench/trust_bench.py [--repeats 3]
"""

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd

from hokusai.commitments.rows import canonical_row_lines, rows_root
from hokusai.evaluation.significance import paired_bootstrap


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 2), [round(t, 2) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = 100_000
    truth = rng.integers(0, 10, n)
    baseline = np.where(rng.random(n) < 0.90, truth, rng.integers(0, 10, n))
    new = np.where(rng.random(n) < 0.91, truth, rng.integers(0, 10, n))
    labels = list(range(10))
    accuracy = timed(lambda: paired_bootstrap("accuracy", truth, baseline, new, None, None, labels, None, False,
                                              resamples=1000, seed=1), args.repeats)
    f1 = timed(lambda: paired_bootstrap("f1", truth, baseline, new, None, None, labels, None, False,
                                        resamples=1000, seed=1), args.repeats)
    rows = pd.DataFrame(rng.integers(0, 17, (1_000_000, 20)), columns=[f"c{i}" for i in range(20)])
    merkle = timed(lambda: rows_root(canonical_row_lines(rows)), args.repeats)
    print(json.dumps({"bootstrap_accuracy_100k_x1000_s": accuracy, "bootstrap_f1_100k_x1000_s": f1,
                      "merkle_root_1m_rows_x20_s": merkle}, indent=2))


if __name__ == "__main__":
    main()
