"""PerformanceTracker: DeltaOne and the attestation for an improvement measured outside the pipeline.

One definition, not two: the DeltaOne document comes from
``hokusai.rules.delta_one.compute_delta_one`` (its eligibility rule included) and the
attestation from the assembly the pipeline uses too, ``hokusai.rules.attestation.attestation_document``
(``build_attestation``; hash: ``attestation_hash``). The SDK
only fills in, from ``data_contribution``, what the pipeline reads from its token
spec and its measurements; a test checks that both give the same documents for the
same evaluation. DeltaOne is computed over the benchmark metrics both sets give
(any of accuracy, precision, recall, f1, auroc; aliases ``f1_score``, ``auc`` and
convention names such as ``model:f1_score`` accepted); ``metrics_included`` says which.
The primary metric is ``primary_metric`` when given, else accuracy when given, else the
first given in that order (``hokusai.rules.delta_one.primary_metric_for``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from hokusai.rules.attestation import attestation_document, attestation_hash
from hokusai.rules.version import __version__
from hokusai.core.contribution import read_contribution
from hokusai.core.tags import integer_value
from hokusai.rules.delta_one import (
    DELTA_ONE_DEFINITION, compute_delta_one, primary_metric_for, shared_benchmark_metrics,
)
from hokusai.rules.token_ids import token_model_name, validate_token_id
from hokusai.rules.metric_names import BENCHMARK_METRICS as METRIC_NAMES
from hokusai.rules.metric_names import benchmark_metric_name, metric_value, to_mlflow_key

NOT_COMMITTED_KEY = "uncommitted"  # the partition-key segment of a contribution without a data hash

SDK_PIPELINE_NAME = "hokusai-sdk"
# what the pipeline records about an evaluation (hokusai.claims.documents.delta_one_document); None when not given
_EVALUATION_FIELDS = ("token_id", "task", "benchmark_spec_id", "benchmark_sha256", "benchmark_rows_root",
                      "benchmark_rows", "sample_size", "seed", "merge_strategy", "estimator", "committed_columns",
                      "training_lineage", "near_copy_tolerance")
_READ_KEYS = frozenset({*_EVALUATION_FIELDS, "model_name", "model_id_uint", "metric_family", "primary_metric",
                        "min_improvement_bps", "baseline_model", "candidate_weights_commitment", "total_samples",
                        "training_sha256", "clean_rows_sha256", "clean_rows_root", "partition_key", "spec_sha256",
                        "significance", "min_samples"})


def benchmark_metrics(metrics: dict[str, Any], which: str) -> dict[str, float]:
    """The benchmark metrics given, under DeltaOne's names (``f1_score`` -> ``f1``, ``auc`` -> ``auroc``).

    Other metrics (latency, usage...) are not part of DeltaOne and are left out.
    """
    if not isinstance(metrics, dict):
        raise ValueError(f"{which} must be a dict of metric values, got {type(metrics).__name__}")
    named = {}
    for name, value in metrics.items():
        benchmark = benchmark_metric_name(name)
        if benchmark is not None:
            named[benchmark] = metric_value(name, value)
    return named


def compared_metrics(baseline: dict[str, float], improved: dict[str, float]) -> tuple[str, ...]:
    """The benchmark metrics both sets give; a clear error when there is none."""
    shared = shared_benchmark_metrics(baseline, improved)
    if not shared:
        raise ValueError(
            f"no benchmark metric in both baseline_metrics ({sorted(baseline) or 'none known'}) and "
            f"improved_metrics ({sorted(improved) or 'none known'}): DeltaOne is computed over any of "
            f"{list(METRIC_NAMES)} (aliases f1_score, auc, model:accuracy...)")
    return shared


class PerformanceTracker:
    """Computes an improvement's DeltaOne and attestation exactly as the pipeline does."""

    def track_improvement(self, baseline_metrics: dict[str, Any], improved_metrics: dict[str, Any],
                          data_contribution: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(delta, attestation)``: the DeltaOne document and the attestation document.

        ``data_contribution`` needs ``contributor_address`` (or ``contributor``);
        ``data_hash`` (a SHA-256; without one the documents say the data is not committed,
        ``hokusai.core.contribution``), ``samples``, ``quality_score``, ``token_id``,
        ``primary_metric`` (see above), ``min_improvement_bps`` (100), ``model_name``,
        ``model_id_uint``, ``metric_family``, ``baseline_model`` ({name, version,
        weights_commitment}), ``candidate_weights_commitment``, ``contributed_samples``,
        ``total_samples``, ``partition_key``, ``benchmark_spec_id``, ``benchmark_sha256``,
        ``benchmark_rows``, ``sample_size``, ``min_samples``, ``significance`` (a paired
        bootstrap from ``hokusai.evaluation.significance``), ``seed``, and the other fields the
        pipeline records (``task``, ``estimator``, row roots...). Inside an
        active MLflow run, DeltaOne is logged and both documents are stored as artifacts.
        ``hokusai.rules.attestation.attestation_hash(attestation)`` is its on-chain hash.
        """
        baseline = benchmark_metrics(baseline_metrics, "baseline_metrics")
        improved = benchmark_metrics(improved_metrics, "improved_metrics")
        contribution = _contribution(data_contribution)
        included = compared_metrics(baseline, improved)
        requested = contribution["primary_metric"]
        if requested is not None and requested not in METRIC_NAMES:
            raise ValueError(f"primary_metric {requested!r} must be one of {list(METRIC_NAMES)}")
        primary = primary_metric_for(included, requested)
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
                **contribution["extra_attribution"],
            },
            evaluation={key: contribution[key] for key in _EVALUATION_FIELDS},
            pipeline={"pipeline": SDK_PIPELINE_NAME, "version": __version__, "definition": DELTA_ONE_DEFINITION,
                      "token_spec_sha256": contribution["spec_sha256"]},
            significance=contribution["significance"],
            min_samples=contribution["min_samples"],
            metrics_included=included,
        )
        if not contribution["committed"]:  # said in both documents, so neither passes for a claim
            delta["data_commitment"] = contribution["commitment"]
        attestation = _attestation(contribution, delta)
        if not contribution["committed"]:
            attestation["data_commitment"] = contribution["commitment"]
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
    """The attestation, assembled by ``hokusai.rules.attestation.attestation_document``, as the pipeline's is."""
    token = SdkToken(contribution["token_id"], contribution["model_name"], contribution["model_id_uint"],
                     contribution["metric_family"], contribution["spec_sha256"], contribution["seed"])
    return attestation_document(token, delta_one)


def _contribution(data: dict[str, Any]) -> dict[str, Any]:
    """The contribution's fields, checked, with the defaults the docstring lists."""
    read = read_contribution(data, consumed=_READ_KEYS)
    token_id = None if data.get("token_id") is None else validate_token_id(data["token_id"])
    model_name = data.get("model_name") or (token_model_name(token_id) if token_id else None)
    baseline_model = {"name": model_name, "version": 0, "weights_commitment": None,
                      **(data.get("baseline_model") or {})}
    extra = {}  # said only when there is something to say, so a pipeline-shaped call gives the pipeline's document
    if read.quality_score is not None:
        extra["quality_score"] = read.quality_score
    if read.metadata:
        extra["metadata"] = read.metadata
    if not read.committed:
        extra["data_committed"] = False
    primary = data.get("primary_metric")
    return {
        "token_id": token_id,
        "wallet": read.wallet,
        "data_hash": read.data_hash,
        "committed": read.committed,
        "commitment": read.commitment(),
        "extra_attribution": extra,
        "model_name": model_name,
        "model_id_uint": integer_value(data.get("model_id_uint", 0), "model_id_uint"),
        "metric_family": data.get("metric_family", "proportion"),
        "primary_metric": None if primary is None else (benchmark_metric_name(primary) or primary),
        "min_improvement_bps": integer_value(data.get("min_improvement_bps", 100), "min_improvement_bps"),
        "baseline_model": baseline_model,
        "candidate_weights_commitment": data.get("candidate_weights_commitment"),
        "contributed_samples": read.samples or 0,
        "total_samples": data.get("total_samples"),
        "training_sha256": data.get("training_sha256"),
        "clean_rows_sha256": data.get("clean_rows_sha256"),
        "clean_rows_root": data.get("clean_rows_root"),
        "partition_key": data.get("partition_key") or (
            f"sdk/{token_id or 'no-token'}/{read.wallet}/{read.data_hash[:16] if read.committed else NOT_COMMITTED_KEY}"),
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
