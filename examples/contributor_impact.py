"""Contributor impact: one wallet's contributions to two tokens, summed across the registry.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 .venv/bin/python examples/contributor_impact.py

A contributor improves the models of two tokens (an even and an odd digits
classifier); another contributor improves one of them too. ``get_contributor_impact``
then sums the first wallet's contributions, DeltaOnes and models. It reads the
whole registry, so versions the pipeline registered for that wallet count as well.
"""

import json

from _common import benchmark_metrics, data_hash, digits, tracking_uri, train

from hokusai.core import ModelRegistry

CONTRIBUTOR = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
OTHER_CONTRIBUTOR = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
TOKENS = {"example-even": 0, "example-odd": 1}  # token -> which digits are positive (parity)


def main() -> dict:
    features, labels = digits()
    bench_x = features[-500:]
    registry = ModelRegistry(tracking_uri())
    for token, parity in TOKENS.items():
        target = (labels % 2 == parity).astype(int)
        bench_y = target[-500:]
        baseline_model = train(features[:40], target[:40])
        baseline = registry.register_baseline(baseline_model, "parity-classifier", {
            "token_id": token, "metrics": benchmark_metrics(baseline_model, bench_x, bench_y),
            "benchmark_metric": "accuracy",
        })
        current = baseline["model_id"]
        for contributor, rows in ((CONTRIBUTOR, 400), (OTHER_CONTRIBUTOR, 900)):
            if contributor == OTHER_CONTRIBUTOR and token != "example-even":
                continue
            model = train(features[:rows], target[:rows])
            improved = registry.register_improved_model(current, model, contributor, {
                "data_hash": data_hash(features[:rows], target[:rows]), "contributed_samples": rows - 40,
                "metrics": benchmark_metrics(model, bench_x, bench_y),
            })
            current = improved["model_id"] if improved["eligible"] else current

    impact = registry.get_contributor_impact(CONTRIBUTOR)
    return {key: impact[key] for key in ("checksum_address", "total_contributions", "accepted_contributions",
                                         "total_delta_one_bps", "total_delta_one", "total_models_improved",
                                         "tokens", "models")}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
