"""The metric naming convention, and its one mapping to MLflow metric keys.

A metric name is ``[category:]name`` matching ``^([a-z]+:)?[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$``,
where the category, when present, is one of ``usage`` (how a deployed model is used),
``model`` (how well it performs), ``pipeline`` (how the platform ran) and ``custom``
(anything else). Names without a category are legacy; ``migrate_metric_name`` gives
their convention name.

**MLflow keys.** ``to_mlflow_key`` replaces the category's ``:`` with ``/``
(``model:accuracy`` -> ``model/accuracy``) and ``from_mlflow_key`` undoes it. It
is reversible because a valid name never contains ``/`` and only the four categories
are mapped back (MLflow's own ``system/...`` keys stay as they are). Why not keep
``:``: MLflow 3.17 accepts it on Linux and macOS but rejects it on Windows (client
and server validation), and a ``:`` key must be back-quoted in every search filter;
``/`` is valid everywhere, and MLflow's UI groups ``model/...`` keys into one section.
"""

from __future__ import annotations

import math
import re
import time
from decimal import Decimal
from numbers import Real
from typing import Any

CATEGORIES = ("usage", "model", "pipeline", "custom")
METRIC_NAME_PATTERN = r"^([a-z]+:)?[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
MLFLOW_CATEGORY_SEPARATOR = "/"
_METRIC_NAME = re.compile(METRIC_NAME_PATTERN)

STANDARD_METRICS: dict[str, str] = {
    "model:accuracy": "share of benchmark rows predicted correctly (0-1)",
    "model:precision": "precision on the benchmark, weighted over classes (0-1)",
    "model:recall": "recall on the benchmark, weighted over classes (0-1)",
    "model:f1_score": "F1 score on the benchmark, weighted over classes (0-1)",
    "model:auroc": "area under the ROC curve on the benchmark, one-vs-rest for multiclass (0-1)",
    "model:latency_ms": "inference latency per request, milliseconds",
    "model:delta_one_bps": "DeltaOne of a candidate over its baseline, basis points (100 bps = 1 DeltaOne)",
    "usage:reply_rate": "share of messages that received a reply (0-1)",
    "usage:conversion_rate": "share of sessions that converted (0-1)",
    "usage:requests": "requests served",
    "usage:active_users": "distinct users in the period",
    "pipeline:duration_seconds": "wall time of a pipeline run, seconds",
    "pipeline:rows_processed": "rows read from a contribution",
    "pipeline:rows_rejected": "rows removed by cleaning (duplicates, benchmark copies, invalid)",
    "pipeline:data_quality_score": "quality score of a cleaned contribution (0-1)",
}

# Legacy (uncategorized) names and the convention name each becomes.
LEGACY_METRIC_NAMES: dict[str, str] = {
    "accuracy": "model:accuracy",
    "precision": "model:precision",
    "recall": "model:recall",
    "f1": "model:f1_score",
    "f1_score": "model:f1_score",
    "auroc": "model:auroc",
    "auc": "model:auroc",
    "roc_auc": "model:auroc",
    "latency": "model:latency_ms",
    "latency_ms": "model:latency_ms",
    "delta_one_bps": "model:delta_one_bps",
    "reply_rate": "usage:reply_rate",
    "conversion_rate": "usage:conversion_rate",
    "duration": "pipeline:duration_seconds",
    "duration_seconds": "pipeline:duration_seconds",
    "data_quality_score": "pipeline:data_quality_score",
}


def validate_metric_name(name: str) -> str:
    """Return ``name`` if it follows the convention; raise ValueError saying why not."""
    if not isinstance(name, str) or not _METRIC_NAME.fullmatch(name):
        raise ValueError(
            f"metric name {name!r} must match {METRIC_NAME_PATTERN}: lowercase letters, digits, "
            "'_' and '.', optionally after a category such as 'model:'"
        )
    category = metric_category(name)
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"metric name {name!r} has unknown category {category!r}; use one of {CATEGORIES}")
    return name


def metric_category(name: str) -> str | None:
    """The category of ``name`` (``model`` for ``model:accuracy``), None for a legacy name."""
    return name.split(":", 1)[0] if ":" in name else None


def migrate_metric_name(name: str) -> str:
    """The convention name for a legacy name (``f1`` -> ``model:f1_score``); other names unchanged."""
    return LEGACY_METRIC_NAMES.get(name, name)


def to_mlflow_key(name: str) -> str:
    """The MLflow metric key of a metric name: ``model:accuracy`` -> ``model/accuracy``."""
    return validate_metric_name(name).replace(":", MLFLOW_CATEGORY_SEPARATOR, 1)


def from_mlflow_key(key: str) -> str:
    """The metric name of an MLflow key (inverse of ``to_mlflow_key``); foreign keys unchanged."""
    category, separator, rest = key.partition(MLFLOW_CATEGORY_SEPARATOR)
    if separator and category in CATEGORIES and _METRIC_NAME.fullmatch(rest):
        return f"{category}:{rest}"
    return key


def metric_value(name: str, value: Any) -> float:
    """A metric value as a finite float; NaN, infinities, bools and non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, (Real, Decimal)):
        raise ValueError(f"metric {name!r} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r} must be finite, got {value!r}")
    return number


def categorize(metrics: dict[str, Any], category: str) -> dict[str, float]:
    """Metric names of one category: legacy names migrated, bare names prefixed, values checked.

    A name that belongs to another category is refused (``duration`` given as a
    model metric is ``pipeline:duration_seconds``: log it with ``log_pipeline_metrics``).
    """
    named = {}
    for name, value in metrics.items():
        migrated = migrate_metric_name(name)
        full = migrated if ":" in migrated else f"{category}:{migrated}"
        validate_metric_name(full)
        if metric_category(full) != category:
            raise ValueError(f"{name!r} is {full!r}, not a {category} metric")
        named[full] = metric_value(full, value)
    return named


def log_metrics(metrics: dict[str, Any], *, run_id: str | None = None, step: int = 0,
                client: Any = None) -> dict[str, str]:
    """Log convention-named metrics to ``run_id`` (default: the active MLflow run).

    Returns each metric name with the MLflow key it was stored under.
    """
    import mlflow
    from mlflow.entities import Metric

    checked = {validate_metric_name(name): metric_value(name, value) for name, value in metrics.items()}
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise RuntimeError("no active MLflow run: log inside ExperimentManager.start_experiment() or pass run_id")
        run_id = active.info.run_id
    client = client or mlflow.MlflowClient()
    now = int(time.time() * 1000)
    keys = {name: to_mlflow_key(name) for name in checked}
    client.log_batch(run_id, metrics=[Metric(keys[name], value, now, step) for name, value in checked.items()])
    return keys


def log_model_metrics(metrics: dict[str, Any], **where: Any) -> dict[str, str]:
    """Log model metrics (``accuracy`` is stored as ``model:accuracy``); see ``log_metrics``."""
    return log_metrics(categorize(metrics, "model"), **where)


def log_pipeline_metrics(metrics: dict[str, Any], **where: Any) -> dict[str, str]:
    """Log pipeline metrics (``duration`` is stored as ``pipeline:duration_seconds``)."""
    return log_metrics(categorize(metrics, "pipeline"), **where)


def log_usage_metrics(metrics: dict[str, Any], **where: Any) -> dict[str, str]:
    """Log usage metrics (``reply_rate`` is stored as ``usage:reply_rate``)."""
    return log_metrics(categorize(metrics, "usage"), **where)
