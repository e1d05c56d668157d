"""Benchmark: SDK registry operations against a real MLflow server.

Usage: .venv/bin/python bench/registry_bench.py [--repeats 5]
       (uses $MLFLOW_TRACKING_URI if it is an http(s) server, else starts a throw-away one)

Measures, medians of ``--repeats`` runs (target: each <= 1 s on the 2-core machine):

1. ``register_tokenized_model`` of a logged model (a new run each time), and the
   idempotent re-registration of the same run for the same token;
2. ``get_model_lineage`` of a registered model with 50 versions (baseline + 49
   improvements by 10 contributors);
3. ``get_contributor_impact`` of a wallet with 200 versions across 4 models/tokens.

The registry is seeded through the SDK itself (improvements registered from the
baseline's logged model by URI, so seeding does not upload 250 models); seeding
time is printed but not benchmarked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(function, repeats: int) -> list[float]:
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        function(index)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    url = os.environ.get("MLFLOW_TRACKING_URI", "")
    server, state = None, None
    if not url.startswith(("http://", "https://")):
        from hokusai.harness.mlflow_server import start_mlflow_server

        started = time.perf_counter()
        state = Path(tempfile.mkdtemp(prefix="registry-bench-"))
        server = start_mlflow_server(state)
        url = server.url
        print(f"started {url} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    try:
        results = run(url, args.repeats)
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(results, indent=2))


def run(url: str, repeats: int) -> dict:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from hokusai.core import ModelRegistry

    registry = ModelRegistry(url)
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    tag = secrets.token_hex(3)
    wallet = "0x" + secrets.token_hex(20)
    others = ["0x" + secrets.token_hex(20) for _ in range(9)]

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    # -- seeding --------------------------------------------------------------------------
    started = time.perf_counter()
    lineage_id, impact_versions = None, 0
    for model_index in range(4):
        token = f"bench-{tag}-{model_index}"
        baseline = registry.register_baseline(model, "bench", {
            "token_id": token, "metrics": {"accuracy": 0.5}, "benchmark_metric": "accuracy"})
        uri = f"runs:/{baseline['run_id']}/model"
        current, accuracy = baseline["model_id"], 0.5
        contributors = [wallet] * 50 if model_index else [wallet, *others] * 5
        for step, contributor in enumerate(contributors[: 49 if model_index == 0 else 50]):
            accuracy = round(accuracy + 0.002, 4)
            improved = registry.register_improved_model(current, uri, contributor, {
                "data_hash": sha(f"{token}-{step}"), "metrics": {"accuracy": accuracy}, "min_improvement_bps": 10})
            current = improved["model_id"]
            impact_versions += contributor == wallet
        if model_index == 0:
            lineage_id = current
    # the lineage model has 5 of the wallet's versions; top up to exactly 200
    extra_token = f"bench-{tag}-extra"
    extra = registry.register_baseline(model, "bench", {
        "token_id": extra_token, "metrics": {"accuracy": 0.5}, "benchmark_metric": "accuracy"})
    while impact_versions < 200:
        registry.register_improved_model(extra["model_id"], f"runs:/{extra['run_id']}/model", wallet, {
            "data_hash": sha(f"extra-{impact_versions}"), "metrics": {"accuracy": 0.6}})
        impact_versions += 1
    runs = [registry.log_model_run(model, experiment_name=f"bench-{tag}", run_name=f"tokenized-{i}", params={},
                                   run_tags={}) for i in range(repeats)]
    seeding = time.perf_counter() - started

    # -- measurements -----------------------------------------------------------------------
    token = f"bench-{tag}-0"
    name = f"bench-tokenized-{tag}"
    register = timed(lambda i: registry.register_tokenized_model(
        f"runs:/{runs[i].run_id}/model", name, token, "accuracy", 0.8, {"bench": "yes"}), repeats)
    again = timed(lambda i: registry.register_tokenized_model(
        f"runs:/{runs[i].run_id}/model", name, token, "accuracy", 0.8), repeats)
    lineage = registry.get_model_lineage(lineage_id)
    assert len(lineage["versions"]) == 50, len(lineage["versions"])
    lineage_times = timed(lambda i: registry.get_model_lineage(lineage_id), repeats)
    impact = registry.get_contributor_impact(wallet)
    assert impact["total_contributions"] == 200, impact["total_contributions"]
    impact_times = timed(lambda i: registry.get_contributor_impact(wallet), repeats)

    def row(times: list[float]) -> dict:
        return {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}

    return {
        "tracking_uri": url,
        "seeding_s": round(seeding, 1),
        "register_tokenized_model": row(register),
        "register_tokenized_model_again (idempotent)": row(again),
        "get_model_lineage (50 versions)": row(lineage_times),
        "get_contributor_impact (200 versions)": row(impact_times),
    }


if __name__ == "__main__":
    main()
