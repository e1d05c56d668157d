"""The attestation: a canonical, hashed statement of exactly what was evaluated.

It pins everything that decides the result (contribution, base data, benchmark,
baseline version and weights, candidate weights, spec, seed, software versions)
and nothing that varies between identical evaluations (run ids, timestamps), so
the same evaluation always hashes the same. The signed EIP-712 mint request for
the on-chain DeltaVerifier is built from it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any

from hokusai import __version__
from hokusai.commitments.canonical import canonical_hash, canonical_json, sha256_hex
from hokusai.claims.eip712 import idempotency_key, sign_mint_request
from hokusai.settlement.relayer_rules import mint_request_problems

ATTESTATION_SCHEMA = "hokusai.attestation.v1"


def software_versions() -> dict[str, str]:
    """Versions of the packages that determine an evaluation's numbers."""
    return {name: version(name) for name in ("scikit-learn", "numpy", "pandas", "pyarrow", "mlflow")} | {
        "hokusai": __version__}


def evaluation_id(token_id: str, partition_key: str, baseline_position: int, baseline_commitment: str) -> str:
    """A stable id for one evaluation: same contribution against the same chain head, same id."""
    digest = sha256_hex(f"{token_id}|{partition_key}|{baseline_position}|{baseline_commitment}".encode())
    return f"eval-{digest[:24]}"


def build_attestation(
    *,
    eval_id: str,
    token: dict[str, Any],
    contribution: dict[str, Any],
    data: dict[str, Any],
    baseline_model: dict[str, Any],
    candidate_model: dict[str, Any],
    delta_one: dict[str, Any],
) -> dict[str, Any]:
    """The attestation document; every value is plain JSON and deterministic."""
    computation = delta_one["delta_computation"]
    return {
        "schema": ATTESTATION_SCHEMA,
        "eval_id": eval_id,
        "token": token,
        "contribution": contribution,
        "data": data,
        "baseline_model": baseline_model,
        "candidate_model": candidate_model,
        "result": {
            "definition": computation["computation_method"],
            "metric_name": computation["primary_metric"],
            "baseline_score_bps": computation["baseline_score_bps"],
            "new_score_bps": computation["new_score_bps"],
            "delta_one_bps": computation["delta_one_bps"],
            "eligible": delta_one["eligibility"]["eligible"],
            "reason": delta_one["eligibility"]["reason"],
            "min_improvement_bps": delta_one["eligibility"]["min_improvement_bps"],
            "statistics": computation.get("primary_metric_statistics"),
            "delta_one_sha256": canonical_hash(delta_one),
        },
        "software": software_versions(),
    }


def _statistics_fields(statistics: dict[str, Any] | None) -> dict[str, Any]:
    """The mint request's evaluation statistics. Its schema allows only 0..10000 bps, so a
    negative interval bound is carried as 0 (the attestation keeps the signed value)."""
    if not statistics:
        return {}
    clamp = lambda value: max(0, min(10000, int(value)))  # noqa: E731
    return {
        "ci_low_bps": clamp(statistics["ci_low_bps"]),
        "ci_high_bps": clamp(statistics["ci_high_bps"]),
        "p_value": statistics["p_value"],
        "effect_size_bps": clamp(statistics["effect_size_bps"]),
        "statistical_method": statistics["method"],
    }


def attestation_hash(attestation: dict[str, Any]) -> str:
    """0x + SHA-256 of the canonical attestation: the on-chain ``attestationHash``."""
    return "0x" + sha256_hex(canonical_json(attestation))


def build_mint_request(
    attestation: dict[str, Any],
    *,
    chain_id: int,
    verifying_contract: str,
    attester_private_key: str,
    deadline_seconds: int,
    max_cost_usd_micro: int = 0,
    actual_cost_usd_micro: int = 0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The signed wire message (``mint_request.v1``) for this attestation.

    ``message_id``, ``timestamp`` and ``deadline`` vary per build; none of them
    enters the attestation hash or the idempotency key. Raises ``ValueError`` when the
    message breaks the schema, a contract rule or a relayer rule.
    """
    now = now or datetime.now(timezone.utc)
    token, result = attestation["token"], attestation["result"]
    att_hash = attestation_hash(attestation)
    wire = {
        "message_type": "mint_request",
        "schema_version": "1.0",
        "message_id": str(uuid.uuid4()),
        "timestamp": now.isoformat(),
        "model_id": token["model_name"],
        "model_id_uint": str(token["model_id_uint"]),
        "eval_id": attestation["eval_id"],
        "benchmark_spec_id": attestation["data"]["benchmark_spec_id"],
        "dataset_hash": "0x" + attestation["contribution"]["sha256"],
        "attestation_hash": att_hash,
        "idempotency_key": idempotency_key(token["model_id_uint"], att_hash),
        "baseline_commitment": attestation["baseline_model"]["weights_commitment"],
        "candidate_commitment": attestation["candidate_model"]["weights_commitment"],
        "attester_signatures": [],
        # The benchmark samples the candidate was scored on: the relayer dead-letters a message
        # where totalSamples differs from evaluation.sample_size_candidate (issue 16).
        "totalSamples": int(attestation["data"]["benchmark_sample_size"]),
        "deadline": int(now.timestamp()) + deadline_seconds,
        "evaluation": {
            "metric_name": result["metric_name"],
            "metric_family": token["metric_family"],
            "baseline_score_bps": result["baseline_score_bps"],
            "new_score_bps": result["new_score_bps"],
            "max_cost_usd_micro": max_cost_usd_micro,
            "actual_cost_usd_micro": actual_cost_usd_micro,
            "sample_size_baseline": attestation["data"]["benchmark_sample_size"],
            "sample_size_candidate": attestation["data"]["benchmark_sample_size"],
            **_statistics_fields(result.get("statistics")),
            "statistical_reason": result["reason"],
        },
        "contributors": [
            {
                "wallet_address": attestation["contribution"]["wallet_address"],
                "weight_bps": 10000,
                "submissionId": attestation["contribution"]["partition_key"],
            }
        ],
    }
    wire["attester_signatures"] = [
        sign_mint_request(wire, chain_id, verifying_contract, attester_private_key)
    ]
    problems = mint_request_problems(wire)
    if problems:  # never hand out a signed message the relayer or the contract would refuse
        raise ValueError("mint request would be refused: " + "; ".join(problems))
    return wire
