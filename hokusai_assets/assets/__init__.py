"""The assets, grouped as the pipeline runs: contribution, models, evaluation, attestation."""

from dagster import AssetsDefinition, load_assets_from_modules

from hokusai.settings import Settings
from hokusai_assets.assets import attestation, contribution, evaluation, models
from hokusai_assets.retries import MlflowStep, mlflow_retry_policy

MODULES = (contribution, models, evaluation, attestation)


def build_assets(settings: Settings) -> list[AssetsDefinition]:
    """Every asset, the MLflow steps given the retry policy of ``settings``."""
    policy = mlflow_retry_policy(settings)
    steps = [value.build(policy) for module in MODULES for value in vars(module).values()
             if isinstance(value, MlflowStep)]
    return [*load_assets_from_modules(list(MODULES)), *steps]
