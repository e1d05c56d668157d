"""Importing DSPy safely: offline cost map, cache off (its folder under the state folder), the LM.

LiteLLM fetches a remote cost map (~7 s offline) unless ``LITELLM_LOCAL_MODEL_COST_MAP``
is set before it is imported, and DSPy reads ``DSPY_CACHEDIR`` on import: both are set
here, before the first ``import dspy``. Every module of
``hokusai.dspy`` imports dspy through ``import_dspy()``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

LOCAL_MODEL = "hokusai-local/nearest-demo"
_PREPARED: dict[str, Any] = {}


def import_dspy() -> Any:
    """The ``dspy`` module, imported with LiteLLM's cost map local and DSPy's cache off.

    The cache folder is pointed under the state folder (``settings.cache_dir / "dspy"``),
    never ``~/.dspy_cache``, and the cache turned off: DSPy then writes nothing, and a
    deterministic evaluation never answers from an earlier run's cache.
    """
    if "dspy" in _PREPARED:
        return _PREPARED["dspy"]
    from hokusai.settings import load_settings

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # written, never read, here: LiteLLM reads it
    os.environ["DSPY_CACHEDIR"] = str(load_settings().cache_dir / "dspy")
    import dspy

    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    _PREPARED["dspy"] = dspy
    return dspy


@dataclass(frozen=True)
class LMConfig:
    """The language model a DSPy token runs on; what the attestation records (never a key)."""

    model: str = LOCAL_MODEL
    api_base: str | None = None
    temperature: float = 0.0
    max_tokens: int = 1000

    @property
    def is_local(self) -> bool:
        return self.model == LOCAL_MODEL

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "api_base": self.api_base, "temperature": self.temperature,
                "max_tokens": self.max_tokens}


def lm_config_from(settings: Any = None, spec_model: str | None = None) -> LMConfig:
    """The LM: ``HOKUSAI_DSPY_MODEL`` / ``HOKUSAI_DSPY_API_BASE`` (settings) over the spec's, else the local one."""
    model = getattr(settings, "dspy_model", None) or spec_model or LOCAL_MODEL
    return LMConfig(model=model, api_base=getattr(settings, "dspy_api_base", None))
