"""Which language model a DSPy program runs on: the deterministic local one, or a provider's."""

from __future__ import annotations

from typing import Any

from hokusai.dspy.local_lm import NearestDemoLM
from hokusai.dspy.runtime import LMConfig, import_dspy


def build_lm(config: LMConfig) -> Any:
    """A DSPy LM for ``config``: the deterministic local LM, or ``dspy.LM`` (OpenAI, Ollama, a local server).

    A provider's key is read by LiteLLM from its own variable (``OPENAI_API_KEY``...): it never
    passes through Hokusai's settings, logs or attestation.
    """
    if config.is_local:
        return NearestDemoLM()
    dspy = import_dspy()
    extra = {"api_base": config.api_base} if config.api_base else {}
    return dspy.LM(config.model, temperature=config.temperature, max_tokens=config.max_tokens, **extra)
