"""Benchmark: eligibility v2's seeded fits of improving.csv, with and without the registered seed-0 fits,
in this process and in a 2-worker pool (``hokusai.workers``), interleaved; every variant must give the
same result. CPU seconds include the pool's workers.

Usage: PYTHONPATH=. .venv/bin/python bench/seeded_fits_bench.py [REPEATS]
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import pandas as pd
from hokusai import workers
from hokusai.evaluation.metrics import benchmark_rows
from hokusai.evaluation.seeded import seeded_significance, eligibility_seeds
from hokusai.tokens.spec import load_token_spec, read_token_table
from hokusai.models.training import merge_training_data, train_model
sys.path.insert(0, str(REPO / "bench"))
from evaluate_bench import pool_cpu  # noqa: E402

def main():
    spec = load_token_spec(REPO / "tokens" / "digits-demo.yaml")
    champion = read_token_table(spec.base_data_path)
    rows = benchmark_rows(read_token_table(spec.benchmark_path), spec)
    improving = pd.read_csv(REPO / "tokens" / "digits-demo" / "samples" / "improving.csv")
    training = merge_training_data(champion, improving, spec)
    champ_model, cand_model = train_model(champion, spec), train_model(training, spec)
    variants = {
        "refit all, here": (1, False), "reuse seed 0, here": (1, True),
        "refit all, pool 2": (2, False), "reuse seed 0, pool 2": (2, True)}
    results = {name: ([], []) for name in variants}
    reference = None
    from hokusai.evaluation import seeded

    workers.configure(2)
    workers.pool_for(10, min_rows=2)  # start the pool outside the timings
    time.sleep(3)
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        for name, (count, reuse) in variants.items():
            workers.configure(count)
            seeded.FIT_POOL_MIN_ROWS = 0  # the pool whenever one is allowed (count 2)
            start, cpu = time.perf_counter(), time.process_time() + pool_cpu()
            baseline = seeded.seeded_benchmark_scores(champion, rows, spec, eligibility_seeds(spec),
                                                      {spec.seed: champ_model} if reuse else None)
            gain = seeded_significance(champion, training, rows, spec, baseline=baseline,
                                       fitted_candidate={spec.seed: cand_model} if reuse else None)
            results[name][0].append(time.perf_counter() - start)
            results[name][1].append(time.process_time() + pool_cpu() - cpu)
            d = gain.as_dict()
            reference = reference or d
            assert d == reference, name
    print(json.dumps({"load": os.getloadavg(), **{name: {"wall_median": round(statistics.median(w), 2), "cpu_median": round(statistics.median(c), 2),
                      "wall": [round(x, 2) for x in w], "cpu": [round(x, 2) for x in c]} for name, (w, c) in results.items()}}, indent=1))

if __name__ == "__main__":
    main()
