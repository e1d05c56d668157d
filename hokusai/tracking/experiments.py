"""ExperimentManager: MLflow runs for improvement experiments, and comparing a candidate with its baseline.

``compare_models`` recommends, with its reasons:

- **reject** when the benchmark metric did not improve (DeltaOne <= 0 bps);
- **accept** when DeltaOne reaches ``min_improvement_bps`` (one DeltaOne by default,
  the pipeline's eligibility rule) and no other metric fell by more than
  ``max_degradation_bps``;
- **review** otherwise: a gain below the minimum, or a real gain paid for with
  another metric.

Scores are compared in basis points rounded as DeltaOne rounds them
(``hokusai.delta_one.score_bps``), so the recommendation and the DeltaOne agree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hokusai.core.model_ids import parse_model_id
from hokusai.core.registry import ModelRegistry
from hokusai.core.tags import (
    BENCHMARK_METRIC_TAG, BENCHMARK_VALUE_TAG, CONTRIBUTOR_WALLET_TAG, DATA_HASH_TAG, ROLE_TAG, TOKEN_ID_TAG,
    data_hash_value, stored_float,
)
from hokusai.delta_one import score_bps
from hokusai.tracking.metrics import metric_value, to_mlflow_key, validate_metric_name
from hokusai.wallets import validate_wallet_address

DEFAULT_EXPERIMENT = "hokusai-experiments"
ACCEPT, REVIEW, REJECT = "accept", "review", "reject"


class ExperimentManager:
    """MLflow experiments and runs for model-improvement work, on one ``ModelRegistry``."""

    def __init__(self, registry: ModelRegistry | str, experiment_name: str = DEFAULT_EXPERIMENT):
        self.registry = registry if isinstance(registry, ModelRegistry) else ModelRegistry(registry)
        self.experiment_name = experiment_name

    @contextmanager
    def start_experiment(self, name: str | None = None, run_name: str | None = None,
                         tags: dict[str, Any] | None = None) -> Iterator[Any]:
        """An MLflow run in experiment ``name`` (default: the manager's), ended when the block ends.

        Inside the block, ``log_model_metrics`` & co. and ``PerformanceTracker`` log to this run.
        """
        import mlflow

        self.registry.activate()
        experiment_id = self.registry.ensure_experiment(name or self.experiment_name)
        nested = mlflow.active_run() is not None
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=nested,
                              tags={k: str(v) for k, v in (tags or {}).items()}) as run:
            yield run

    def create_improvement_experiment(self, baseline_model_id: str, data_contribution: dict[str, Any]) -> str:
        """A run recording an improvement attempt on ``baseline_model_id``; returns its run id.

        ``data_contribution`` may carry ``contributor_address``, ``data_hash`` and
        ``contributed_samples``; they are checked and recorded as tags and params. The
        run goes to the baseline token's experiment (``hokusai-{token_id}``) when it has one.
        """
        from mlflow.entities import Param, RunTag

        name, version = parse_model_id(baseline_model_id)
        baseline = self.registry.require_version(name, version)
        if not isinstance(data_contribution, dict):
            raise ValueError(f"data_contribution must be a dict, got {type(data_contribution).__name__}")
        token_id = (baseline.tags or {}).get(TOKEN_ID_TAG)
        tags = {ROLE_TAG: "improvement_experiment", "baseline_model_id": f"{name}/{baseline.version}"}
        if token_id:
            tags[TOKEN_ID_TAG] = token_id
        if data_contribution.get("contributor_address") is not None:
            tags[CONTRIBUTOR_WALLET_TAG] = validate_wallet_address(data_contribution["contributor_address"])
        if data_contribution.get("data_hash") is not None:
            tags[DATA_HASH_TAG] = data_hash_value(data_contribution["data_hash"])
        experiment_id = self.registry.ensure_experiment(f"hokusai-{token_id}" if token_id else self.experiment_name)
        run = self.registry.client.create_run(experiment_id, run_name=f"improve-{name}-v{baseline.version}",
                                              tags=tags)
        params = {"baseline_model_id": f"{name}/{baseline.version}",
                  "contributed_samples": str(data_contribution.get("contributed_samples", ""))}
        self.registry.client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()],
                                       tags=[RunTag("hokusai_experiment_type", "model_improvement")])
        self.registry.client.set_terminated(run.info.run_id)
        return run.info.run_id

    def compare_models(self, baseline: dict[str, Any] | str, candidate: dict[str, Any] | str, *,
                       primary_metric: str | None = None, min_improvement_bps: int = 100,
                       max_degradation_bps: int = 100) -> dict[str, Any]:
        """Compare two metric sets (or two registered versions by model id) and recommend.

        Returns ``recommendation`` (accept/review/reject), ``reasons``, ``primary_metric``,
        ``delta_one_bps``, per-metric ``metric_deltas`` (bps), ``improved_metrics``,
        ``degraded_metrics`` and ``not_compared`` (metrics outside [0, 1] or in one set only).
        """
        before, primary_hint = self._metrics_of(baseline, "baseline")
        after, _ = self._metrics_of(candidate, "candidate")
        primary = _plain(validate_metric_name(primary_metric or primary_hint or "accuracy"))
        if primary not in before or primary not in after:
            raise ValueError(f"both models need the primary metric {primary!r} to be compared")
        deltas, not_compared = {}, sorted(set(before) ^ set(after))
        for name in sorted(set(before) & set(after)):
            if 0.0 <= before[name] <= 1.0 and 0.0 <= after[name] <= 1.0:
                deltas[name] = {"baseline": before[name], "candidate": after[name],
                                "delta_bps": score_bps(after[name]) - score_bps(before[name])}
            else:
                not_compared.append(name)
        if primary not in deltas:
            raise ValueError(f"the primary metric {primary!r} must be a score in [0, 1]")
        delta = deltas[primary]["delta_bps"]
        degraded = {n: row["delta_bps"] for n, row in deltas.items() if row["delta_bps"] < 0}
        too_far = {n: bps for n, bps in degraded.items() if n != primary and -bps > max_degradation_bps}
        reasons = []
        if delta <= 0:
            recommendation = REJECT
            reasons.append(f"{primary} did not improve ({delta:+d} bps)")
        else:
            if delta >= min_improvement_bps:
                reasons.append(f"{primary} improved by {delta:+d} bps (minimum {min_improvement_bps} bps)")
            else:
                reasons.append(f"{primary} improved by {delta:+d} bps, below the minimum of {min_improvement_bps} bps")
            reasons += [f"{name} fell by {-bps} bps (tolerance {max_degradation_bps} bps)"
                        for name, bps in sorted(too_far.items())]
            recommendation = ACCEPT if delta >= min_improvement_bps and not too_far else REVIEW
        result = {
            "recommendation": recommendation,
            "reasons": reasons,
            "primary_metric": primary,
            "delta_one_bps": delta,
            "metric_deltas": deltas,
            "improved_metrics": sorted(n for n, row in deltas.items() if row["delta_bps"] > 0),
            "degraded_metrics": sorted(degraded),
            "not_compared": sorted(not_compared),
        }
        _record_in_active_run(result)
        return result

    def _metrics_of(self, model: dict[str, Any] | str, which: str) -> tuple[dict[str, float], str | None]:
        """Metrics by plain name, and the benchmark metric a registered version names."""
        if isinstance(model, dict):
            return {_plain(validate_metric_name(n)): metric_value(n, v) for n, v in model.items()}, None
        from hokusai.core.versions import needs_run_metrics, run_metrics, version_metrics

        name, version = parse_model_id(model)
        found = self.registry.require_version(name, version)
        tags = dict(found.tags or {})
        run = run_metrics(self.registry, [found.run_id]) if needs_run_metrics(tags) else {}
        metrics = dict(version_metrics(tags, run.get(found.run_id or "")))
        benchmark, value = tags.get(BENCHMARK_METRIC_TAG), stored_float(tags, BENCHMARK_VALUE_TAG)
        if benchmark and value is not None:
            metrics.setdefault(_plain(benchmark), value)
        if not metrics:
            raise ValueError(f"{which} {model!r} has no recorded metrics to compare")
        return metrics, benchmark


def _plain(name: str) -> str:
    return name[len("model:"):] if name.startswith("model:") else name


def _record_in_active_run(result: dict[str, Any]) -> None:
    mlflow = sys.modules.get("mlflow")
    if mlflow is None or mlflow.active_run() is None:
        return
    mlflow.set_tag("hokusai_recommendation", result["recommendation"])
    mlflow.log_metric(to_mlflow_key("model:delta_one_bps"), result["delta_one_bps"])
