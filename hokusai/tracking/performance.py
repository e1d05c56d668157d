"""PerformanceTracker: DeltaOne and the attestation for an improvement measured outside the pipeline.

One definition, not two: the DeltaOne document comes from
``hokusai.delta_one.compute_delta_one`` (its eligibility rule included) and the
attestation from the pipeline's own assembly, ``hokusai.claims.attestation_document``
(``hokusai.attestation.build_attestation``; hash: ``attestation_hash``). The SDK
only fills in, from ``data_contribution``, what the pipeline reads from its token
spec and its measurements; a test checks that both give the same documents for the
same evaluation. ``hokusai-delta-one-v1`` is defined over the five benchmark metrics
(accuracy, precision, recall, f1, auroc), so both metric sets need all five;
convention names (``model:f1_score``) are accepted.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from hokusai import __version__
from hokusai.attestation import attestation_hash
from hokusai.core.tags import data_hash_value, integer_value
from hokusai.delta_one import DELTA_ONE_DEFINITION, compute_delta_one
from hokusai.evaluation import METRIC_NAMES
from hokusai.ids import validate_token_id
from hokusai.tracking.metrics import metric_value, migrate_metric_name, to_mlflow_key
from hokusai.wallets import validate_wallet_address

SDK_PIPELINE_NAME = "hokusai-sdk"
# what the pipeline records about an evaluation (hokusai.claims.delta_one_document); None when not given
_EVALUATION_FIELDS = ("token_id", "task", "benchmark_spec_id", "benchmark_sha256", "benchmark_rows_root",
                      "benchmark_rows", "sample_size", "seed", "merge_strategy", "estimator", "committed_columns",
                      "training_lineage", "near_copy_tolerance")
# convention name -> the benchmark metric name DeltaOne uses
_BENCHMARK_NAMES = {migrate_metric_name(name): name for name in METRIC_NAMES}


def benchmark_metrics(metrics: dict[str, Any], which: str) -> dict[str, float]:
    """The five benchmark metrics under DeltaOne's names (``accuracy`` ... ``f1``), values checked."""
    if not isinstance(metrics, dict):
        raise ValueError(f"{which} must be a dict of metric values, got {type(metrics).__name__}")
    named = {}
    for name, value in metrics.items():
        benchmark = _BENCHMARK_NAMES.get(migrate_metric_name(name))
        if benchmark is not None:
            named[benchmark] = metric_value(name, value)
    missing = [name for name in METRIC_NAMES if name not in named]
    if missing:
        raise ValueError(f"{which} lacks {missing}: hokusai-delta-one-v1 is computed over {list(METRIC_NAMES)}")
    return named


