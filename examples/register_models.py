"""Baseline -> improved -> tokenized registration, then the model's lineage.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 .venv/bin/python examples/register_models.py

1. ``register_baseline``: the token's first model, which becomes ``champion``;
2. ``register_improved_model``: a contributor's data made it better; it becomes the
   next version of the same registered model, with its DeltaOne, and ``champion``;
3. ``register_tokenized_model``: the improved run published under a release name
   for the token (registering it again returns the same version);
4. ``get_model_lineage``: baseline -> improvements, with contributors and DeltaOnes.
"""

import json

from _common import benchmark_metrics, data_hash, digits, tracking_uri, train

from hokusai.core import ModelRegistry

TOKEN = "example-digits"
CONTRIBUTOR = "0x1f9090aaE28b8a3dCeaDf281B0F12828e676c326"


def main() -> dict:
    features, labels = digits()
    bench_x, bench_y = features[-500:], labels[-500:]
    registry = ModelRegistry(tracking_uri())

    # 1. the baseline
    baseline_model = train(features[:150], labels[:150])
    baseline = registry.register_baseline(baseline_model, "digits-classifier", {
        "token_id": TOKEN, "metrics": benchmark_metrics(baseline_model, bench_x, bench_y),
        "benchmark_metric": "accuracy", "data_hash": data_hash(features[:150], labels[:150]),
    })

    # 2. an improvement: base data + a contribution of 450 rows
    improved_model = train(features[:600], labels[:600])
    improved = registry.register_improved_model(baseline["model_id"], improved_model, CONTRIBUTOR, {
        "data_hash": data_hash(features[150:600], labels[150:600]), "contributed_samples": 450,
        "metrics": benchmark_metrics(improved_model, bench_x, bench_y),
    })

    # 3. the improved run, published for the token (idempotent)
    release = f"{TOKEN}-release"
    run_uri = f"runs:/{improved['run_id']}/model"
    tokenized = registry.register_tokenized_model(run_uri, release, TOKEN, "accuracy", improved["benchmark_value"],
                                                  {"source_model_id": improved["model_id"]})
    again = registry.register_tokenized_model(run_uri, release, TOKEN, "accuracy", improved["benchmark_value"])

    # 4. the lineage
    lineage = registry.get_model_lineage(improved["model_id"])
    return {
        "baseline": baseline["model_id"],
        "improved": improved["model_id"],
        "delta_one_bps": improved["delta_one_bps"],
        "alias": improved["alias"],
        "tokenized": tokenized["model_id"],
        "tokenized_created": tokenized["created"],
        "registered_again": {"model_id": again["model_id"], "created": again["created"]},
        "token_versions": [m["model_id"] for m in registry.list_models_by_token(TOKEN)],
        "lineage": [{"model_id": step["model_id"], "role": step["role"], "contributor": step["contributor_address"],
                     "accuracy": step["metrics"].get("accuracy"), "delta_one_bps": step["delta_one_bps"]}
                    for step in lineage["versions"]],
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
