"""The SDK's ``ModelRegistry``: the registry client plus the SDK's methods, on top of ``hokusai.core``.

Layers, each importing only the ones below it (``test_definitions.py`` checks them and
fails on any import circle): ``tags`` (the tag and alias vocabulary), ``errors`` and
``entities`` (value types) -> ``connection`` (which tracking URI, is it up) -> ``client``
(every MLflow call) -> ``versions`` (reading versions back), ``contribution`` (a data
contribution as callers describe it), ``champion`` (the one champion rule) ->
``improvements``, ``lineage``, ``tokenized``, ``impact`` (the SDK's operations, plain
functions over a client) -> this facade. A ``model_id`` is ``"{name}/{version}"``
(``hokusai.core.model_ids``).
"""

from __future__ import annotations

from typing import Any

from hokusai.core.client import (  # noqa: F401  (re-exported: import paths the pipeline and SDK users hold)
    MODEL_ARTIFACT_NAME, RegistryClient, require_reachable, sklearn_pip_requirements,
)
from hokusai.core.entities import LoggedModelRef, ModelVersionRef  # noqa: F401
from hokusai.core.errors import ModelNotFoundError, RegistryError, RegistryUnavailableError  # noqa: F401
from hokusai.core.impact import get_contributor_impact
from hokusai.core.improvements import register_baseline, register_improved_model
from hokusai.core.lineage import get_model_lineage
from hokusai.core.tags import CANDIDATE_ALIAS, CHAMPION_ALIAS, COMMITMENT_TAG  # noqa: F401
from hokusai.core.tokenized import (
    get_tokenized_model, list_models_by_token, register_tokenized_model, update_model_tags,
)
from hokusai.rules.token_ids import validate_token_id


class ModelRegistry(RegistryClient):
    """MLflow tracking and registry for Hokusai models, with the SDK's methods.

    ``ModelRegistry()`` reads the tracking URI from ``MLFLOW_TRACKING_URI``; see
    ``RegistryClient`` for the URIs it takes.
    """

    validate_token_id = staticmethod(validate_token_id)

    def register_baseline(self, model: Any, model_type: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Log ``model`` (a fitted estimator, or the URI of a logged model) and register it as a baseline.

        Returns the version as a dict: ``model_id`` (``"name/version"``), ``name``,
        ``version``, ``run_id``, ``model_uri``, tags and alias. See ``hokusai.core.improvements``.
        """
        return register_baseline(self, model, model_type, metadata or {})

    def register_improved_model(self, baseline_model_id: str, improved_model: Any, contributor_address: str,
                                data_contribution: dict[str, Any]) -> dict[str, Any]:
        """Register ``improved_model`` as a new version of its baseline's registered model, with its DeltaOne."""
        return register_improved_model(self, baseline_model_id, improved_model, contributor_address,
                                       data_contribution)

    def get_model_lineage(self, model_id: str) -> dict[str, Any]:
        """Baseline -> every improvement of ``model_id``'s lineage, with contributor, data hash, metrics, DeltaOne."""
        return get_model_lineage(self, model_id)

    def get_contributor_impact(self, address: str) -> dict[str, Any]:
        """A wallet's contributions, DeltaOnes and models across the whole registry."""
        return get_contributor_impact(self, address)

    # -- the SDK: tokenized models ------------------------------------------------
    def register_tokenized_model(self, model_uri: str, model_name: str, token_id: str, metric_name: str,
                                 baseline_value: float, additional_tags: dict[str, Any] | None = None
                                 ) -> dict[str, Any]:
        """Register ``model_uri`` for ``token_id``; the same run for the same token returns the existing version."""
        return register_tokenized_model(self, model_uri, model_name, token_id, metric_name, baseline_value,
                                        additional_tags)

    def get_tokenized_model(self, model_name: str, version: int | str) -> dict[str, Any]:
        return get_tokenized_model(self, model_name, version)

    def list_models_by_token(self, token_id: str) -> list[dict[str, Any]]:
        return list_models_by_token(self, token_id)

    def update_model_tags(self, model_name: str, version: int | str, tags: dict[str, Any]) -> dict[str, Any]:
        return update_model_tags(self, model_name, version, tags)
