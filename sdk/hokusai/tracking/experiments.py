"""ExperimentManager: MLflow runs for improvement experiments, and comparing a candidate with its baseline.

``compare_models`` recommends, with its reasons:

- **reject** when the benchmark metric did not improve (DeltaOne <= 0 bps);
- **accept** when DeltaOne reaches ``min_improvement_bps`` (one DeltaOne by default,
  the pipeline's eligibility rule) and no other metric fell by more than
  ``max_degradation_bps``;
- **review** otherwise: a gain below the minimum, or a real gain paid for with
  another metric.

Scores are compared in basis points rounded as DeltaOne rounds them
(``hokusai.rules.delta_one.score_bps``), so the recommendation and the DeltaOne agree.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hokusai.core.client import RegistryClient
from hokusai.core.contribution import read_contribution
from hokusai.core.model_ids import parse_model_id
from hokusai.core.registry import ModelRegistry
from hokusai.core.tags import (
    BENCHMARK_METRIC_TAG, BENCHMARK_VALUE_TAG, CONTRIBUTOR_WALLET_TAG, DATA_COMMITTED_TAG, DATA_HASH_TAG, ROLE_TAG,
    TOKEN_ID_TAG, stored_float,
)
from hokusai.core.versions import needs_run_metrics, run_metrics, version_metrics
from hokusai.rules.delta_one import primary_metric_for, score_bps
from hokusai.rules.token_ids import token_experiment_name
from hokusai.rules.metric_names import (
    BENCHMARK_METRICS, benchmark_metric_name, metric_value, plain_metric_name, to_mlflow_key, validate_metric_name,
)

DEFAULT_EXPERIMENT = "hokusai-experiments"
ACCEPT, REVIEW, REJECT = "accept", "review", "reject"
IMPROVEMENT_EXPERIMENT = "improvement_experiment"  # the hokusai_role of the run that records an attempt
_HASH_CHUNK = 1 << 20


class ExperimentManager:
    """MLflow experiments and runs for model-improvement work, on one registry.

    ``registry``: a ``ModelRegistry`` (or ``RegistryClient``), a tracking URI, or nothing
    (the tracking URI from ``MLFLOW_TRACKING_URI``, as ``ModelRegistry()`` reads it).
    """

    def __init__(self, registry: RegistryClient | str | None = None, experiment_name: str = DEFAULT_EXPERIMENT):
        self.registry = registry if isinstance(registry, RegistryClient) else ModelRegistry(registry)
        self.experiment_name = experiment_name

    @contextmanager
    def start_experiment(self, name: str | None = None, run_name: str | None = None,
                         tags: dict[str, Any] | None = None) -> Iterator[Any]:
        """An MLflow run in experiment ``name`` (default: the manager's), ended when the block ends.

        Inside the block, ``log_model_metrics`` & co. and ``PerformanceTracker`` log to this run.
        """
        with self.registry.start_run(name or self.experiment_name, run_name, tags) as run:
            yield run

    def create_improvement_experiment(self, baseline_model_id: str, data_contribution: dict[str, Any] | None = None,
                                      *, contributor_address: str | None = None,
                                      data_path: str | Path | None = None) -> str:
        """Record an improvement attempt on ``baseline_model_id``.

        Two forms. The specification's, ``(baseline_model_id, contributor_address,
        data_path)`` (by keyword): an MLflow experiment of its own for this baseline,
        contributor and data, with a run recording the contributor, the data path and
        (when the file exists) its SHA-256; returns **the experiment's id**, which
        ``compare_models(experiment_id=...)`` records its comparison in. The original,
        ``(baseline_model_id, data_contribution)``: a run in the token's experiment
        (``hokusai-{token_id}``) recording ``contributor_address``, ``data_hash`` and
        ``contributed_samples``; returns **the run's id**.
        """
        name, version = parse_model_id(baseline_model_id)
        baseline = self.registry.require_version(name, version)
        if data_contribution is not None and (contributor_address is not None or data_path is not None):
            raise ValueError("pass either data_contribution or contributor_address/data_path, not both")
        spec_form = data_contribution is None
        contribution = read_contribution(data_contribution, contributor_address=contributor_address,
                                         wallet_required=spec_form)
        token_id = (baseline.tags or {}).get(TOKEN_ID_TAG)
        baseline_id = f"{name}/{baseline.version}"
        tags = {ROLE_TAG: IMPROVEMENT_EXPERIMENT, "baseline_model_id": baseline_id}
        if token_id:
            tags[TOKEN_ID_TAG] = token_id
        if contribution.wallet is not None:
            tags[CONTRIBUTOR_WALLET_TAG] = contribution.wallet
        params = {"baseline_model_id": baseline_id}
        if spec_form:
            data = data_file(data_path)
            tags.update({DATA_COMMITTED_TAG: str(data["sha256"] is not None).lower(), "data_path": data["path"]})
            if data["sha256"] is not None:
                tags[DATA_HASH_TAG] = data["sha256"]
            params.update({"data_path": data["path"], "data_bytes": "" if data["bytes"] is None else data["bytes"]})
            experiment = (f"{token_experiment_name(token_id) if token_id else name}/improve-v{baseline.version}-"
                          f"{contribution.wallet}-{data['key'][:12]}")
        else:
            if contribution.committed:
                tags[DATA_HASH_TAG] = contribution.data_hash
            elif data_contribution.get("data_hash") is not None:  # given, but no SHA-256: said, not failed
                tags[DATA_COMMITTED_TAG] = "false"
            params["contributed_samples"] = "" if contribution.samples is None else contribution.samples
            experiment = token_experiment_name(token_id) if token_id else self.experiment_name
        experiment_id = self.registry.ensure_experiment(experiment)
        run_id = self._record(experiment_id, f"improve-{name}-v{baseline.version}", tags, params)
        return experiment_id if spec_form else run_id

    def compare_models(self, baseline: dict[str, Any] | str | None = None, candidate: dict[str, Any] | str | None = None,
                       *, experiment_id: str | None = None, baseline_model_id: str | None = None,
                       improved_model_id: str | None = None, primary_metric: str | None = None,
                       min_improvement_bps: int = 100, max_degradation_bps: int = 100) -> dict[str, Any]:
        """Compare two metric sets (or two registered versions by model id) and recommend.

        The specification's form, ``compare_models(experiment_id=..., baseline_model_id=...,
        improved_model_id=...)``, compares two registered versions and records the
        comparison as a run of that experiment (``run_id`` in the result).

        Returns ``metrics`` ({metric: {``baseline``, ``improved``, ``delta``, ``delta_bps``}}),
        ``recommendation`` (accept/review/reject), ``reasons``, ``primary_metric`` (the
        baseline's benchmark metric, else accuracy when compared, else the first compared of
        precision, recall, f1, auroc), ``delta_one_bps``, per-metric ``metric_deltas`` (bps),
        ``improved_metrics``, ``degraded_metrics`` and ``not_compared`` (metrics outside
        [0, 1] or in one set only).
        """
        if baseline_model_id is not None or improved_model_id is not None:
            if baseline is not None or candidate is not None:
                raise ValueError("pass baseline_model_id/improved_model_id or baseline/candidate, not both")
            baseline, candidate = baseline_model_id, improved_model_id
        if baseline is None or candidate is None:
            raise ValueError("compare_models needs a baseline and an improved model (ids or metric dicts)")
        before, primary_hint = self._metrics_of(baseline, "baseline")
        after, _ = self._metrics_of(candidate, "candidate")
        deltas, not_compared = {}, sorted(set(before) ^ set(after))
        for name in sorted(set(before) & set(after)):
            if 0.0 <= before[name] <= 1.0 and 0.0 <= after[name] <= 1.0:
                deltas[name] = {"baseline": before[name], "candidate": after[name], "improved": after[name],
                                "delta": after[name] - before[name],
                                "delta_bps": score_bps(after[name]) - score_bps(before[name])}
            else:
                not_compared.append(name)
        requested = primary_metric or primary_hint
        if requested is not None:
            primary = benchmark_metric_name(requested) or plain_metric_name(validate_metric_name(requested))
            if primary not in before or primary not in after:
                raise ValueError(f"both models need the primary metric {primary!r} to be compared")
        else:
            compared = [m for m in BENCHMARK_METRICS if m in deltas]
            if not compared:
                raise ValueError(f"no benchmark metric ({', '.join(BENCHMARK_METRICS)}) in both models to compare")
            primary = primary_metric_for(compared)
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
            "metrics": {name: {key: row[key] for key in ("baseline", "improved", "delta", "delta_bps")}
                        for name, row in deltas.items()},
            "recommendation": recommendation,
            "reasons": reasons,
            "primary_metric": primary,
            "delta_one_bps": delta,
            "metric_deltas": deltas,
            "improved_metrics": sorted(n for n, row in deltas.items() if row["delta_bps"] > 0),
            "degraded_metrics": sorted(degraded),
            "not_compared": sorted(not_compared),
        }
        if experiment_id is not None:
            result.update(experiment_id=experiment_id, run_id=self._record_comparison(experiment_id, baseline,
                                                                                      candidate, result))
        else:
            _record_in_active_run(result)
        return result

    def _record(self, experiment_id: str, run_name: str, tags: dict[str, Any], params: dict[str, Any]) -> str:
        return self.registry.record_run(experiment_id, run_name, {**tags, "hokusai_experiment_type": "model_improvement"},
                                        params)

    def _record_comparison(self, experiment_id: str, baseline: Any, candidate: Any, result: dict[str, Any]) -> str:
        """The comparison as a run of ``experiment_id``: the pipeline's metric keys (``model/accuracy``
        improved, ``model/baseline.accuracy``, ``model/delta_one_bps``) and the recommendation."""
        tags = {ROLE_TAG: "comparison", "hokusai_recommendation": result["recommendation"]}
        params = {"primary_metric": result["primary_metric"]}
        for which, model in (("baseline_model_id", baseline), ("improved_model_id", candidate)):
            if isinstance(model, str):
                params[which] = model
        run_id = self._record(experiment_id, "compare", tags, params)
        metrics = {to_mlflow_key("model:delta_one_bps"): result["delta_one_bps"]}
        for name, row in result["metrics"].items():
            if ":" not in name:  # model metrics; other categories keep their own keys, unpaired
                metrics[to_mlflow_key(f"model:{name}")] = row["improved"]
                metrics[to_mlflow_key(f"model:baseline.{name}")] = row["baseline"]
        self.registry.log_run_metrics(run_id, metrics)
        return run_id

    def _metrics_of(self, model: dict[str, Any] | str, which: str) -> tuple[dict[str, float], str | None]:
        """Metrics by plain name, and the benchmark metric a registered version names."""
        if isinstance(model, dict):
            return {_plain(n): metric_value(n, v) for n, v in model.items()}, None
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
    """A metric's name for comparing: DeltaOne's for benchmark metrics (``f1_score`` -> ``f1``), else plain."""
    return benchmark_metric_name(name) or plain_metric_name(validate_metric_name(name))


def data_file(data_path: str | Path | None) -> dict[str, Any]:
    """What an attempt records of its data file: the path, and its size and SHA-256 when it exists."""
    if data_path is None:
        return {"path": "", "bytes": None, "sha256": None, "key": hashlib.sha256(b"").hexdigest()}
    path = Path(data_path)
    if not path.is_file():
        return {"path": str(data_path), "bytes": None, "sha256": None,
                "key": hashlib.sha256(str(data_path).encode()).hexdigest()}
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return {"path": str(data_path), "bytes": path.stat().st_size, "sha256": digest.hexdigest(),
            "key": digest.hexdigest()}


def _record_in_active_run(result: dict[str, Any]) -> None:
    mlflow = sys.modules.get("mlflow")
    if mlflow is None or mlflow.active_run() is None:
        return
    mlflow.set_tag("hokusai_recommendation", result["recommendation"])
    mlflow.log_metric(to_mlflow_key("model:delta_one_bps"), result["delta_one_bps"])
