"""Unit tests for ``hokusai.rules.delta_one``: bps rounding, the threshold verdict, the DeltaOne document."""

from __future__ import annotations

import math

import pytest

from hokusai.rules.delta_one import (
    DELTA_ONE_DEFINITION,
    REASON_ACCEPTED,
    REASON_BELOW_THRESHOLD,
    compute_delta_one,
    metric_deltas,
    metric_table_markdown,
    score_bps,
)
from hokusai.evaluation.metrics import METRIC_NAMES


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.0, 0),
        (1.0, 10000),
        (0.5, 5000),
        (0.00005, 0),      # 0.5 bps -> even 0
        (0.00015, 2),      # 1.5 -> 2
        (0.00025, 2),      # 2.5 -> 2
        (0.00035, 4),      # 3.5 -> 4
        (0.12345, 1234),   # 1234.5 -> 1234
        (0.12355, 1236),   # 1235.5 -> 1236
        (0.99995, 10000),  # 9999.5 -> 10000
        (0.99985, 9998),   # 9998.5 -> 9998
        (0.78, 7800),      # 0.78 * 10000 is 7800.000000000001 in binary floating point
        (0.29, 2900),      # 0.29 * 10000 is 2899.9999999999995
        (0.123449, 1234),
        (0.123451, 1235),
        (1 / 3, 3333),
        (2 / 3, 6667),
    ],
)
def test_score_bps_rounds_half_to_even(value, expected):
    result = score_bps(value)
    assert result == expected and type(result) is int


def test_score_bps_accepts_ints_and_negative_zero():
    assert score_bps(1) == 10000 and score_bps(0) == 0 and score_bps(-0.0) == 0


@pytest.mark.parametrize("value", [-0.0001, 1.0001, -1.0, 2.0, math.nan, math.inf, -math.inf])
def test_score_bps_out_of_range_raises(value):
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        score_bps(value)


def metrics(accuracy=0.8, precision=0.7, recall=0.6, f1=0.65, auroc=0.9) -> dict[str, float]:
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1, "auroc": auroc}


PASSTHROUGH = dict(
    baseline_model={"name": "m", "version": 1},
    new_model={"run": "r"},
    contributor={"wallet_address": "0xabc"},
    evaluation={"sample_size": 1000},
    pipeline={"run_id": "p"},
)


def delta(baseline, new, *, primary="accuracy", minimum=100):
    return compute_delta_one(baseline_metrics=baseline, new_metrics=new, primary_metric=primary,
                             min_improvement_bps=minimum, **PASSTHROUGH)


def test_exactly_at_threshold_is_eligible():
    doc = delta(metrics(accuracy=0.80), metrics(accuracy=0.81))
    assert doc["delta_computation"]["delta_one_bps"] == 100
    assert doc["eligibility"] == {"eligible": True, "reason": REASON_ACCEPTED, "min_improvement_bps": 100,
                                  "rule": "hokusai-eligibility-v1", "min_samples": None}


def test_one_bps_under_threshold_is_not_eligible():
    doc = delta(metrics(accuracy=0.80), metrics(accuracy=0.8099))
    assert doc["delta_computation"]["delta_one_bps"] == 99
    assert doc["eligibility"] == {"eligible": False, "reason": REASON_BELOW_THRESHOLD, "min_improvement_bps": 100,
                                  "rule": "hokusai-eligibility-v1", "min_samples": None}


def test_threshold_is_applied_to_rounded_scores():
    """0.80004 -> 8000 and 0.81005 -> 8100 (half-even), so the gain is exactly 100 bps."""
    doc = delta(metrics(accuracy=0.80004), metrics(accuracy=0.81005))
    computation = doc["delta_computation"]
    assert (computation["baseline_score_bps"], computation["new_score_bps"]) == (8000, 8100)
    assert doc["eligibility"]["eligible"] is True


def test_zero_minimum_accepts_no_change_but_not_a_loss():
    assert delta(metrics(), metrics(), minimum=0)["eligibility"]["eligible"] is True
    assert delta(metrics(), metrics(accuracy=0.7999), minimum=0)["eligibility"]["eligible"] is False


