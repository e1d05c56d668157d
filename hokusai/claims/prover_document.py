"""The prover document (``zk_output_schema.json``): what a zero-knowledge prover reads.

Filled truthfully: ``hash_tree_root`` is the Merkle root over every field of the
attestation (one leaf per field path, ``sha256-rows-merkle-v1`` tree), so a
single field can later be proven without the rest; ``public_inputs_hash`` is the
SHA-256 of the public inputs alone (what the on-chain verifier sees); the proof
system is ``ecdsa`` — the attester's EIP-712 signature is what exists today — and
``proof_ready`` is false because no zero-knowledge proof has been made.
"""

from __future__ import annotations

import base64
import functools
import json
from importlib import resources
from typing import Any

from hokusai.rules.version import __version__
from hokusai.rules.canonical import canonical_json, sha256_hex
from hokusai.commitments.rows import rows_root
from hokusai.rules.metric_names import BENCHMARK_METRICS as METRIC_NAMES

ZK_SCHEMA_VERSION = "1.0"


def field_leaves(document: dict[str, Any], prefix: str = "") -> list[bytes]:
    """One canonical leaf per field path, sorted: ``["result.delta_one_bps", 310]``."""
    leaves = []
    for key in sorted(document):
        path, value = f"{prefix}{key}", document[key]
        if isinstance(value, dict) and value:
            leaves += field_leaves(value, f"{path}.")
        else:
            leaves.append(canonical_json([path, value]))
    return leaves


def hash_tree_root(attestation: dict[str, Any]) -> str:
    """Bare hex Merkle root over the attestation's fields."""
    return rows_root(sorted(field_leaves(attestation)))[2:]


def public_inputs(mint_request: dict[str, Any]) -> dict[str, Any]:
    """What the on-chain verifier consumes: integers and hashes only."""
    evaluation = mint_request["evaluation"]
    return {
        "model_id_uint": mint_request["model_id_uint"],
        "eval_id": mint_request["eval_id"],
        "baseline_score_bps": evaluation["baseline_score_bps"],
        "new_score_bps": evaluation["new_score_bps"],
        "benchmark_spec_id": mint_request["benchmark_spec_id"],
        "dataset_hash": mint_request["dataset_hash"],
        "attestation_hash": mint_request["attestation_hash"],
        "idempotency_key": mint_request["idempotency_key"],
        "baseline_commitment": mint_request["baseline_commitment"],
        "candidate_commitment": mint_request["candidate_commitment"],
        "total_samples": mint_request["totalSamples"],
        "contributors": [[c["wallet_address"].lower(), c["weight_bps"]] for c in mint_request["contributors"]],
    }


def zk_document(envelope: dict[str, Any], delta_one: dict[str, Any], mint_request: dict[str, Any],
                *, environment: str = "development", dry_run: bool = False) -> dict[str, Any]:
    """The prover document for one evaluation."""
    attestation = envelope["attestation"]
    computation = delta_one["delta_computation"]
    contributor = delta_one["contributor_attribution"]
    evaluation = delta_one["evaluation_metadata"]
    baseline = {m: v["baseline_value"] for m, v in computation["metric_deltas"].items()}
    new = {m: v["new_value"] for m, v in computation["metric_deltas"].items()}
    columns = evaluation.get("committed_columns") or []
    manifest = {"data_hash": contributor["data_hash"], "row_count": contributor["contributed_samples"],
                "column_count": len(columns), "columns": columns}
    signature = mint_request["attester_signatures"][0] if mint_request["attester_signatures"] else None
    return {
        "schema_version": ZK_SCHEMA_VERSION,
        "metadata": {"pipeline_run_id": attestation["eval_id"], "timestamp": mint_request["timestamp"],
                     "pipeline_version": __version__, "environment": environment, "dry_run": dry_run},
        "evaluation_results": {
            "baseline_metrics": baseline,
            "new_metrics": new,
            "benchmark_metadata": {"size": evaluation["sample_size"], "type": evaluation["benchmark_spec_id"],
                                   "features": columns[:-1], "dataset_hash": evaluation["benchmark_sha256"]},
        },
        "delta_computation": {
            "delta_one_score": computation["delta_one_score"],
            "metric_deltas": {m: {k: (v[k] if v[k] is not None else 0.0) for k in
                                  ("baseline_value", "new_value", "absolute_delta", "relative_delta", "improvement")}
                              for m, v in computation["metric_deltas"].items()},
            "computation_method": "custom",
            "metrics_included": list(METRIC_NAMES),
            "improved_metrics": computation["improved_metrics"],
            "degraded_metrics": computation["degraded_metrics"],
        },
        "models": {
            "baseline": {"model_id": f"{delta_one['new_model']['name']}/{delta_one['baseline_model']['version']}",
                         "model_type": evaluation.get("estimator", "sklearn"),
                         "model_hash": delta_one["baseline_model"]["weights_commitment"][2:], "metrics": baseline},
            "new": {"model_id": f"{delta_one['new_model']['name']}/candidate-{attestation['eval_id']}",
                    "model_type": evaluation.get("estimator", "sklearn"),
                    "model_hash": delta_one["new_model"]["weights_commitment"][2:], "metrics": new,
                    "training_metadata": {
                        "base_samples": contributor["total_samples"] - contributor["contributed_samples"],
                        "contributed_samples": contributor["contributed_samples"],
                        "contribution_ratio": contributor["contributed_samples"] / contributor["total_samples"],
                        "data_manifest": manifest}},
        },
        "contributor_info": {
            "contributor_id": contributor["contributor_id"], "wallet_address": contributor["wallet_address"],
            "data_hash": contributor["data_hash"], "data_manifest": manifest,
            "contributor_weights": 1.0, "contributed_samples": contributor["contributed_samples"],
            "total_samples": contributor["total_samples"], "validation_status": "valid",
        },
        "attestation": {
            "hash_tree_root": hash_tree_root(attestation),
            "proof_ready": False,
            "signature_blob": base64.b64encode(bytes.fromhex(signature[2:])).decode() if signature else None,
            "verification_key": envelope["eip712"]["signer"],
            "proof_system": "ecdsa",
            "circuit_hash": None,
            "public_inputs_hash": sha256_hex(canonical_json(public_inputs(mint_request))),
        },
    }


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(resources.files("hokusai.schemas").joinpath("zk_output_schema.json").read_text("utf-8"))


def validate_zk_document(document: dict[str, Any]) -> list[str]:
    """Problems against ``zk_output_schema.json`` (empty = valid)."""
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(_schema(), format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))]
