"""Whether an evaluation's documents agree with each other and with the rules that made them.

A hash only proves a file is the one recorded; these checks prove the recorded figures
could have come from the platform: the attestation is exactly what its DeltaOne document
implies, the DeltaOne table and verdict follow from its scores and statistics, and every
field of a mint request is the one its attestation decides. Each function returns one
problem per broken fact (empty: consistent), in words a verifier can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hokusai.rules.attestation import attestation_document
from hokusai.rules.delta_one import (
    ELIGIBILITY_RULE,
    SEED_ROBUST_ELIGIBILITY_RULE,
    eligibility_verdict,
    metric_deltas,
    seed_robust_verdict,
)

_BPS = (-10000, 10000)


@dataclass(frozen=True)
class _PinnedToken:
    """The token fields an attestation pins, read back from it (``AttestedToken``)."""

    token_id: str
    model_name: str
    model_id_uint: int
    metric_family: str
    spec_sha256: str | None
    seed: int | None


def statistics_problems(result: dict[str, Any], benchmark_sample_size: Any) -> list[str]:
    """The attestation's result: its DeltaOne is its scores' difference, its interval is an interval."""
    problems = []
    baseline, new, delta = result.get("baseline_score_bps"), result.get("new_score_bps"), result.get("delta_one_bps")
    if not all(isinstance(v, int) and 0 <= v <= 10000 for v in (baseline, new)):
        problems.append(f"scores must be whole bps in 0..10000 (baseline {baseline}, new {new})")
    elif delta != new - baseline:
        problems.append(f"delta_one_bps {delta} is not new_score_bps - baseline_score_bps ({new - baseline})")
    statistics = result.get("statistics")
    if statistics:
        low, high, p = statistics.get("ci_low_bps"), statistics.get("ci_high_bps"), statistics.get("p_value")
        if not all(isinstance(v, (int, float)) and _BPS[0] <= v <= _BPS[1] for v in (low, high)) or low > high:
            problems.append(f"the interval [{low}, {high}] bps is not an interval within ±10000 bps")
        if not isinstance(p, (int, float)) or not 0 < p <= 1:
            problems.append(f"p_value {p} is not in (0, 1]")
        if statistics.get("sample_size") != benchmark_sample_size:
            problems.append(f"the statistics' sample_size {statistics.get('sample_size')} is not the benchmark "
                            f"sample ({benchmark_sample_size})")
    if result.get("eligible") and result.get("reason") != "accepted":
        problems.append(f"eligible, but the reason is {result.get('reason')!r}, not 'accepted'")
    return problems


def delta_one_problems(delta_one: dict[str, Any]) -> list[str]:
    """The DeltaOne document: its table follows from its scores, and its verdict from its rule."""
    computation, verdict = delta_one.get("delta_computation") or {}, delta_one.get("eligibility") or {}
    table = computation.get("metric_deltas") or {}
    problems = []
    try:
        recomputed = metric_deltas({m: row["baseline_value"] for m, row in table.items()},
                                   {m: row["new_value"] for m, row in table.items()}, tuple(table))
    except (KeyError, TypeError, ValueError) as error:
        return [f"the metric table cannot be recomputed: {error}"]
    for name in table:
        if recomputed[name] != table[name]:
            problems.append(f"the '{name}' row of the metric table does not follow from its values")
    primary = table.get(computation.get("primary_metric"))
    if primary is None:
        return problems + [f"the primary metric {computation.get('primary_metric')!r} is not in the table"]
    for field, key in (("delta_one_bps", "delta_bps"), ("baseline_score_bps", "baseline_bps"),
                       ("new_score_bps", "new_bps")):
        if computation.get(field) != primary[key]:
            problems.append(f"{field} {computation.get(field)} is not the primary metric's {primary[key]}")
    derived = _verdict(computation, verdict, delta_one.get("evaluation_metadata") or {})
    if isinstance(derived, str):
        problems.append(derived)
    elif derived != (verdict.get("eligible"), verdict.get("reason")):
        problems.append(f"the verdict {verdict.get('eligible')}/{verdict.get('reason')!r} does not follow from "
                        f"the figures under {verdict.get('rule')} (they give {derived[0]}/{derived[1]!r})")
    return problems


def _verdict(computation: dict[str, Any], verdict: dict[str, Any], evaluation: dict[str, Any]):
    delta, minimum = computation.get("delta_one_bps"), verdict.get("min_improvement_bps")
    samples, min_samples = evaluation.get("sample_size"), verdict.get("min_samples")
    try:
        if verdict.get("rule") == SEED_ROBUST_ELIGIBILITY_RULE:
            summary = verdict["seed_robust"]
            return seed_robust_verdict(delta, minimum, {"champion": summary, "placebo": summary.get("placebo")},
                                       samples, min_samples)
        if verdict.get("rule") == ELIGIBILITY_RULE:
            return eligibility_verdict(delta, minimum, computation.get("primary_metric_statistics"), samples,
                                       min_samples)
    except (KeyError, TypeError) as error:
        return f"the verdict cannot be re-derived: {error.__class__.__name__}: {error}"
    return f"unknown eligibility rule {verdict.get('rule')!r}"


def attestation_problems(attestation: dict[str, Any], delta_one: dict[str, Any]) -> list[str]:
    """The attestation is exactly the one its DeltaOne document and pinned token give (software aside:
    it records the versions that ran, which a verifier's machine need not have)."""
    token = attestation.get("token") or {}
    try:
        pinned = _PinnedToken(token["token_id"], token["model_name"], token["model_id_uint"],
                              token["metric_family"], token.get("spec_sha256"), token.get("seed"))
        expected = attestation_document(pinned, delta_one)
    except (KeyError, TypeError, ValueError) as error:
        return [f"the attestation cannot be rebuilt from delta_one.json: {error.__class__.__name__}: {error}"]
    expected["software"] = attestation.get("software")
    return [f"attestation.{path} differs from what delta_one.json gives" for path in _differences(attestation, expected)]


def mint_request_field_problems(mint_request: dict[str, Any], attestation: dict[str, Any]) -> list[str]:
    """Every field the attestation decides is, in the mint request, the attestation's."""
    from hokusai.claims.mint_request import attested_fields

    try:
        expected = attested_fields(attestation)
    except (KeyError, TypeError, ValueError) as error:
        return [f"the attestation cannot give the mint request's fields: {error.__class__.__name__}: {error}"]
    actual = {key: mint_request.get(key) for key in expected}
    if isinstance(actual.get("evaluation"), dict):
        actual["evaluation"] = {key: actual["evaluation"].get(key) for key in expected["evaluation"]}
    return [f"mint_request.{path} is not the attestation's" for path in _differences(actual, expected)]


def _differences(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Dotted paths where ``actual`` and ``expected`` differ (dicts by key, lists by index)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        keys = sorted(set(actual) | set(expected))
        return [d for key in keys for d in _differences(actual.get(key), expected.get(key), _join(path, key))]
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        return [d for i, (a, e) in enumerate(zip(actual, expected)) for d in _differences(a, e, f"{path}[{i}]")]
    return [] if actual == expected and type(actual) is type(expected) else [path or "(document)"]


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
