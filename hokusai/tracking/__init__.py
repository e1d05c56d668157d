"""Experiment tracking for the SDK: runs, comparisons, DeltaOne and attestations, metric names.

``from hokusai.tracking import ExperimentManager, PerformanceTracker``. The metric
naming convention (``usage:``, ``model:``, ``pipeline:``, ``custom:``) and its
mapping to MLflow keys live in ``hokusai.tracking.metrics``.

``hokusai.core`` uses the naming convention, and the two classes here use
``hokusai.core``; so only ``metrics`` is imported eagerly, the classes on first use.
"""

from importlib import import_module
from typing import Any

from hokusai.tracking.metrics import (
    CATEGORIES, LEGACY_METRIC_NAMES, STANDARD_METRICS, from_mlflow_key, log_metrics, log_model_metrics,
    log_pipeline_metrics, log_usage_metrics, migrate_metric_name, to_mlflow_key, validate_metric_name,
)

_LAZY = {
    "ExperimentManager": "hokusai.tracking.experiments",
    "ACCEPT": "hokusai.tracking.experiments",
    "REVIEW": "hokusai.tracking.experiments",
    "REJECT": "hokusai.tracking.experiments",
    "PerformanceTracker": "hokusai.tracking.performance",
}

__all__ = [
    "ACCEPT",
    "CATEGORIES",
    "LEGACY_METRIC_NAMES",
    "REJECT",
    "REVIEW",
    "STANDARD_METRICS",
    "ExperimentManager",
    "PerformanceTracker",
    "from_mlflow_key",
    "log_metrics",
    "log_model_metrics",
    "log_pipeline_metrics",
    "log_usage_metrics",
    "migrate_metric_name",
    "to_mlflow_key",
    "validate_metric_name",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hokusai.tracking' has no attribute {name!r}")
