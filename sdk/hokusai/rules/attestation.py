"""The attestation: a canonical, hashed statement of exactly what was evaluated.

It pins everything that decides the result (contribution, base data, benchmark,
baseline version and weights, candidate weights, spec, seed, software versions)
and nothing that varies between identical evaluations (run ids, timestamps), so
the same evaluation always hashes the same. It lives in the SDK because a third
party's ``PerformanceTracker`` and the pipeline must build the same document; the
signed EIP-712 mint request for the on-chain DeltaVerifier is the platform's
(``hokusai.claims.mint_request``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from hokusai.rules.canonical import canonical_hash, canonical_json, sha256_hex
from hokusai.rules.version import __version__

ATTESTATION_SCHEMA = "hokusai.attestation.v1"
# Implemented by the platform's hokusai.commitments.rows; named here because every attestation pins it.
ROWS_COMMITMENT_SCHEME = "sha256-rows-merkle-v1"
# The distributions whose versions decide an evaluation's numbers, by the name recorded.
# MLflow may be installed as mlflow-skinny (the SDK's dependency): same code, same version.
_SOFTWARE = {"scikit-learn": ("scikit-learn",), "numpy": ("numpy",), "pandas": ("pandas",),
             "pyarrow": ("pyarrow",), "mlflow": ("mlflow", "mlflow-skinny")}


def _installed_version(distributions: tuple[str, ...]) -> str | None:
    for name in distributions:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def software_versions() -> dict[str, str | None]:
    """Versions of the packages that determine an evaluation's numbers (None: not installed,
    as pyarrow in an SDK-only environment)."""
    return {name: _installed_version(dists) for name, dists in _SOFTWARE.items()} | {"hokusai": __version__}


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


def attestation_hash(attestation: dict[str, Any]) -> str:
    """0x + SHA-256 of the canonical attestation: the on-chain ``attestationHash``."""
    return "0x" + sha256_hex(canonical_json(attestation))


class AttestedToken(Protocol):
    """What an attestation takes from a token: a pipeline ``TokenSpec`` or the SDK's ``SdkToken``."""

    token_id: str
    model_name: str
    model_id_uint: int
    metric_family: str
    spec_sha256: str | None
    seed: int | None


def attestation_document(spec: AttestedToken, delta_one: dict[str, Any]) -> dict[str, Any]:
    """The attestation for this evaluation, built from its DeltaOne document alone."""
    baseline, candidate = delta_one["baseline_model"], delta_one["new_model"]
    contributor, evaluation = delta_one["contributor_attribution"], delta_one["evaluation_metadata"]
    partition_key = contributor["data_manifest"]["partition_key"]
    return build_attestation(
        # the baseline's chain position (an SDK document without a chain: its registry version)
        eval_id=evaluation_id(spec.token_id, partition_key, baseline.get("chain_position", baseline["version"]),
                              baseline["weights_commitment"]),
        token={"token_id": spec.token_id, "model_name": spec.model_name, "model_id_uint": str(spec.model_id_uint),
               "metric_family": spec.metric_family, "spec_sha256": spec.spec_sha256, "seed": spec.seed},
        contribution={"partition_key": partition_key, "wallet_address": contributor["wallet_address"],
                      "sha256": contributor["data_hash"], "clean_rows": contributor["contributed_samples"],
                      "clean_rows_sha256": contributor["data_manifest"]["clean_rows_sha256"],
                      "clean_rows_root": contributor["data_manifest"]["clean_rows_root"]},
        data={"benchmark_spec_id": evaluation["benchmark_spec_id"], "benchmark_sha256": evaluation["benchmark_sha256"],
              "benchmark_rows_root": evaluation["benchmark_rows_root"], "rows_commitment_scheme": ROWS_COMMITMENT_SCHEME,
              "benchmark_rows": evaluation["benchmark_rows"], "benchmark_sample_size": evaluation["sample_size"],
              "training_rows": candidate["training_rows"], "training_sha256": candidate["training_sha256"],
              "training_lineage": evaluation.get("training_lineage", []),
              "merge_strategy": evaluation["merge_strategy"],
              **({"dspy": evaluation["dspy"]} if "dspy" in evaluation else {})},
        baseline_model=baseline,
        candidate_model={"weights_commitment": candidate["weights_commitment"]},
        delta_one=delta_one,
    )
