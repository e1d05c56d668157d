"""The metric vocabulary, in one place: benchmark metric names, the naming convention, MLflow keys.

The pipeline's evaluation (``hokusai.evaluation.metrics``), token specs, DeltaOne, the registry
tags and the SDK's tracking all read their metric names from here.

**Benchmark metrics.** ``BENCHMARK_METRICS`` are the five scores the pipeline measures
on a token's benchmark, under DeltaOne's names; ``benchmark_metric_name`` maps their
aliases (``f1_score`` -> ``f1``, ``auc`` -> ``auroc``, ``model:accuracy`` -> ``accuracy``).

**The naming convention.** A metric name is ``[category:]name`` matching
``^([a-z]+:)?[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$``, where the category, when present, is one
of ``usage`` (how a deployed model is used), ``model`` (how well it performs),
``pipeline`` (how the platform ran) and ``custom`` (anything else). Names without a
category are legacy; ``migrate_metric_name`` gives their convention name.

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
from decimal import Decimal
from numbers import Real
from typing import Any

# the pipeline's benchmark scores, in DeltaOne's fixed order (also the SDK's primary-metric order)
BENCHMARK_METRICS = ("accuracy", "precision", "recall", "f1", "auroc")
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


# convention name -> DeltaOne's benchmark name (model:f1_score -> f1)
_BENCHMARK_BY_CONVENTION = {migrate_metric_name(name): name for name in BENCHMARK_METRICS}


def benchmark_metric_name(name: str) -> str | None:
    """DeltaOne's name for one of the five benchmark metrics under any alias, None for other metrics.

    ``accuracy``, ``model:accuracy``; ``f1``, ``f1_score``, ``model:f1_score``; ``auroc``,
    ``auc``, ``roc_auc``, ``model:auroc``.
    """
    if not isinstance(name, str):
        return None
    return _BENCHMARK_BY_CONVENTION.get(migrate_metric_name(name))


def plain_metric_name(name: str) -> str:
    """A model metric without its category (``model:accuracy`` -> ``accuracy``); others unchanged."""
    return name[len("model:"):] if name.startswith("model:") else name
