"""Commitments: short hashes that bind an attestation to exact model weights.

``sha256-merkle-v1`` (docs/architecture.md, "Commitments"): the leaves are the SHA-256 of each artifact file,
in lexicographic order of their POSIX relative paths; MLflow's volatile files
(``MLmodel``, ``metadata/...``, ``registered_model_meta``) are left out; a parent is
SHA-256(left || right); an odd last node is paired with itself; one file's digest
is its own root.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHTS_COMMITMENT_SCHEME = "sha256-merkle-v1"
_VOLATILE_FILES = {"MLmodel", "registered_model_meta"}


def merkle_root(leaves: list[bytes]) -> bytes:
    """Root of a SHA-256 Merkle tree over ``leaves`` (32-byte digests)."""
    if not leaves:
        raise ValueError("a Merkle root needs at least one leaf")
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def committed_files(model_dir: Path) -> list[str]:
    """The POSIX relative paths that enter the commitment, in commitment order."""
    root = Path(model_dir)
    paths = []
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in _VOLATILE_FILES and not relative.startswith("metadata/"):
            paths.append(relative)
    return sorted(paths)


def weights_commitment(model_dir: Path) -> str:
    """The ``sha256-merkle-v1`` commitment of a model directory, as 0x + 64 hex."""
    files = committed_files(model_dir)
    if not files:
        raise ValueError(f"no model files to commit to under {model_dir}")
    leaves = [hashlib.sha256((Path(model_dir) / name).read_bytes()).digest() for name in files]
    return "0x" + merkle_root(leaves).hex()
