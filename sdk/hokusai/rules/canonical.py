"""Canonical JSON and hashes: the one byte form every hash in Hokusai is taken over.

UTF-8, sorted keys, no insignificant whitespace, no NaN or infinity. Anything a
verifier must recompute exactly (scores, counts) is stored as an integer.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` to canonical JSON bytes; raises ValueError on NaN/inf."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Bare lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_0x(data: bytes) -> str:
    """0x-prefixed lowercase hex SHA-256 of ``data`` (the on-chain bytes32 form)."""
    return "0x" + hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """Bare hex SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
