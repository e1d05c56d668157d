"""The metric naming convention (hokusai.tracking.metrics): names, migration, MLflow keys, values."""

import math
import re

import pytest

from hokusai.tracking import (
    CATEGORIES, STANDARD_METRICS, from_mlflow_key, migrate_metric_name, to_mlflow_key, validate_metric_name,
)
from hokusai.tracking.metrics import METRIC_NAME_PATTERN, categorize, metric_value


@pytest.mark.parametrize("name", [
    "accuracy", "model:accuracy", "model:f1_score", "usage:reply_rate", "pipeline:duration_seconds",
    "custom:my_metric", "custom:latency.p95", "model:auroc.class_3", "a", "x1_2",
])
def test_valid_names(name):
    assert validate_metric_name(name) == name


@pytest.mark.parametrize("name", [
    "", "Accuracy", "model:", ":accuracy", "model:Accuracy", "1metric", "_private", "model::x", "model:a-b",
    "a b", "model/accuracy", "model:x.", "model:.x", "other:accuracy", "Model:accuracy", None, 3,
])
def test_invalid_names(name):
    with pytest.raises(ValueError, match="metric name"):
        validate_metric_name(name)


@pytest.mark.parametrize("legacy,migrated", [
    ("accuracy", "model:accuracy"), ("f1", "model:f1_score"), ("auroc", "model:auroc"),
    ("reply_rate", "usage:reply_rate"), ("latency", "model:latency_ms"), ("duration", "pipeline:duration_seconds"),
    ("precision", "model:precision"), ("recall", "model:recall"), ("f1_score", "model:f1_score"),
    ("some_unknown_metric", "some_unknown_metric"), ("model:accuracy", "model:accuracy"),
    ("custom:thing", "custom:thing"),
])
def test_migrate_metric_name(legacy, migrated):
    assert migrate_metric_name(legacy) == migrated


def test_standard_metrics_follow_the_convention_and_every_migration_lands_on_one():
    assert set(CATEGORIES) == {"usage", "model", "pipeline", "custom"}
    assert METRIC_NAME_PATTERN == r"^([a-z]+:)?[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
    for name, description in STANDARD_METRICS.items():
        assert validate_metric_name(name) == name and ":" in name and description
    from hokusai.tracking import LEGACY_METRIC_NAMES

    assert set(LEGACY_METRIC_NAMES.values()) <= set(STANDARD_METRICS)


@pytest.mark.parametrize("name,key", [
    ("model:accuracy", "model/accuracy"), ("usage:reply_rate", "usage/reply_rate"),
    ("pipeline:duration_seconds", "pipeline/duration_seconds"), ("custom:latency.p95", "custom/latency.p95"),
    ("accuracy", "accuracy"), ("delta_one_bps", "delta_one_bps"),
])
def test_mlflow_key_mapping_is_reversible(name, key):
    assert to_mlflow_key(name) == key
    assert from_mlflow_key(key) == name
    # the key is one MLflow accepts on every platform (its Windows rule: no ':')
    assert re.fullmatch(r"[/\w.\- ]*", key)


@pytest.mark.parametrize("key", ["system/cpu_utilization_percentage", "new_accuracy", "baseline_f1", "a/b/c"])
def test_foreign_mlflow_keys_are_left_alone(key):
    assert from_mlflow_key(key) == key


def test_to_mlflow_key_refuses_invalid_names():
    with pytest.raises(ValueError):
        to_mlflow_key("Model:Accuracy")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.5", None, True, [1.0]])
def test_non_finite_and_non_numeric_values_are_refused(value):
    with pytest.raises(ValueError, match="metric 'model:accuracy' must be"):
        metric_value("model:accuracy", value)


@pytest.mark.parametrize("category,given,expected", [
    ("model", {"accuracy": 0.9, "f1": 0.8, "model:auroc": 0.95, "calibration": 0.1},
     {"model:accuracy": 0.9, "model:f1_score": 0.8, "model:auroc": 0.95, "model:calibration": 0.1}),
    ("pipeline", {"duration": 12, "rows_processed": 350}, {"pipeline:duration_seconds": 12.0,
                                                             "pipeline:rows_processed": 350.0}),
    ("usage", {"reply_rate": 0.31, "requests": 1000}, {"usage:reply_rate": 0.31, "usage:requests": 1000.0}),
])
def test_categorize(category, given, expected):
    assert categorize(given, category) == expected


@pytest.mark.parametrize("category,given", [("model", {"duration": 3.0}), ("usage", {"model:accuracy": 0.5}),
                                            ("pipeline", {"reply_rate": 0.2})])
def test_a_metric_of_another_category_is_refused(category, given):
    with pytest.raises(ValueError, match=f"not a {category} metric"):
        categorize(given, category)


def test_a_pipeline_runs_own_and_baseline_scores_are_told_apart_in_both_namings():
    from hokusai.core.versions import baseline_metrics_measured, own_metrics

    convention = {"model/accuracy": 0.95, "model/baseline.accuracy": 0.92, "model/f1_score": 0.94,
                  "model/baseline.f1_score": 0.91, "model/delta_one_bps": 300.0}
    assert own_metrics(convention) == {"accuracy": 0.95, "f1_score": 0.94}
    assert baseline_metrics_measured(convention) == {"accuracy": 0.92, "f1_score": 0.91}
    legacy = {"new_accuracy": 0.95, "baseline_accuracy": 0.92, "delta_one_bps": 300.0}
    assert own_metrics(legacy) == {"accuracy": 0.95}
    assert baseline_metrics_measured(legacy) == {"accuracy": 0.92}
