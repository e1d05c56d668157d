"""The attester's signing key: from the environment in production, a local file in dev.

A deployment supplies ``HOKUSAI_ATTESTER_PRIVATE_KEY`` (0x + 64 hex). Without it
the platform still has to run end to end on a laptop, so a development key is
generated once under the state directory and reused, which keeps the attester
address stable across runs (it must be registered on the local chain). The file
says in plain words that it is not for production, and ``AttesterKey.is_dev_key``
lets callers refuse it where that matters.

Key material never appears in an error message or a repr. The address is derived
with eth-keys (~0.35 s to import, loaded on first use; eth_account costs ~1.4 s).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from hokusai.private_files import create_private_file_once, tighten
from typing import Literal, Mapping

ENV_VAR = "HOKUSAI_ATTESTER_PRIVATE_KEY"
DEV_KEY_RELPATH = Path("keys") / "dev_attester.json"
DEV_KEY_WARNING = (
    "DEVELOPMENT attester key, generated locally by Hokusai because "
    f"{ENV_VAR} was not set. NOT for production: anyone who can read this file can "
    "sign mint requests as this attester. Never register this address on a public chain."
)
_KEY_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class AttesterKey:
    """An attester private key and the address it signs as."""

    private_key_hex: str = field(repr=False)  # never in logs or tracebacks
    address: str
    source: Literal["environment", "dev-key-file"]
    is_dev_key: bool


def _normalise_key(value: object, origin: str) -> str:
    """Lowercase ``0x`` key, or ValueError naming ``origin`` but never the value."""
    if not isinstance(value, str) or not _KEY_RE.match(value.strip()):
        length = len(value.strip()) if isinstance(value, str) else 0
        raise ValueError(
            f"{origin} is malformed: expected '0x' followed by 64 hex characters "
            f"(got {length} characters; the value is not shown)"
        )
    key = value.strip().lower()
    if not 0 < int(key, 16) < _SECP256K1_N:
        raise ValueError(f"{origin} is not a valid secp256k1 private key (out of range)")
    return key


def _address_of(private_key_hex: str) -> str:
    from eth_keys import keys

    return keys.PrivateKey(bytes.fromhex(private_key_hex[2:])).public_key.to_checksum_address()


def _new_private_key() -> str:
    while True:  # rejection sampling: 1 in ~2**128 draws is out of range
        candidate = secrets.token_bytes(32)
        if 0 < int.from_bytes(candidate, "big") < _SECP256K1_N:
            return "0x" + candidate.hex()


def _create_dev_key_file(path: Path) -> None:
    """Write a fresh key to ``path`` with mode 0600, unless another process got there first.

    The content goes to a private temp file that is then hard-linked into place:
    the link fails if ``path`` exists, so concurrent first runs agree on one key and
    nobody ever reads a half-written file.
    """
    key = _new_private_key()
    record = {
        "warning": DEV_KEY_WARNING,
        "private_key_hex": key,
        "address": _address_of(key),
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    create_private_file_once(path, json.dumps(record, indent=2) + "\n")


def _read_dev_key_file(path: Path) -> AttesterKey:
    tighten(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"dev attester key file {path} is unreadable: {exc.__class__.__name__}"
        ) from None
    key = _normalise_key(record.get("private_key_hex"), f"dev attester key file {path}")
    address = _address_of(key)
    stored = str(record.get("address", ""))
    if stored.lower() != address.lower():
        raise ValueError(f"dev attester key file {path}: stored address does not match its key")
    return AttesterKey(private_key_hex=key, address=address, source="dev-key-file",
                       is_dev_key=True)


def load_attester_key(state_dir: Path, env: Mapping[str, str]) -> AttesterKey:
    """The attester key: ``HOKUSAI_ATTESTER_PRIVATE_KEY`` if set, else the dev key file.

    An empty variable counts as unset (compose files often render ``VAR=``); a
    malformed one is an error, never a silent fallback to the dev key.
    """
    raw = env.get(ENV_VAR)
    if raw is not None and raw.strip():
        key = _normalise_key(raw, ENV_VAR)
        return AttesterKey(private_key_hex=key, address=_address_of(key),
                           source="environment", is_dev_key=False)
    path = Path(state_dir) / DEV_KEY_RELPATH
    if not path.exists():
        _create_dev_key_file(path)
    return _read_dev_key_file(path)


def configured_attester_address(state_dir: Path, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(address, where it comes from) of the attester this installation signs with, or None when it
    has none yet: what ``hokusai verify`` pins the signer to without ``--signer``. Never creates a key."""
    raw = env.get(ENV_VAR)
    if raw is not None and raw.strip():
        return _address_of(_normalise_key(raw, ENV_VAR)), ENV_VAR
    path = Path(state_dir) / DEV_KEY_RELPATH
    if not path.exists():
        return None
    return _read_dev_key_file(path).address, f"the DEVELOPMENT key in {path}"
