"""The Hokusai SDK core: the model registry and the identifier rules.

``ModelRegistry(tracking_uri)`` works against an MLflow server or a local store. A
``model_id`` is ``"{registered model name}/{version}"`` (see ``hokusai.core.model_ids``).
"""

from hokusai.core.entities import LoggedModelRef, ModelVersionRef
from hokusai.core.errors import ModelNotFoundError, RegistryError
from hokusai.core.registry import ModelRegistry
from hokusai.core.tags import CANDIDATE_ALIAS, CHAMPION_ALIAS
from hokusai.ids import validate_token_id
from hokusai.wallets import validate_wallet_address

__all__ = [
    "CANDIDATE_ALIAS",
    "CHAMPION_ALIAS",
    "LoggedModelRef",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelVersionRef",
    "RegistryError",
    "validate_token_id",
    "validate_wallet_address",
]
