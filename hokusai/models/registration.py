"""Registering an evaluated model: token tags, and the champion alias on the lineage chain's head."""

from __future__ import annotations

from typing import Any

from hokusai.chain.ledger import Chain
from hokusai.core.champion import follow_head, place_champion
from hokusai.core.client import RegistryClient
from hokusai.core.entities import LoggedModelRef
from hokusai.core.tags import (
    ATTESTATION_HASH_TAG, BASELINE_VERSION_TAG, BENCHMARK_METRIC_TAG, BENCHMARK_SCORE_BPS_TAG, BENCHMARK_VALUE_TAG,
    CONTRIBUTOR_WALLET_TAG, DATA_HASH_TAG, DELTA_ONE_BPS_TAG, ELIGIBLE_TAG, PARTITION_KEY_TAG, TOKEN_ID_TAG,
)
from hokusai.rules.metric_names import migrate_metric_name, to_mlflow_key
from hokusai.models.steps import CandidateModel
from hokusai.tokens.spec import TokenSpec


def token_tags(spec: TokenSpec, delta_one: dict[str, Any], attestation_hash: str) -> dict[str, str]:
    """The tags every Hokusai model version carries."""
    computation = delta_one["delta_computation"]
    contributor = delta_one["contributor_attribution"]
    return {
        TOKEN_ID_TAG: spec.token_id,
        BENCHMARK_METRIC_TAG: spec.primary_metric,
        BENCHMARK_VALUE_TAG: str(computation["metric_deltas"][spec.primary_metric]["new_value"]),
        BENCHMARK_SCORE_BPS_TAG: str(computation["new_score_bps"]),
        CONTRIBUTOR_WALLET_TAG: contributor["wallet_address"],
        DATA_HASH_TAG: contributor["data_hash"],
        DELTA_ONE_BPS_TAG: str(computation["delta_one_bps"]),
        ELIGIBLE_TAG: str(delta_one["eligibility"]["eligible"]).lower(),
        ATTESTATION_HASH_TAG: attestation_hash,
        PARTITION_KEY_TAG: contributor["data_manifest"]["partition_key"],
        BASELINE_VERSION_TAG: str(delta_one["baseline_model"]["version"]),
    }


def benchmark_run_metrics(computation: dict[str, Any]) -> dict[str, float]:
    """The candidate run's metrics, in the naming convention (``hokusai.tracking.metrics``).

    ``model:accuracy`` is the candidate's benchmark score, ``model:baseline.accuracy`` its
    baseline's on the same rows, ``model:delta_one_bps`` the gain; as MLflow keys, with ``/``.
    """
    metrics = {}
    for name, delta in computation["metric_deltas"].items():
        standard = migrate_metric_name(name).removeprefix("model:")
        metrics[to_mlflow_key(f"model:{standard}")] = delta["new_value"]
        metrics[to_mlflow_key(f"model:baseline.{standard}")] = delta["baseline_value"]
    metrics[to_mlflow_key("model:delta_one_bps")] = computation["delta_one_bps"]
    return metrics


def register_candidate(registry: RegistryClient, chain: Chain, spec: TokenSpec, candidate: CandidateModel,
                       delta_one: dict[str, Any], attestation_hash: str) -> dict[str, Any]:
    """Register the candidate; ``champion`` goes to it only if it is the head of the token's chain.

    The champion rule is ``hokusai.core.champion`` (the SDK's too): a version is champion when
    its model is the head the next contribution will be trained on and measured against;
    the pipeline's head is the chain's (``hokusai.chain``), appended to when the claim was admitted.
    """
    tags = token_tags(spec, delta_one, attestation_hash)
    computation = delta_one["delta_computation"]
    registry.log_run_metrics(candidate.run_id, benchmark_run_metrics(computation))
    existing = _version_with_claim(registry, spec.model_name, attestation_hash)
    if existing is None:
        version = registry.register_version(
            LoggedModelRef(candidate.run_id, candidate.model_uri, candidate.weights_commitment), spec.model_name, tags
        ).version
    else:  # the same evaluation was registered by an earlier run: don't add a twin
        version = existing.version
    chain.set_model_version(candidate.weights_commitment, spec.token_id, version)  # if it is a link at all
    head = chain.head(spec.token_id)
    is_head = head is not None and head.commitment == candidate.weights_commitment
    why = (f"head of the lineage chain at position {head.position}" if is_head
           else _not_head_reason(chain, spec, candidate, delta_one))
    alias = place_champion(registry, spec.model_name, version, is_head, why).alias
    already = " (already registered for this claim)" if existing is not None else ""
    return {
        "model_name": spec.model_name,
        "version": version,
        "alias": alias,
        "champion_moved": is_head and existing is None,
        "tags": existing.tags if existing is not None else tags,
        "already_registered": existing is not None,
        "champion_reason": why,
        "summary": f"{spec.model_name} v{version} registered as {alias}{already} ({why}; "
                   f"DeltaOne {computation['delta_one_bps']} bps)",
    }


def follow_chain_head(registry: RegistryClient, chain: Chain, token_id: str, model_name: str) -> int | None:
    """Put ``champion`` back on the chain's head after a roll-back; returns the head's version."""
    head = chain.head(token_id)
    if head is None or head.model_version is None:
        return None
    follow_head(registry, model_name, head.model_version)
    return head.model_version


def _not_head_reason(chain: Chain, spec: TokenSpec, candidate: CandidateModel, delta_one: dict[str, Any]) -> str:
    if not delta_one["eligibility"]["eligible"]:
        return delta_one["eligibility"]["reason"]
    link = chain.link_for(candidate.contribution.partition_key)
    if link is not None and link.commitment == candidate.weights_commitment:
        return f"in the chain at position {link.position}, no longer its head"
    return "eligible, but the chain's head moved while it was evaluated: re-based"


def _version_with_claim(registry: RegistryClient, model_name: str, attestation_hash: str):
    """The version already registered for this attestation hash, if any."""
    found = registry.search_versions(f"name = '{model_name}' and tags.{ATTESTATION_HASH_TAG} = '{attestation_hash}'")
    return registry.get_version(model_name, min(int(v.version) for v in found)) if found else None
