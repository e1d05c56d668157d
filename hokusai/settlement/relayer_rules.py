"""The relayer's own validation of a mint request, carried into the platform.

The upstream relayer dead-letters a message that breaks any of these rules, on top
of (and partly beyond) the ``mint_request.v1`` JSON schema: e.g. it wants 1–8
signatures where the schema allows 0, and it requires ``totalSamples`` to equal
``evaluation.sample_size_candidate``. The platform runs this before it records or
publishes a claim, so a message it produces never lands in the dead-letter queue.

Each problem names one rule (ids in ``RULES``, mirrored with mutation cases in
``hokusai_assets_tests/fixtures/interop/relayer_rules.json``). Where a field is
already broken, rules that depend on it (the cross-field check, the weight sum)
are not evaluated, so one broken field yields one problem. Integers are strict
(``1000.0`` and ``True`` are not integers): stricter than the relayer is safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RULES = {
    "object": "the message is a JSON object",
    "extra_keys": "no keys beyond the schema's, at the top level, in evaluation and in each contributor",
    "message_type": "message_type = 'mint_request'",
    "schema_version": "schema_version = '1.0'",
    "non_empty_string": "message_id, model_id, eval_id, benchmark_spec_id, evaluation.metric_name, "
                        "evaluation.metric_family: non-empty strings",
    "timestamp_iso": "timestamp: an ISO-8601 date",
    "model_id_uint": r"model_id_uint matches ^[1-9]\d*$",
    "hash_lowercase": "dataset_hash, attestation_hash, idempotency_key, baseline_commitment, candidate_commitment "
                      "match ^0x[0-9a-f]{64}$",
    "attester_signatures": "attester_signatures: 1-8 strings matching ^0x[0-9a-fA-F]{130}$",
    "positive_integer": "totalSamples, deadline: integers >= 1",
    "evaluation_object": "evaluation is an object",
    "score_bps": "evaluation.baseline_score_bps, new_score_bps: integers 0-10000",
    "cost_micro": "evaluation.max_cost_usd_micro, actual_cost_usd_micro: integers >= 0",
    "sample_size": "evaluation.sample_size_baseline, sample_size_candidate: absent, null or integers >= 0",
    "optional_bps": "evaluation.ci_low_bps, ci_high_bps, effect_size_bps: absent, null or integers 0-10000",
    "p_value": "evaluation.p_value: absent, null or a number 0-1",
    "statistical_text": "evaluation.statistical_method (<= 128 chars), statistical_reason (<= 1024 chars): "
                        "absent, null or strings",
    "sample_size_present": "at least one of evaluation.sample_size_baseline, sample_size_candidate is a "
                           "positive integer",
    "total_samples_matches_candidate": "when evaluation.sample_size_candidate is a positive integer, "
                                       "totalSamples equals it",
    "contributors_count": "contributors: a list of 1-100 objects",
    "wallet_address": "contributor wallet_address matches ^0x[a-fA-F0-9]{40}$",
    "weight_bps": "contributor weight_bps: an integer 1-10000",
    "recipient_kind": "contributor recipientKind: absent, null, 'wallet' or 'escrow'",
    "contributor_ids": "contributor submissionId, contributionBatchId, contributorId: absent, null or "
                       "non-empty strings",
    "weights_sum": "contributor weights sum to exactly 10000",
}

TOP_LEVEL_KEYS = frozenset({
    "message_type", "schema_version", "message_id", "timestamp", "model_id", "model_id_uint", "eval_id",
    "benchmark_spec_id", "dataset_hash", "attestation_hash", "idempotency_key", "baseline_commitment",
    "candidate_commitment", "attester_signatures", "totalSamples", "deadline", "evaluation", "contributors"})
EVALUATION_KEYS = frozenset({
    "metric_name", "metric_family", "baseline_score_bps", "new_score_bps", "max_cost_usd_micro",
    "actual_cost_usd_micro", "sample_size_baseline", "sample_size_candidate", "ci_low_bps", "ci_high_bps",
    "p_value", "effect_size_bps", "statistical_method", "statistical_reason"})
CONTRIBUTOR_KEYS = frozenset({"wallet_address", "weight_bps", "recipientKind", "submissionId",
                              "contributionBatchId", "contributorId"})
HASH_FIELDS = ("dataset_hash", "attestation_hash", "idempotency_key", "baseline_commitment", "candidate_commitment")
MAX_SIGNATURES, MAX_CONTRIBUTORS, TOTAL_WEIGHT_BPS, MAX_BPS = 8, 100, 10_000, 10_000

_HASH = re.compile(r"0x[0-9a-f]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_ADDRESS = re.compile(r"0x[a-fA-F0-9]{40}")
_UINT = re.compile(r"[1-9][0-9]*")
_MISSING = object()


@dataclass(frozen=True)
class Violation:
    rule: str
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail} [relayer rule {self.rule}]"


def _is_int(value: Any) -> bool:
    return type(value) is int


def _int_in(value: Any, low: int, high: int | None = None) -> bool:
    return _is_int(value) and value >= low and (high is None or value <= high)


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _shown(value: Any) -> str:
    return "missing" if value is _MISSING else f"got {value!r:.80}"


def _iso_date(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def relayer_violations(message: Any) -> list[Violation]:
    """Every rule ``message`` breaks (empty: the relayer would take it)."""
    if not isinstance(message, dict):
        return [Violation("object", "$", f"not an object: {type(message).__name__}")]
    out: list[Violation] = []

    def add(rule: str, field: str, detail: str) -> None:
        out.append(Violation(rule, field, detail))

    for key in sorted(set(message) - TOP_LEVEL_KEYS):
        add("extra_keys", f"$.{key}", "key not in the schema")
    get = lambda key: message.get(key, _MISSING)  # noqa: E731
    if get("message_type") != "mint_request":
        add("message_type", "$.message_type", f"must be 'mint_request', {_shown(get('message_type'))}")
    if get("schema_version") != "1.0":
        add("schema_version", "$.schema_version", f"must be '1.0', {_shown(get('schema_version'))}")
    for key in ("message_id", "model_id", "eval_id", "benchmark_spec_id"):
        if not _non_empty(get(key)):
            add("non_empty_string", f"$.{key}", f"must be a non-empty string, {_shown(get(key))}")
    if not _iso_date(get("timestamp")):
        add("timestamp_iso", "$.timestamp", f"must be an ISO-8601 date, {_shown(get('timestamp'))}")
    if not (isinstance(get("model_id_uint"), str) and _UINT.fullmatch(get("model_id_uint"))):
        add("model_id_uint", "$.model_id_uint", f"must match ^[1-9]\\d*$, {_shown(get('model_id_uint'))}")
    for key in HASH_FIELDS:
        if not (isinstance(get(key), str) and _HASH.fullmatch(get(key))):
            add("hash_lowercase", f"$.{key}", f"must be 0x + 64 lowercase hex, {_shown(get(key))}")
    signatures = get("attester_signatures")
    if not (isinstance(signatures, list) and 1 <= len(signatures) <= MAX_SIGNATURES
            and all(isinstance(s, str) and _SIGNATURE.fullmatch(s) for s in signatures)):
        add("attester_signatures", "$.attester_signatures",
            f"must be 1-{MAX_SIGNATURES} signatures of 0x + 130 hex, {_shown(signatures)}")
    for key in ("totalSamples", "deadline"):
        if not _int_in(get(key), 1):
            add("positive_integer", f"$.{key}", f"must be an integer >= 1, {_shown(get(key))}")
    evaluation = get("evaluation")
    if isinstance(evaluation, dict):
        out += _evaluation_violations(evaluation)
        candidate = evaluation.get("sample_size_candidate")
        total = get("totalSamples")
        if _int_in(candidate, 1) and _int_in(total, 1) and total != candidate:
            add("total_samples_matches_candidate", "$.totalSamples",
                f"{total} does not match evaluation.sample_size_candidate {candidate}")
    else:
        add("evaluation_object", "$.evaluation", f"must be an object, {_shown(evaluation)}")
    out += _contributors_violations(get("contributors"))
    return out


def _evaluation_violations(evaluation: dict[str, Any]) -> list[Violation]:
    out: list[Violation] = []
    where = "$.evaluation"

    def add(rule: str, key: str, detail: str) -> None:
        out.append(Violation(rule, f"{where}.{key}", detail))

    get = lambda key: evaluation.get(key, _MISSING)  # noqa: E731
    optional = lambda key: get(key) is _MISSING or get(key) is None  # noqa: E731
    for key in sorted(set(evaluation) - EVALUATION_KEYS):
        add("extra_keys", key, "key not in the schema")
    for key in ("metric_name", "metric_family"):
        if not _non_empty(get(key)):
            add("non_empty_string", key, f"must be a non-empty string, {_shown(get(key))}")
    for key in ("baseline_score_bps", "new_score_bps"):
        if not _int_in(get(key), 0, MAX_BPS):
            add("score_bps", key, f"must be an integer 0-{MAX_BPS}, {_shown(get(key))}")
    for key in ("max_cost_usd_micro", "actual_cost_usd_micro"):
        if not _int_in(get(key), 0):
            add("cost_micro", key, f"must be an integer >= 0, {_shown(get(key))}")
    for key in ("sample_size_baseline", "sample_size_candidate"):
        if not (optional(key) or _int_in(get(key), 0)):
            add("sample_size", key, f"must be null or an integer >= 0, {_shown(get(key))}")
    for key in ("ci_low_bps", "ci_high_bps", "effect_size_bps"):
        if not (optional(key) or _int_in(get(key), 0, MAX_BPS)):
            add("optional_bps", key, f"must be null or an integer 0-{MAX_BPS}, {_shown(get(key))}")
    p_value = get("p_value")
    if not (optional("p_value") or (type(p_value) in (int, float) and 0 <= p_value <= 1)):
        add("p_value", "p_value", f"must be null or a number 0-1, {_shown(p_value)}")
    for key, limit in (("statistical_method", 128), ("statistical_reason", 1024)):
        if not (optional(key) or (isinstance(get(key), str) and len(get(key)) <= limit)):
            add("statistical_text", key, f"must be null or a string of at most {limit} characters, "
                                         f"{_shown(get(key))}")
    if not any(_int_in(evaluation.get(key), 1) for key in ("sample_size_baseline", "sample_size_candidate")):
        out.append(Violation("sample_size_present", where,
                             "needs a positive integer sample_size_candidate or sample_size_baseline"))
    return out


def _contributors_violations(contributors: Any) -> list[Violation]:
    where = "$.contributors"
    if not (isinstance(contributors, list) and 1 <= len(contributors) <= MAX_CONTRIBUTORS
            and all(isinstance(c, dict) for c in contributors)):
        count = f"{len(contributors)} entries" if isinstance(contributors, list) else _shown(contributors)
        return [Violation("contributors_count", where, f"must be 1-{MAX_CONTRIBUTORS} objects, {count}")]
    out: list[Violation] = []
    for index, contributor in enumerate(contributors):
        at = f"{where}[{index}]"
        get = lambda key: contributor.get(key, _MISSING)  # noqa: E731,B023
        for key in sorted(set(contributor) - CONTRIBUTOR_KEYS):
            out.append(Violation("extra_keys", f"{at}.{key}", "key not in the schema"))
        if not (isinstance(get("wallet_address"), str) and _ADDRESS.fullmatch(get("wallet_address"))):
            out.append(Violation("wallet_address", f"{at}.wallet_address",
                                 f"must be 0x + 40 hex, {_shown(get('wallet_address'))}"))
        if not _int_in(get("weight_bps"), 1, TOTAL_WEIGHT_BPS):
            out.append(Violation("weight_bps", f"{at}.weight_bps",
                                 f"must be an integer 1-{TOTAL_WEIGHT_BPS}, {_shown(get('weight_bps'))}"))
        if get("recipientKind") not in (_MISSING, None, "wallet", "escrow"):
            out.append(Violation("recipient_kind", f"{at}.recipientKind",
                                 f"must be null, 'wallet' or 'escrow', {_shown(get('recipientKind'))}"))
        for key in ("submissionId", "contributionBatchId", "contributorId"):
            if get(key) not in (_MISSING, None) and not _non_empty(get(key)):
                out.append(Violation("contributor_ids", f"{at}.{key}",
                                     f"must be null or a non-empty string, {_shown(get(key))}"))
    weights = [c.get("weight_bps") for c in contributors]
    if all(_int_in(w, 1, TOTAL_WEIGHT_BPS) for w in weights) and sum(weights) != TOTAL_WEIGHT_BPS:
        out.append(Violation("weights_sum", where, f"weight_bps sum to {sum(weights)}, must be {TOTAL_WEIGHT_BPS}"))
    return out


def relayer_problems(message: Any) -> list[str]:
    """One problem string per broken rule, naming the field (empty: the relayer takes it)."""
    return [str(violation) for violation in relayer_violations(message)]


def mint_request_problems(message: Any) -> list[str]:
    """Everything that stops a message from reaching the chain: our JSON-schema and contract
    checks (``eip712.validate_mint_request``), then the relayer's rules."""
    from hokusai.claims.eip712 import validate_mint_request

    return validate_mint_request(message) + relayer_problems(message)
