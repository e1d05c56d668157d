"""Logging metrics to MLflow under the naming convention (``hokusai.rules.metric_names``).

The names, their categories and their MLflow keys are defined in ``hokusai.rules.metric_names``
(one vocabulary for the pipeline and the SDK); they are re-exported here, where the SDK
has always offered them.
"""

from __future__ import annotations

import time
from typing import Any

from hokusai.rules.metric_names import (  # noqa: F401  (re-exported: the SDK's import path)
    BENCHMARK_METRICS, CATEGORIES, LEGACY_METRIC_NAMES, METRIC_NAME_PATTERN, MLFLOW_CATEGORY_SEPARATOR,
    STANDARD_METRICS, benchmark_metric_name, from_mlflow_key, metric_category, metric_value, migrate_metric_name,
    plain_metric_name, to_mlflow_key, validate_metric_name,
)


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
