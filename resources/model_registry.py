"""The MLflow model registry as a Dagster resource: a thin wrapper over ``hokusai.core``.

dagster-mlflow's ``mlflow_tracking`` resource opens one MLflow run per Dagster run
in one experiment fixed by config; Hokusai needs one experiment per token and
one run per contribution, opened by the step that trains the model, so the
registry builds its own runs through ``hokusai.core.ModelRegistry``.
"""

from __future__ import annotations

from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from hokusai.core import ModelRegistry
from hokusai.core.registry import require_reachable
from hokusai.rules.token_ids import token_experiment_name


class ModelRegistryResource(ConfigurableResource):
    """Where models are tracked and registered (``MLFLOW_TRACKING_URI``)."""

    tracking_uri: str = Field(description="MLflow tracking URI; EnvVar('MLFLOW_TRACKING_URI') when it "
                                          "carries a password.")
    artifact_root: Optional[str] = None
    experiment_name: Optional[str] = None
    cache_dir: Optional[str] = None

    def get_registry(self) -> ModelRegistry:
        """The registry, once its server answers (a clear error, which the step's retry policy retries)."""
        require_reachable(self.tracking_uri)
        return ModelRegistry(self.tracking_uri, artifact_root=self.artifact_root, cache_dir=self.cache_dir)

    def experiment_for(self, token_id: str) -> str:
        return self.experiment_name or token_experiment_name(token_id)
