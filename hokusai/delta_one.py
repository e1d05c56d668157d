"""DeltaOne: how much a contribution improved the token's model, in one versioned definition.

``hokusai-delta-one-v1``: each metric is turned into basis points of the metric
(0-10000, ROUND_HALF_EVEN); DeltaOne in bps is the primary metric's
``new_bps - baseline_bps`` (100 bps = 1 percentage point = one DeltaOne). It is
computed from the rounded scores so it equals exactly what the mint request
carries on chain.

Eligibility (``hokusai-eligibility-v1``), checked in this order, with one reason
from a fixed vocabulary: the benchmark sample has at least the token's minimum
rows (else ``insufficient_samples``); DeltaOne reaches the token's minimum (else
``delta_below_threshold``); the 95% paired-bootstrap interval of the gain lies
above zero (else ``not_significant``); then ``accepted``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hokusai.evaluation import METRIC_NAMES

DELTA_ONE_DEFINITION = "hokusai-delta-one-v1"
DELTA_ONE_SCHEMA_VERSION = "1.0"
ELIGIBILITY_RULE = "hokusai-eligibility-v1"
REASON_ACCEPTED = "accepted"
REASON_BELOW_THRESHOLD = "delta_below_threshold"
REASON_NOT_SIGNIFICANT = "not_significant"
REASON_INSUFFICIENT_SAMPLES = "insufficient_samples"
REASON_BENCHMARK_MISMATCH = "benchmark_mismatch"
REASONS = (REASON_ACCEPTED, REASON_BELOW_THRESHOLD, REASON_NOT_SIGNIFICANT, REASON_INSUFFICIENT_SAMPLES,
           REASON_BENCHMARK_MISMATCH)


def bps_int(value: float) -> int:
    """A bps figure as an integer, rounded half to even (what a circuit or contract consumes)."""
    return int(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def eligibility_verdict(delta_bps: int, min_improvement_bps: int, significance: dict[str, Any] | None,
                        sample_size: int | None, min_samples: int | None) -> tuple[bool, str]:
    """(eligible, reason) under ``hokusai-eligibility-v1``."""
    if min_samples is not None and sample_size is not None and sample_size < min_samples:
        return False, REASON_INSUFFICIENT_SAMPLES
    if delta_bps < min_improvement_bps:
        return False, REASON_BELOW_THRESHOLD
    if significance is not None and not significance["ci_low_bps"] > 0:
        return False, REASON_NOT_SIGNIFICANT
    return True, REASON_ACCEPTED


def score_bps(value: float) -> int:
    """A metric in [0, 1] as integer basis points, rounded half to even."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a metric score must lie in [0, 1], got {value}")
    return int((Decimal(repr(float(value))) * 10000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def metric_deltas(baseline: dict[str, float], new: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per-metric table: values, absolute and relative delta, and whether it improved."""
    table = {}
    for name in METRIC_NAMES:
        before, after = float(baseline[name]), float(new[name])
        delta_bps = score_bps(after) - score_bps(before)
        table[name] = {
            "baseline_value": before,
            "new_value": after,
            "baseline_bps": score_bps(before),
            "new_bps": score_bps(after),
            "absolute_delta": after - before,
            "delta_bps": delta_bps,
            "relative_delta": (after - before) / before if before else None,
            "improvement": delta_bps > 0,
        }
    return table


def compute_delta_one(
    *,
    baseline_metrics: dict[str, float],
    new_metrics: dict[str, float],
    primary_metric: str,
    min_improvement_bps: int,
    baseline_model: dict[str, Any],
    new_model: dict[str, Any],
    contributor: dict[str, Any],
    evaluation: dict[str, Any],
    pipeline: dict[str, Any],
    significance: dict[str, Any] | None = None,
    min_samples: int | None = None,
) -> dict[str, Any]:
    """The DeltaOne JSON document (DESIGN.md), with our bps fields and the eligibility verdict.

    ``significance`` is the paired bootstrap of the primary metric (``hokusai.significance``).
    """
    table = metric_deltas(baseline_metrics, new_metrics)
    primary = table[primary_metric]
    delta_bps = primary["delta_bps"]
    statistics = None
    if significance is not None:
        statistics = {
            "method": significance["method"],
            "resamples": significance["resamples"],
            "seed": significance["seed"],
            "sample_size": significance["sample_size"],
            "ci_low_bps": bps_int(significance["ci_low_bps"]),
            "ci_high_bps": bps_int(significance["ci_high_bps"]),
            "p_value": significance["p_value"],
            "effect_size_bps": abs(delta_bps),
            "confidence": 0.95,
        }
    eligible, reason = eligibility_verdict(delta_bps, min_improvement_bps, statistics,
                                           evaluation.get("sample_size"), min_samples)
    return {
        "schema_version": DELTA_ONE_SCHEMA_VERSION,
        "delta_computation": {
            "delta_one_score": delta_bps / 10000,
            "delta_one_bps": delta_bps,
            "primary_metric": primary_metric,
            "baseline_score_bps": primary["baseline_bps"],
            "new_score_bps": primary["new_bps"],
            "metric_deltas": table,
            "computation_method": DELTA_ONE_DEFINITION,
            "metrics_included": list(METRIC_NAMES),
            "improved_metrics": [m for m in METRIC_NAMES if table[m]["delta_bps"] > 0],
            "degraded_metrics": [m for m in METRIC_NAMES if table[m]["delta_bps"] < 0],
            "primary_metric_statistics": statistics,
        },
        "eligibility": {
            "eligible": eligible,
            "reason": reason,
            "rule": ELIGIBILITY_RULE,
            "min_improvement_bps": min_improvement_bps,
            "min_samples": min_samples,
        },
        "baseline_model": baseline_model,
        "new_model": new_model,
        "contributor_attribution": contributor,
        "evaluation_metadata": evaluation,
        "pipeline_metadata": pipeline,
    }


def metric_table_markdown(delta_one: dict[str, Any]) -> str:
    """The per-metric table as markdown, for the Dagster UI."""
    rows = ["| metric | baseline | new | delta (bps) |", "|---|---:|---:|---:|"]
    for name, row in delta_one["delta_computation"]["metric_deltas"].items():
        rows.append(f"| {name} | {row['baseline_value']:.4f} | {row['new_value']:.4f} | {row['delta_bps']:+d} |")
    return "\n".join(rows)
