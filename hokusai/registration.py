"""Registering an evaluated model: token tags, and the champion alias only for a real gain."""

from __future__ import annotations

from typing import Any

from hokusai.champion import decide_champion
from hokusai.core.registry import CANDIDATE_ALIAS, CHAMPION_ALIAS, ModelRegistry
from hokusai.pipeline import CandidateModel
from hokusai.token_spec import TokenSpec
from hokusai.tracking.metrics import migrate_metric_name, to_mlflow_key


def token_tags(spec: TokenSpec, delta_one: dict[str, Any], attestation_hash: str) -> dict[str, str]:
    """The tags every Hokusai model version carries."""
    computation = delta_one["delta_computation"]
    contributor = delta_one["contributor_attribution"]
    return {
        "hokusai_token_id": spec.token_id,
        "benchmark_metric": spec.primary_metric,
        "benchmark_value": str(computation["metric_deltas"][spec.primary_metric]["new_value"]),
        "benchmark_score_bps": str(computation["new_score_bps"]),
        "contributor_wallet": contributor["wallet_address"],
        "data_hash": contributor["data_hash"],
        "delta_one_bps": str(computation["delta_one_bps"]),
        "eligible": str(delta_one["eligibility"]["eligible"]).lower(),
        "attestation_hash": attestation_hash,
        "partition_key": contributor["data_manifest"]["partition_key"],
        "baseline_version": str(delta_one["baseline_model"]["version"]),
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


def register_candidate(registry: ModelRegistry, spec: TokenSpec, candidate: CandidateModel,
                       delta_one: dict[str, Any], attestation_hash: str) -> dict[str, Any]:
    """Register the candidate; move ``champion`` to it if eligible and it leads (``hokusai.champion``)."""
    from hokusai.core.registry import LoggedModelRef

    tags = token_tags(spec, delta_one, attestation_hash)
    computation = delta_one["delta_computation"]
    registry.log_run_metrics(candidate.run_id, benchmark_run_metrics(computation))
    existing = _version_with_claim(registry, spec.model_name, attestation_hash)
    if existing is not None:  # the same claim was registered by an earlier run: don't add a twin
        current = registry.get_alias(spec.model_name, CHAMPION_ALIAS)
        alias = CHAMPION_ALIAS if current is not None and current.version == existing.version else CANDIDATE_ALIAS
        return {"model_name": spec.model_name, "version": existing.version, "alias": alias,
                "champion_moved": False, "tags": existing.tags, "already_registered": True,
                "champion_reason": "already registered for this claim",
                "summary": f"{spec.model_name} v{existing.version} already registered for this claim ({alias})"}
    version = registry.register_version(
        LoggedModelRef(candidate.run_id, candidate.model_uri, candidate.weights_commitment), spec.model_name, tags
    )
    moved, why = _settle_champion(registry, spec.model_name, version.version, delta_one)
    if not moved:
        registry.set_alias(spec.model_name, CANDIDATE_ALIAS, version.version)
    alias = CHAMPION_ALIAS if moved else CANDIDATE_ALIAS
    return {
        "model_name": spec.model_name,
        "version": version.version,
        "alias": alias,
        "champion_moved": moved,
        "tags": tags,
        "already_registered": False,
        "champion_reason": why,
        "summary": f"{spec.model_name} v{version.version} registered as {alias} ({why}; "
                   f"DeltaOne {computation['delta_one_bps']} bps)",
    }


def _settle_champion(registry: ModelRegistry, model_name: str, version: int,
                     delta_one: dict[str, Any]) -> tuple[bool, str]:
    """Apply ``decide_champion`` with a compare-and-set on the alias it read."""
    current = registry.get_alias(model_name, CHAMPION_ALIAS)
    current_score = current.tags.get("benchmark_score_bps") if current is not None else None
    decision = decide_champion(
        eligible=bool(delta_one["eligibility"]["eligible"]),
        ineligible_reason=delta_one["eligibility"]["reason"],
        pinned_version=int(delta_one["baseline_model"]["version"]),
        current_version=current.version if current is not None else None,
        current_score_bps=int(current_score) if current_score not in (None, "") else None,
        new_score_bps=int(delta_one["delta_computation"]["new_score_bps"]),
    )
    if not decision.move:
        return False, decision.reason
    if current is None:
        registry.set_alias(model_name, CHAMPION_ALIAS, version)
        return True, decision.reason
    if registry.move_champion_if_unchanged(model_name, version, current.version):
        return True, decision.reason
    return False, "eligible, but the champion changed while this version was being registered"


def _version_with_claim(registry: ModelRegistry, model_name: str, attestation_hash: str):
    """The version already registered for this attestation hash, if any."""
    found = registry.search_versions(f"name = '{model_name}' and tags.attestation_hash = '{attestation_hash}'")
    return registry.get_version(model_name, min(int(v.version) for v in found)) if found else None
