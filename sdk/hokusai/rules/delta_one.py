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

``hokusai-eligibility-v2`` (noise is not paid; docs/eligibility.md) takes the
seed-robust gain of ``hokusai.evaluation.seeded`` (both models fitted with each
of the token's eligibility seeds, a bootstrap over benchmark rows and seeds):
enough benchmark rows (else ``insufficient_samples``); the registered models'
DeltaOne, which the chain pays, reaches the minimum (else ``delta_below_threshold``);
the interval of the gain over the champion lies at or above the minimum, not merely
above zero (else ``not_significant``); the interval of the gain over a placebo of the
same size (copies of the champion's rows) lies above zero (else ``not_above_placebo``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hokusai.rules.metric_names import BENCHMARK_METRICS as METRIC_NAMES

DELTA_ONE_DEFINITION = "hokusai-delta-one-v1"
DELTA_ONE_SCHEMA_VERSION = "1.0"
ELIGIBILITY_RULE = "hokusai-eligibility-v1"
SEED_ROBUST_ELIGIBILITY_RULE = "hokusai-eligibility-v2"
REASON_ACCEPTED = "accepted"
REASON_BELOW_THRESHOLD = "delta_below_threshold"
REASON_NOT_SIGNIFICANT = "not_significant"
REASON_INSUFFICIENT_SAMPLES = "insufficient_samples"
REASON_BENCHMARK_MISMATCH = "benchmark_mismatch"
REASON_NOT_ABOVE_PLACEBO = "not_above_placebo"
REASONS = (REASON_ACCEPTED, REASON_BELOW_THRESHOLD, REASON_NOT_SIGNIFICANT, REASON_INSUFFICIENT_SAMPLES,
           REASON_BENCHMARK_MISMATCH, REASON_NOT_ABOVE_PLACEBO)


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


def seed_robust_verdict(delta_bps: int, min_improvement_bps: int, gain: dict[str, Any],
                        sample_size: int | None, min_samples: int | None) -> tuple[bool, str]:
    """(eligible, reason) under ``hokusai-eligibility-v2``.

    ``delta_bps`` is the registered models' DeltaOne; ``gain`` is ``SeedRobustGain.as_dict()``.
    A gain whose interval only clears zero is not paid: on the demo token, copies of the
    champion's own rows gain +90 to +157 bps averaged over seeds (150 to 450 rows).
    """
    if min_samples is not None and sample_size is not None and sample_size < min_samples:
        return False, REASON_INSUFFICIENT_SAMPLES
    if delta_bps < min_improvement_bps:
        return False, REASON_BELOW_THRESHOLD
    if not gain["champion"]["ci_low_bps"] >= min_improvement_bps:
        return False, REASON_NOT_SIGNIFICANT
    if gain.get("placebo") is None or not gain["placebo"]["ci_low_bps"] > 0:
        return False, REASON_NOT_ABOVE_PLACEBO
    return True, REASON_ACCEPTED


def seed_robust_summary(gain: dict[str, Any]) -> dict[str, Any]:
    """What a DeltaOne document keeps of the seed-robust gain: the figures, not the per-row data."""
    champion, placebo = gain["champion"], gain.get("placebo")
    summary = {
        "method": champion["method"], "seeds": list(champion["seeds"]), "seed_derivation": champion["seed_derivation"],
        "resamples": champion["resamples"], "sample_size": champion["sample_size"],
        "seed_deltas_bps": list(champion["seed_deltas_bps"]), "delta_bps": champion["delta_bps"],
        "ci_low_bps": champion["ci_low_bps"], "ci_high_bps": champion["ci_high_bps"],
        "p_value": champion["p_value"], "placebo_method": gain["placebo_method"],
        "placebo_rows": gain["placebo_rows"], "placebo": None,
    }
    if placebo is not None:
        summary["placebo"] = {key: placebo[key] for key in ("delta_bps", "ci_low_bps", "ci_high_bps", "p_value")}
    return summary


def shared_benchmark_metrics(baseline: dict[str, float], new: dict[str, float]) -> tuple[str, ...]:
    """The benchmark metrics both sides measured, in the fixed order (accuracy, precision, recall, f1, auroc)."""
    return tuple(name for name in METRIC_NAMES if name in baseline and name in new)


def primary_metric_for(metrics_included: tuple[str, ...] | list[str], requested: str | None = None) -> str:
    """The metric whose gain is DeltaOne: ``requested`` (a token's metric) when given, else
    accuracy when it was measured, else the first measured in the fixed order."""
    if requested is not None:
        if requested not in metrics_included:
            raise ValueError(f"the primary metric {requested!r} was not measured on both sides "
                             f"(measured: {list(metrics_included)})")
        return requested
    if not metrics_included:
        raise ValueError(f"no benchmark metric to compute DeltaOne over: give at least one of {list(METRIC_NAMES)}")
    return "accuracy" if "accuracy" in metrics_included else metrics_included[0]


def score_bps(value: float) -> int:
    """A metric in [0, 1] as integer basis points, rounded half to even."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a metric score must lie in [0, 1], got {value}")
    return int((Decimal(repr(float(value))) * 10000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def metric_deltas(baseline: dict[str, float], new: dict[str, float],
                  names: tuple[str, ...] = METRIC_NAMES) -> dict[str, dict[str, Any]]:
    """Per-metric table: values, absolute and relative delta, and whether it improved."""
    table = {}
    for name in names:
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
    seed_robust: dict[str, Any] | None = None,
    metrics_included: tuple[str, ...] | list[str] | None = None,
) -> dict[str, Any]:
    """The DeltaOne JSON document (docs/architecture.md, "Evidence"), with our bps fields and the eligibility verdict.

    ``significance`` is the paired bootstrap of the primary metric (``hokusai.evaluation.significance``).
    ``seed_robust`` (``SeedRobustGain.as_dict()``), if given, decides eligibility under
    ``hokusai-eligibility-v2``; without it the verdict is ``hokusai-eligibility-v1``'s.
    ``metrics_included``: the benchmark metrics measured (default: all five, as the
    pipeline measures them; the SDK passes the ones it was given).
    """
    included = tuple(METRIC_NAMES if metrics_included is None else metrics_included)
    table = metric_deltas(baseline_metrics, new_metrics, included)
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
    if seed_robust is None:
        rule = ELIGIBILITY_RULE
        eligible, reason = eligibility_verdict(delta_bps, min_improvement_bps, statistics,
                                               evaluation.get("sample_size"), min_samples)
    else:
        rule = SEED_ROBUST_ELIGIBILITY_RULE
        eligible, reason = seed_robust_verdict(delta_bps, min_improvement_bps, seed_robust,
                                               evaluation.get("sample_size"), min_samples)
    verdict = {"eligible": eligible, "reason": reason, "rule": rule, "min_improvement_bps": min_improvement_bps,
               "min_samples": min_samples}
    if seed_robust is not None:
        verdict["seed_robust"] = seed_robust_summary(seed_robust)
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
            "metrics_included": list(included),
            "improved_metrics": [m for m in included if table[m]["delta_bps"] > 0],
            "degraded_metrics": [m for m in included if table[m]["delta_bps"] < 0],
            "primary_metric_statistics": statistics,
        },
        "eligibility": verdict,
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
