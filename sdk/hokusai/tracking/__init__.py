"""Experiment tracking for the SDK: runs, comparisons, DeltaOne and attestations, metric names.

``from hokusai.tracking import ExperimentManager, PerformanceTracker``. The metric
naming convention (``usage:``, ``model:``, ``pipeline:``, ``custom:``) and its
mapping to MLflow keys live in ``hokusai.tracking.metrics``.
"""

from hokusai.tracking.metrics import (
    CATEGORIES, LEGACY_METRIC_NAMES, STANDARD_METRICS, from_mlflow_key, log_metrics, log_model_metrics,
    log_pipeline_metrics, log_usage_metrics, migrate_metric_name, to_mlflow_key, validate_metric_name,
)

from hokusai.tracking.experiments import ACCEPT, REJECT, REVIEW, ExperimentManager
from hokusai.tracking.performance import PerformanceTracker

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

