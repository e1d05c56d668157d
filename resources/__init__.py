"""Dagster resources, built from the environment in one place (``build_resources``)."""

from __future__ import annotations

from typing import Any

from hokusai.settings import Settings, load_settings
from resources.attester import AttesterResource
from resources.contribution_store import LocalContributionStoreResource
from resources.model_registry import ModelRegistryResource
from resources.token_specs import TokenSpecsResource


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources for the current environment (embedded defaults unless overridden)."""
    import os

    settings = settings or load_settings()
    private_key = os.environ.get("HOKUSAI_ATTESTER_PRIVATE_KEY") or None
    return {
        "contribution_store": LocalContributionStoreResource(root=str(settings.drop_zone)),
        "token_specs": TokenSpecsResource(tokens_dir=str(settings.tokens_dir)),
        "model_registry": ModelRegistryResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_root=settings.mlflow_artifact_root,
            experiment_name=settings.mlflow_experiment_name,
            cache_dir=str(settings.cache_dir),
        ),
        "attester": AttesterResource(
            state_dir=str(settings.home),
            outputs_dir=str(settings.outputs_dir),
            private_key=private_key,
            chain_id=settings.chain_id,
            verifying_contract=settings.verifying_contract,
            deadline_seconds=settings.deadline_seconds,
            max_cost_usd_micro=settings.max_cost_usd_micro,
        ),
    }
