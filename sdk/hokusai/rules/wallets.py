"""Ethereum wallet addresses: validation and EIP-55 checksums.

Contributor wallets arrive from people, so a typo must be caught before it is
signed into a mint request: once the DeltaVerifier accepts it, tokens go to
whatever 20 bytes were signed. EIP-55 lets a mixed-case address carry its own
checksum; an all-lowercase (or all-uppercase) address carries none and is taken
as written. Internally we keep the lowercase form, which is what gets compared
and hashed; the checksummed form is only for display and typed-data JSON.

keccak comes from eth-utils, imported on first use so that importing this
module stays cheap (eth-utils costs ~0.35 s to import).
"""

from __future__ import annotations

import re

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ZERO_ADDRESS = "0x" + "0" * 40


def _keccak_hex(data: bytes) -> str:
    from eth_utils import keccak

    return keccak(data).hex()


def _checksum_body(lower_body: str) -> str:
    """EIP-55: uppercase the i-th hex letter when nibble i of keccak(body) >= 8."""
    digest = _keccak_hex(lower_body.encode("ascii"))
    return "".join(
        ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch
        for i, ch in enumerate(lower_body)
    )


def validate_wallet_address(address: str) -> str:
    """Return the lowercase form of ``address``, or raise ValueError saying why not.

    Accepted: ``0x`` + 40 hex digits, either in one case (no checksum to check)
    or mixed case with a correct EIP-55 checksum. The zero address is a valid
    address here; whether it may receive anything is the caller's rule.
    """
    if not isinstance(address, str):
        raise ValueError(f"wallet address must be a string, got {type(address).__name__}")
    if not _ADDRESS_RE.fullmatch(address):
        raise ValueError(
            f"wallet address {address!r} is not '0x' followed by 40 hex characters"
        )
    body = address[2:]
    if body != body.lower() and body != body.upper():
        expected = _checksum_body(body.lower())
        if body != expected:
            raise ValueError(
                f"wallet address {address!r} fails its EIP-55 checksum "
                f"(mixed case must be exactly 0x{expected}); check for a typo"
            )
    return "0x" + body.lower()


def to_checksum_address(address: str) -> str:
    """EIP-55 checksummed form of ``address`` (validated first)."""
    lower = validate_wallet_address(address)
    return "0x" + _checksum_body(lower[2:])