class PerformanceTracker:
    """Computes an improvement's DeltaOne and attestation exactly as the pipeline does."""

    def track_improvement(self, baseline_metrics: dict[str, Any], improved_metrics: dict[str, Any],
                          data_contribution: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(delta, attestation)``: the DeltaOne document and the attestation document.

        ``data_contribution`` needs ``token_id``, ``contributor_address`` (or
        ``wallet_address``) and ``data_hash``; optional: ``primary_metric``
        (``accuracy``), ``min_improvement_bps`` (100), ``model_name``,
        ``model_id_uint``, ``metric_family``, ``baseline_model`` ({name, version,
        weights_commitment}), ``candidate_weights_commitment``, ``contributed_samples``,
        ``total_samples``, ``partition_key``, ``benchmark_spec_id``, ``benchmark_sha256``,
        ``benchmark_rows``, ``sample_size``, ``min_samples``, ``significance`` (a paired
        bootstrap from ``hokusai.significance``), ``seed``, and the other fields the
        pipeline records (``task``, ``estimator``, row roots...). Inside an
        active MLflow run, DeltaOne is logged and both documents are stored as artifacts.
        ``hokusai.attestation.attestation_hash(attestation)`` is its on-chain hash.
        """
        baseline = benchmark_metrics(baseline_metrics, "baseline_metrics")
        improved = benchmark_metrics(improved_metrics, "improved_metrics")
        contribution = _contribution(data_contribution)
        primary = contribution["primary_metric"]
        if primary not in METRIC_NAMES:
            raise ValueError(f"primary_metric {primary!r} must be one of {list(METRIC_NAMES)}")
        delta = compute_delta_one(
            baseline_metrics=baseline,
            new_metrics=improved,
            primary_metric=primary,
            min_improvement_bps=contribution["min_improvement_bps"],
            baseline_model=contribution["baseline_model"],
            new_model={"name": contribution["model_name"],
                       "weights_commitment": contribution["candidate_weights_commitment"],
                       "training_rows": contribution["total_samples"],
                       "training_sha256": contribution["training_sha256"]},
            contributor={
                "contributor_id": contribution["wallet"],
                "wallet_address": contribution["wallet"],
                "data_hash": contribution["data_hash"],
                "contributor_weights": {contribution["wallet"]: 1.0},
                "contributed_samples": contribution["contributed_samples"],
                "total_samples": contribution["total_samples"],
                "data_manifest": {"partition_key": contribution["partition_key"],
                                  "clean_rows_sha256": contribution["clean_rows_sha256"],
                                  "clean_rows_root": contribution["clean_rows_root"]},
            },
            evaluation={key: contribution[key] for key in _EVALUATION_FIELDS},
            pipeline={"pipeline": SDK_PIPELINE_NAME, "version": __version__, "definition": DELTA_ONE_DEFINITION,
                      "token_spec_sha256": contribution["spec_sha256"]},
            significance=contribution["significance"],
            min_samples=contribution["min_samples"],
        )
        attestation = _attestation(contribution, delta)
        _log_to_active_run(delta, attestation)
        return delta, attestation


@dataclass(frozen=True)
class SdkToken:
    """What the attestation takes from a token spec, for a token evaluated outside the pipeline."""

    token_id: str
    model_name: str
    model_id_uint: int
    metric_family: str
    spec_sha256: str | None
    seed: int | None


def _attestation(contribution: dict[str, Any], delta_one: dict[str, Any]) -> dict[str, Any]:
    """The attestation, assembled by the pipeline's ``hokusai.claims.attestation_document``."""
    from hokusai.claims import attestation_document

    token = SdkToken(contribution["token_id"], contribution["model_name"], contribution["model_id_uint"],
                     contribution["metric_family"], contribution["spec_sha256"], contribution["seed"])
    return attestation_document(token, delta_one)


def _contribution(data: dict[str, Any]) -> dict[str, Any]:
    """The contribution's fields, checked, with the defaults the docstring lists."""
    if not isinstance(data, dict):
        raise ValueError(f"data_contribution must be a dict, got {type(data).__name__}")
    token_id = validate_token_id(data.get("token_id"))
    address = data.get("contributor_address", data.get("wallet_address"))
    if address is None:
        raise ValueError("data_contribution needs 'contributor_address' (the contributor's wallet)")
    wallet = validate_wallet_address(address)
    data_hash = data_hash_value(data.get("data_hash"))
    model_name = data.get("model_name") or f"hokusai-{token_id}"
    baseline_model = {"name": model_name, "version": 0, "weights_commitment": None,
                      **(data.get("baseline_model") or {})}
    return {
        "token_id": token_id,
        "wallet": wallet,
        "data_hash": data_hash,
        "model_name": model_name,
        "model_id_uint": integer_value(data.get("model_id_uint", 0), "model_id_uint"),
        "metric_family": data.get("metric_family", "proportion"),
        "primary_metric": _BENCHMARK_NAMES.get(migrate_metric_name(data.get("primary_metric", "accuracy")),
                                               data.get("primary_metric")),
        "min_improvement_bps": integer_value(data.get("min_improvement_bps", 100), "min_improvement_bps"),
        "baseline_model": baseline_model,
        "candidate_weights_commitment": data.get("candidate_weights_commitment"),
        "contributed_samples": integer_value(data.get("contributed_samples", 0), "contributed_samples"),
        "total_samples": data.get("total_samples"),
        "training_sha256": data.get("training_sha256"),
        "clean_rows_sha256": data.get("clean_rows_sha256"),
        "clean_rows_root": data.get("clean_rows_root"),
        "partition_key": data.get("partition_key") or f"sdk/{token_id}/{wallet}/{data_hash[:16]}",
        "task": data.get("task"),
        "benchmark_spec_id": data.get("benchmark_spec_id"),
        "benchmark_sha256": data.get("benchmark_sha256"),
        "benchmark_rows": data.get("benchmark_rows"),
        "benchmark_rows_root": data.get("benchmark_rows_root"),
        "sample_size": data.get("sample_size"),
        "seed": data.get("seed"),
        "merge_strategy": data.get("merge_strategy", "append"),
        "estimator": data.get("estimator"),
        "committed_columns": data.get("committed_columns"),
        "training_lineage": data.get("training_lineage"),
        "near_copy_tolerance": data.get("near_copy_tolerance"),
        "spec_sha256": data.get("spec_sha256"),
        "significance": data.get("significance"),
        "min_samples": data.get("min_samples"),
    }


def _log_to_active_run(delta_one: dict[str, Any], attestation: dict[str, Any]) -> None:
    """Inside an MLflow run (``ExperimentManager.start_experiment``), record the result there."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None or mlflow.active_run() is None:
        return
    mlflow.log_metric(to_mlflow_key("model:delta_one_bps"), delta_one["delta_computation"]["delta_one_bps"])
    mlflow.set_tag("attestation_hash", attestation_hash(attestation))
    mlflow.log_dict(delta_one, "hokusai/delta_one.json")
    mlflow.log_dict(attestation, "hokusai/attestation.json")
