"""The Hokusai SDK core: the model registry and the identifier rules."""

from hokusai.core.registry import ModelRegistry, ModelVersionRef, RegistryError
from hokusai.ids import validate_token_id

__all__ = ["ModelRegistry", "ModelVersionRef", "RegistryError", "validate_token_id"]
