"""Dagster resources, built from the environment in one place (``build_resources``)."""

from __future__ import annotations

from typing import Any

from hokusai.settings import Settings, load_settings
from resources.attester import AttesterResource
from resources.contribution_store import (
    ContributionStoreResource,
    LocalContributionStoreResource,
    S3ContributionStoreResource,
)
from resources.intake import IntakeResource
from resources.model_registry import ModelRegistryResource
from resources.outputs import OutputsResource
from resources.settlement import ClaimsLedgerResource, RelayerResource
from resources.token_specs import TokenSpecsResource


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources for the current environment (embedded defaults unless overridden)."""
    import os

    settings = settings or load_settings()
    private_key = os.environ.get("HOKUSAI_ATTESTER_PRIVATE_KEY") or None
    pii_secret = os.environ.get("HOKUSAI_PII_SECRET") or None
    return {
        "intake": IntakeResource(
            state_dir=str(settings.home),
            pii_secret=pii_secret,
            max_upload_bytes=settings.max_upload_bytes,
            max_rows=settings.max_rows,
            max_columns=settings.max_columns,
            max_benchmark_share=settings.max_benchmark_share,
        ),
        "outputs": OutputsResource(root=str(settings.outputs_dir)),
        "contribution_store": contribution_store_resource(settings),
        "token_specs": TokenSpecsResource(tokens_dir=str(settings.tokens_dir)),
        "model_registry": ModelRegistryResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_root=settings.mlflow_artifact_root,
            experiment_name=settings.mlflow_experiment_name,
            cache_dir=str(settings.cache_dir),
        ),
        "attester": AttesterResource(
            state_dir=str(settings.home),
            private_key=private_key,
            chain_id=settings.chain_id,
            verifying_contract=settings.verifying_contract,
            deadline_seconds=settings.deadline_seconds,
            max_cost_usd_micro=settings.max_cost_usd_micro,
        ),
        "claims_ledger": ClaimsLedgerResource(
            url=from_environment("HOKUSAI_LEDGER_URL", settings.ledger_database_url)),
        "relayer": RelayerResource(
            redis_url=from_environment("HOKUSAI_RELAYER_REDIS_URL", settings.relayer_redis_url),
            budget_retry_seconds=settings.budget_retry_seconds,
        ),
    }


def from_environment(name: str, value: str | None) -> Any:
    """``EnvVar(name)`` when ``value`` came from that variable, so a URL's password never becomes a
    plain field shown in the UI; a value without a password (the SQLite default) stays plain."""
    import os
    from urllib.parse import urlsplit

    from dagster import EnvVar

    if value is None:
        return None
    if os.environ.get(name, "").strip() == value:
        return EnvVar(name)
    if urlsplit(value).password:
        raise ValueError(f"a URL with a password must come from the environment variable {name}")
    return value


def contribution_store_resource(settings: Settings) -> ContributionStoreResource:
    """S3 when ``HOKUSAI_S3_BUCKET`` is set (with its prefix, endpoint, region, addressing), else the folder."""
    if settings.s3_bucket:
        return S3ContributionStoreResource(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            path_style=settings.s3_path_style,
        )
    return LocalContributionStoreResource(root=str(settings.drop_zone))
