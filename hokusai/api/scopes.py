"""The API's scopes: what a key or a wallet session may do."""

from __future__ import annotations

MODELS_READ = "models:read"
MODELS_REGISTER = "models:register"
CONTRIBUTIONS_WRITE = "contributions:write"
CONTRIBUTORS_READ = "contributors:read"
DSPY_EXECUTE = "dspy:execute"
MLFLOW_READ = "mlflow:read"
MLFLOW_WRITE = "mlflow:write"
ADMIN = "admin"

ALL_SCOPES = (MODELS_READ, MODELS_REGISTER, CONTRIBUTIONS_WRITE, CONTRIBUTORS_READ, DSPY_EXECUTE,
              MLFLOW_READ, MLFLOW_WRITE, ADMIN)
# What a wallet signed in with SIWE may do: its own contributions, claims and impact, and read tokens.
CONTRIBUTOR_SCOPES = (MODELS_READ, CONTRIBUTIONS_WRITE, CONTRIBUTORS_READ)


def parse_scopes(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ("a", "b"), sorted and unique; ValueError naming an unknown scope."""
    scopes = sorted({part.strip() for part in text.split(",") if part.strip()})
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}")
    if not scopes:
        raise ValueError(f"at least one scope is required; known: {', '.join(ALL_SCOPES)}")
    return tuple(scopes)


def grants(held: tuple[str, ...] | frozenset[str], needed: str) -> bool:
    """``admin`` holds every scope; otherwise a scope is held exactly (no wildcards, no prefixes)."""
    return ADMIN in held or needed in held