def test_document_shape_and_bps_identity():
    baseline, new = metrics(accuracy=0.8123), metrics(accuracy=0.8456)
    doc = delta(baseline, new)
    computation = doc["delta_computation"]
    assert doc["schema_version"] == "1.0"
    assert computation["computation_method"] == DELTA_ONE_DEFINITION == "hokusai-delta-one-v1"
    assert computation["primary_metric"] == "accuracy"
    assert computation["metrics_included"] == list(METRIC_NAMES)
    assert computation["baseline_score_bps"] == 8123 and computation["new_score_bps"] == 8456
    assert computation["delta_one_bps"] == computation["new_score_bps"] - computation["baseline_score_bps"] == 333
    assert computation["delta_one_score"] == 0.0333
    assert set(computation["metric_deltas"]) == set(METRIC_NAMES)
    for key, value in PASSTHROUGH.items():
        name = {"contributor": "contributor_attribution", "evaluation": "evaluation_metadata",
                "pipeline": "pipeline_metadata"}.get(key, key)
        assert doc[name] == value


def test_improved_and_degraded_lists():
    baseline = metrics(accuracy=0.80, precision=0.70, recall=0.60, f1=0.65, auroc=0.90)
    new = metrics(accuracy=0.82, precision=0.69, recall=0.60, f1=0.650001, auroc=0.95)
    computation = delta(baseline, new)["delta_computation"]
    assert computation["improved_metrics"] == ["accuracy", "auroc"]
    assert computation["degraded_metrics"] == ["precision"]
    f1 = computation["metric_deltas"]["f1"]
    assert f1["delta_bps"] == 0 and f1["improvement"] is False and f1["absolute_delta"] > 0


def test_metric_delta_row():
    row = metric_deltas(metrics(precision=0.5), metrics(precision=0.6))["precision"]
    assert row["baseline_value"] == 0.5 and row["new_value"] == 0.6
    assert row["baseline_bps"] == 5000 and row["new_bps"] == 6000 and row["delta_bps"] == 1000
    assert row["absolute_delta"] == pytest.approx(0.1)
    assert row["relative_delta"] == pytest.approx(0.2)
    assert row["improvement"] is True


def test_relative_delta_is_none_from_zero():
    row = metric_deltas(metrics(recall=0.0), metrics(recall=0.1))["recall"]
    assert row["relative_delta"] is None and row["delta_bps"] == 1000


def test_other_primary_metric():
    doc = delta(metrics(f1=0.6, accuracy=0.9), metrics(f1=0.605, accuracy=0.5), primary="f1", minimum=50)
    computation = doc["delta_computation"]
    assert computation["primary_metric"] == "f1"
    assert computation["delta_one_bps"] == 50 and doc["eligibility"]["eligible"] is True
    assert "accuracy" in computation["degraded_metrics"]


def test_degradation_has_negative_delta():
    doc = delta(metrics(accuracy=0.9), metrics(accuracy=0.85))
    assert doc["delta_computation"]["delta_one_bps"] == -500
    assert doc["delta_computation"]["delta_one_score"] == -0.05
    assert doc["eligibility"]["eligible"] is False


def test_out_of_range_metric_raises():
    with pytest.raises(ValueError):
        delta(metrics(), metrics(auroc=1.2))


def test_metric_table_markdown():
    table = metric_table_markdown(delta(metrics(accuracy=0.8), metrics(accuracy=0.81, precision=0.69)))
    lines = table.splitlines()
    assert lines[0] == "| metric | baseline | new | delta (bps) |"
    assert lines[2] == "| accuracy | 0.8000 | 0.8100 | +100 |"
    assert lines[3] == "| precision | 0.7000 | 0.6900 | -100 |"
    assert lines[4] == "| recall | 0.6000 | 0.6000 | +0 |"
    assert len(lines) == 2 + len(METRIC_NAMES)
