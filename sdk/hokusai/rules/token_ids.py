"""Identifier rules shared by the drop zone, token specs and the registry.

A token id becomes an S3 prefix, a partition-key segment, an MLflow model name
and a tag value, so it is restricted to characters that are safe in all four.
"""

from __future__ import annotations

import re

TOKEN_ID_MAX_LENGTH = 64
_TOKEN_ID_CHARS = re.compile(r"[a-z0-9-]+")


def validate_token_id(token_id: str) -> str:
    """Return ``token_id`` unchanged if valid; raise ValueError saying what to fix."""
    if not isinstance(token_id, str) or not token_id:
        raise ValueError("token id is empty")
    if len(token_id) > TOKEN_ID_MAX_LENGTH:
        raise ValueError(
            f"token id is {len(token_id)} characters long; at most {TOKEN_ID_MAX_LENGTH} allowed"
        )
    if token_id != token_id.lower():
        raise ValueError(f"token id {token_id!r} must be lowercase")
    if not _TOKEN_ID_CHARS.fullmatch(token_id):
        raise ValueError(
            f"token id {token_id!r} may contain only lowercase letters, digits and hyphens"
        )
    if token_id.startswith("-") or token_id.endswith("-"):
        raise ValueError(f"token id {token_id!r} must not start or end with a hyphen")
    return token_id


def is_token_id(token_id: str) -> bool:
    """True when ``validate_token_id`` would accept ``token_id``."""
    try:
        validate_token_id(token_id)
    except ValueError:
        return False
    return True


def token_experiment_name(token_id: str) -> str:
    """The MLflow experiment of a token's runs, for the pipeline and the SDK alike."""
    return f"hokusai-{token_id}"


def token_model_name(token_id: str) -> str:
    """The registered model name of a token (a token spec may name another)."""
    return f"hokusai-{token_id}"
