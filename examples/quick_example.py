"""Quick example: a baseline, an experiment that measures an improvement, and its registration.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 .venv/bin/python examples/quick_example.py

Registers a baseline for token ``example-quick``, trains a better model in an
MLflow run (metrics logged under the naming convention), computes its DeltaOne and
attestation with the pipeline's own code, and registers it as the next version of
the baseline's model. Prints a JSON summary.
"""

import json

from _common import benchmark_metrics, data_hash, digits, tracking_uri, train

from hokusai.rules.attestation import attestation_hash
from hokusai.core import ModelRegistry
from hokusai.tracking import ExperimentManager, PerformanceTracker, log_model_metrics

TOKEN = "example-quick"
CONTRIBUTOR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 checksummed; stored lowercase


def main() -> dict:
    features, labels = digits()
    bench_x, bench_y = features[-500:], labels[-500:]
    registry = ModelRegistry(tracking_uri())

    baseline_model = train(features[:100], labels[:100])
    baseline_metrics = benchmark_metrics(baseline_model, bench_x, bench_y)
    baseline = registry.register_baseline(baseline_model, "digits-classifier", {
        "token_id": TOKEN, "metrics": baseline_metrics, "benchmark_metric": "accuracy",
        "data_hash": data_hash(features[:100], labels[:100]),
    })

    contributed_x, contributed_y = features[100:700], labels[100:700]
    contribution_hash = data_hash(contributed_x, contributed_y)
    with ExperimentManager(registry).start_experiment(f"hokusai-{TOKEN}", run_name="more-data") as run:
        improved_model = train(features[:700], labels[:700])
        improved_metrics = benchmark_metrics(improved_model, bench_x, bench_y)
        log_model_metrics(improved_metrics)  # model/accuracy, model/f1_score, ...
        delta, attestation = PerformanceTracker().track_improvement(baseline_metrics, improved_metrics, {
            "token_id": TOKEN, "contributor_address": CONTRIBUTOR, "data_hash": contribution_hash,
            "contributed_samples": len(contributed_y),
        })

    improved = registry.register_improved_model(baseline["model_id"], improved_model, CONTRIBUTOR, {
        "data_hash": contribution_hash, "delta_one": delta, "attestation_hash": attestation_hash(attestation),
    })
    return {
        "baseline": baseline["model_id"],
        "experiment_run": run.info.run_id,
        "improved": improved["model_id"],
        "delta_one_bps": delta["delta_computation"]["delta_one_bps"],
        "eligible": delta["eligibility"]["eligible"],
        "alias": improved["alias"],
        "attestation_hash": attestation_hash(attestation),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
