"""The Hokusai SDK core: the model registry and the identifier rules.

``ModelRegistry(tracking_uri=None)`` works against an MLflow server or a local store
(without a URI: ``MLFLOW_TRACKING_URI``). A ``model_id`` is ``"{registered model
name}/{version}"`` (see ``hokusai.core.model_ids``). ``RegistryClient`` is the layer
under it that makes every MLflow call (the pipeline uses it directly); the layers are
listed in ``hokusai.core.registry``.
"""

from hokusai.core.client import RegistryClient
from hokusai.core.entities import LoggedModelRef, ModelVersionRef
from hokusai.core.errors import ModelNotFoundError, RegistryError
from hokusai.core.registry import ModelRegistry
from hokusai.core.tags import CANDIDATE_ALIAS, CHAMPION_ALIAS
from hokusai.rules.token_ids import validate_token_id
from hokusai.rules.wallets import validate_wallet_address

__all__ = [
    "CANDIDATE_ALIAS",
    "CHAMPION_ALIAS",
    "LoggedModelRef",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelVersionRef",
    "RegistryClient",
    "RegistryError",
    "validate_token_id",
    "validate_wallet_address",
]
