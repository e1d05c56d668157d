"""Dagster resources, built from the environment in one place (``build_resources``).

Secrets enter as ``dagster.EnvVar``: Dagster resolves the variable when a run starts and
the UI (resource details, config defaults, run config) shows its name, never its value.
A secret variable that is unset gives ``None``, and the resource falls back to the
development key or secret under the state folder.
"""

from __future__ import annotations

from typing import Any

from dagster import EnvVar

from hokusai.claims.attester_keys import ENV_VAR as ATTESTER_KEY_VAR
from hokusai.drops.s3 import S3ContributionStore, contribution_store_for
from hokusai.rules.redaction import uri_has_password
from hokusai.pii.secret import ENV_VAR as PII_SECRET_VAR
from hokusai.settings import (
    CHAIN_RPC_URL_VAR,
    LEDGER_URL_VAR,
    RELAYER_REDIS_URL_VAR,
    TRACKING_URI_VAR,
    Settings,
    load_settings,
)
from resources.attester import AttesterResource
from resources.contribution_store import ContributionStoreResource, LocalContributionStoreResource
from resources.intake import IntakeResource
from resources.model_registry import ModelRegistryResource
from resources.outputs import OutputsResource
from resources.settlement import ClaimsLedgerResource, RelayerResource
from resources.token_specs import TokenSpecsResource


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources for the current environment (embedded defaults unless overridden)."""
    settings = settings or load_settings()
    resources = {
        "intake": IntakeResource(
            state_dir=str(settings.home),
            pii_secret=secret_from_env(settings, PII_SECRET_VAR),
            max_upload_bytes=settings.max_upload_bytes,
            max_rows=settings.max_rows,
            max_columns=settings.max_columns,
            max_benchmark_share=settings.max_benchmark_share,
            workers=settings.intake_workers,
        ),
        "outputs": OutputsResource(root=str(settings.outputs_dir)),
        "contribution_store": contribution_store_resource(settings),
        "token_specs": TokenSpecsResource(tokens_dir=str(settings.tokens_dir)),
        "model_registry": ModelRegistryResource(
            tracking_uri=url_from_env(settings, TRACKING_URI_VAR, settings.mlflow_tracking_uri),
            artifact_root=settings.mlflow_artifact_root,
            experiment_name=settings.mlflow_experiment_name,
            cache_dir=str(settings.cache_dir),
        ),
        "attester": AttesterResource(
            state_dir=str(settings.home),
            private_key=secret_from_env(settings, ATTESTER_KEY_VAR),
            chain_id=settings.chain_id,
            verifying_contract=settings.verifying_contract,
            deadline_seconds=settings.deadline_seconds,
            max_cost_usd_micro=settings.max_cost_usd_micro,
            chain_rpc_url=secret_url_from_env(settings, CHAIN_RPC_URL_VAR, settings.chain_rpc_url),
            chain_rpc_timeout_seconds=settings.chain_rpc_timeout_seconds,
            chain_rpc_retries=settings.step_retries,
            chain_rpc_retry_seconds=settings.step_retry_delay_seconds,
        ),
        "claims_ledger": ClaimsLedgerResource(
            url=url_from_env(settings, LEDGER_URL_VAR, settings.ledger_database_url)),
        "relayer": RelayerResource(
            redis_url=url_from_env(settings, RELAYER_REDIS_URL_VAR, settings.relayer_redis_url),
            budget_retry_seconds=settings.budget_retry_seconds,
        ),
    }
    if settings.io_bucket:
        resources["io_manager"] = s3_io_manager(settings)
    return resources


def s3_io_manager(settings: Settings):
    """Step outputs as pickles in ``s3://{io_bucket}/{io_prefix}/`` (dagster-aws), so a run's steps
    need not share a disk. The client's credentials come from boto3's default chain, as the drop zone's."""
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    return S3PickleIOManager(s3_resource=S3Resource(endpoint_url=settings.s3_endpoint_url,
                                                    region_name=settings.s3_region),
                             s3_bucket=settings.io_bucket, s3_prefix=settings.io_prefix)


def secret_from_env(settings: Settings, name: str) -> EnvVar | None:
    """``EnvVar(name)`` when the variable is set, else ``None`` (the dev file under the state folder).

    An ``EnvVar`` of an unset variable would load but fail every run, so it is given only when set.
    """
    return EnvVar(name) if name in settings.secret_variables else None


def url_from_env(settings: Settings, name: str, value: str | None) -> str | EnvVar | None:
    """A URL, as ``EnvVar(name)`` when it carries a password (``postgresql://user:pw@…``).

    Settings whose URL was replaced (the dry run's own SQLite stores) keep their plain URL;
    a URL with a password that did not come from its variable is refused, since a plain
    field would show the password in the UI.
    """
    if value is None or not uri_has_password(value):
        return value
    if name in settings.secret_variables:
        return EnvVar(name)
    raise ValueError(f"a URL with a password must come from the environment variable {name}")


def secret_url_from_env(settings: Settings, name: str, value: str | None) -> EnvVar | None:
    """A URL that is a secret whatever its shape (an API key in its path): ``EnvVar(name)``, never the value.

    A URL that did not come from its variable is refused rather than dropped: dropping it would
    silently turn the check it configures off.
    """
    if value is None:
        return None
    if name in settings.secret_variables:
        return EnvVar(name)
    raise ValueError(f"{name} is a secret: it must come from the environment variable, not from settings")


def contribution_store_resource(settings: Settings) -> ContributionStoreResource:
    """The resource for the store ``contribution_store_for`` chooses (the one home of that choice)."""
    store = contribution_store_for(settings)
    if isinstance(store, S3ContributionStore):
        from resources.s3_contribution_store import S3ContributionStoreResource  # dagster-aws: ~1 s to import

        return S3ContributionStoreResource(bucket=store.bucket, prefix=store.prefix,
                                           endpoint_url=store.endpoint_url, region_name=store.region,
                                           path_style=store.path_style)
    return LocalContributionStoreResource(root=str(store.root))
