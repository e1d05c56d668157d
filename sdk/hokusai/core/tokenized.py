"""Tokenized models: model versions tagged with the Hokusai token they belong to.

A tokenized version carries ``hokusai_token_id`` (a valid token id),
``benchmark_metric`` (a metric name) and ``benchmark_value`` (a number), plus any
other tags; the names are the pipeline's, so its versions list here too.
Registering the same run for the same token twice returns the version registered
the first time (``created`` False) instead of adding a duplicate. The check is a
search before the write, so two registrations racing each other can still both
succeed; the pipeline's per-token run queue keeps its own writes apart.
"""

from __future__ import annotations

from typing import Any

from hokusai.core.model_ids import validate_model_name
from hokusai.core.client import RegistryClient
from hokusai.core.entities import LoggedModelRef
from hokusai.core.errors import RegistryError
from hokusai.core.tags import (
    BENCHMARK_METRIC_TAG, BENCHMARK_VALUE_TAG, REQUIRED_TOKEN_TAGS, TOKEN_ID_TAG, normalize_tags, numeric_value,
)
from hokusai.core.versions import resolve_run_id, version_view
from hokusai.rules.token_ids import validate_token_id
from hokusai.rules.metric_names import validate_metric_name


def tokenized_view(version: Any) -> dict[str, Any]:
    """``version_view`` plus the registration's names: ``metric_name`` and ``baseline_value``."""
    view = version_view(version)
    view["metric_name"] = view["benchmark_metric"]
    view["baseline_value"] = view["benchmark_value"]
    return view


def register_tokenized_model(registry: RegistryClient, model_uri: str, model_name: str, token_id: str,
                             metric_name: str, baseline_value: Any,
                             additional_tags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Register ``model_uri`` as a version of ``model_name`` for ``token_id`` (idempotent per run and token)."""
    validate_model_name(model_name)
    validate_token_id(token_id)
    validate_metric_name(metric_name)
    value = numeric_value(baseline_value, "baseline_value")
    extra = normalize_tags(additional_tags or {})
    clashing = sorted(set(extra) & set(REQUIRED_TOKEN_TAGS))
    if clashing:
        raise ValueError(f"additional_tags must not set {clashing}: they are arguments of register_tokenized_model")
    tags = {**extra, **normalize_tags({TOKEN_ID_TAG: token_id, BENCHMARK_METRIC_TAG: metric_name,
                                       BENCHMARK_VALUE_TAG: value})}
    run_id = resolve_run_id(registry, model_uri)
    existing = _registered_before(registry, model_name, token_id, run_id, model_uri)
    if existing is not None:
        return {**tokenized_view(existing), "created": False}
    logged = LoggedModelRef(run_id or "", model_uri, registry.commitment_of(model_uri))
    registered = registry.register_version(logged, model_name, tags)
    return {**tokenized_view(registry.require_version(model_name, registered.version)), "created": True}


def get_tokenized_model(registry: RegistryClient, model_name: str, version: int | str) -> dict[str, Any]:
    """One tokenized version; RegistryError if the version carries no token."""
    found = registry.require_version(validate_model_name(model_name), version)
    if TOKEN_ID_TAG not in (found.tags or {}):
        raise RegistryError(f"{model_name}/{found.version} is not a tokenized model: it has no '{TOKEN_ID_TAG}' tag")
    return tokenized_view(found)


def list_models_by_token(registry: RegistryClient, token_id: str) -> list[dict[str, Any]]:
    """Every version tagged with ``token_id``, across registered models, by name then version."""
    validate_token_id(token_id)
    versions = registry.search_versions(f"tags.{TOKEN_ID_TAG} = '{token_id}'")
    return sorted((tokenized_view(v) for v in versions), key=lambda view: (view["model_name"], view["version"]))


def update_model_tags(registry: RegistryClient, model_name: str, version: int | str,
                      tags: dict[str, Any]) -> dict[str, Any]:
    """Set (add or overwrite) tags on a version, each checked by its rule; returns the updated version."""
    found = registry.require_version(validate_model_name(model_name), version)
    normalized = normalize_tags(tags)
    registry.set_version_tags(model_name, int(found.version), normalized)
    return tokenized_view(registry.require_version(model_name, found.version))


def _registered_before(registry: RegistryClient, model_name: str, token_id: str, run_id: str | None,
                       model_uri: str) -> Any | None:
    """The version of ``model_name`` already registered from this run (or source) for this token."""
    if run_id:
        candidates = registry.search_versions(f"name = '{model_name}' and run_id = '{run_id}'")
    else:
        candidates = [v for v in registry.search_versions(f"name = '{model_name}'") if v.source == model_uri]
    matching = [v for v in candidates if (v.tags or {}).get(TOKEN_ID_TAG) == token_id]
    return min(matching, key=lambda v: int(v.version)) if matching else None
