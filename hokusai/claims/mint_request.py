"""The signed wire message (``mint_request.v1``) for an attestation, for the on-chain DeltaVerifier.

The attestation itself is the SDK's (``hokusai.rules.attestation``): a third party computes
the same document; signing it with the attester's key is the platform's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from hokusai.claims.eip712 import idempotency_key, sign_mint_request
from hokusai.rules.attestation import attestation_hash
from hokusai.settlement.relayer_rules import mint_request_problems


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


def attested_fields(attestation: dict[str, Any]) -> dict[str, Any]:
    """Every field of the wire message that the attestation decides (all but the message's id,
    time, deadline, costs and signatures): one mapping, used to build a message and to verify one."""
    token, result = attestation["token"], attestation["result"]
    att_hash = attestation_hash(attestation)
    return {
        "message_type": "mint_request",
        "schema_version": "1.0",
        "model_id": token["model_name"],
        "model_id_uint": str(token["model_id_uint"]),
        "eval_id": attestation["eval_id"],
        "benchmark_spec_id": attestation["data"]["benchmark_spec_id"],
        "dataset_hash": "0x" + attestation["contribution"]["sha256"],
        "attestation_hash": att_hash,
        "idempotency_key": idempotency_key(token["model_id_uint"], att_hash),
        "baseline_commitment": attestation["baseline_model"]["weights_commitment"],
        "candidate_commitment": attestation["candidate_model"]["weights_commitment"],
        # The benchmark samples the candidate was scored on: the relayer dead-letters a message
        # where totalSamples differs from evaluation.sample_size_candidate (issue 16).
        "totalSamples": int(attestation["data"]["benchmark_sample_size"]),
        "evaluation": {
            "metric_name": result["metric_name"],
            "metric_family": token["metric_family"],
            "baseline_score_bps": result["baseline_score_bps"],
            "new_score_bps": result["new_score_bps"],
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
    fields = attested_fields(attestation)
    wire = {
        "message_type": fields.pop("message_type"),
        "schema_version": fields.pop("schema_version"),
        "message_id": str(uuid.uuid4()),
        "timestamp": now.isoformat(),
        **fields,
        "attester_signatures": [],
        "deadline": int(now.timestamp()) + deadline_seconds,
    }
    wire["evaluation"] = {"max_cost_usd_micro": max_cost_usd_micro, "actual_cost_usd_micro": actual_cost_usd_micro,
                          **fields["evaluation"]}
    wire["attester_signatures"] = [
        sign_mint_request(wire, chain_id, verifying_contract, attester_private_key)
    ]
    problems = mint_request_problems(wire)
    if problems:  # never hand out a signed message the relayer or the contract would refuse
        raise ValueError("mint request would be refused: " + "; ".join(problems))
    return wire
