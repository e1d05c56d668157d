"""Sign-In with Ethereum (EIP-4361): parse the message, check it, recover its signer.

The checks: the domain and URI are this API's, the version is 1, the chain id is
the platform's, ``Issued At`` is no older than the nonce's life (and not in the
future), ``Expiration Time`` (if any) has not passed and ``Not Before`` (if any)
has; the signature (EIP-191 personal_sign) recovers to the message's address. Only
then is the nonce consumed, atomically, by the caller's ``consume_nonce``: a replay
of the same signed message fails there, and nobody can burn someone else's nonce
with a bad signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from hokusai.rules.wallets import to_checksum_address

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
NONCE_SECONDS = 300
CLOCK_SKEW_SECONDS = 30
MAX_MESSAGE_CHARS = 4096
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE = re.compile(r"[A-Za-z0-9]{8,64}")
_FIELD = re.compile(r"(URI|Version|Chain ID|Nonce|Issued At|Expiration Time|Not Before|Request ID): (.*)")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")


class SiweError(ValueError):
    """The message or signature is not acceptable; the text says what to fix."""


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)


def _time(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SiweError(f"{name} is not an RFC 3339 date-time: {text[:40]!r}") from None
    if value.tzinfo is None:
        raise SiweError(f"{name} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return value


def parse_message(text: str) -> SiweMessage:
    """The fields of an EIP-4361 message; SiweError naming the first thing that is wrong."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise SiweError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0].endswith(HEADER_SUFFIX):
        raise SiweError(f"the first line must be '<domain>{HEADER_SUFFIX}'")
    domain = lines[0][: -len(HEADER_SUFFIX)]
    if not domain or " " in domain:
        raise SiweError("the message names no domain")
    if not _ADDRESS.fullmatch(lines[1]):
        raise SiweError("the second line must be the 0x-prefixed 40-hex-digit address")
    address = lines[1]
    if address != to_checksum_address(address):
        raise SiweError("the address must be in its EIP-55 checksum form")
    rest = lines[2:]
    statement_lines = []
    index = 0
    while index < len(rest) and not _FIELD.fullmatch(rest[index]):
        if rest[index]:
            statement_lines.append(rest[index])
        index += 1
    fields: dict[str, str] = {}
    resources: list[str] = []
    for line in rest[index:]:
        matched = _FIELD.fullmatch(line)
        if matched:
            if matched.group(1) in fields:
                raise SiweError(f"{matched.group(1)} appears twice")
            fields[matched.group(1)] = matched.group(2)
        elif line == "Resources:":
            continue
        elif line.startswith("- "):
            resources.append(line[2:])
        elif line:
            raise SiweError(f"unexpected line in the message: {line[:60]!r}")
    for required in ("URI", "Version", "Chain ID", "Nonce", "Issued At"):
        if required not in fields:
            raise SiweError(f"the message has no '{required}:' line")
    if not fields["Chain ID"].isdigit():
        raise SiweError("Chain ID must be a decimal integer")
    if not _NONCE.fullmatch(fields["Nonce"]):
        raise SiweError("Nonce must be 8-64 letters and digits")
    return SiweMessage(
        domain=domain, address=address, statement="\n".join(statement_lines) or None, uri=fields["URI"],
        version=fields["Version"], chain_id=int(fields["Chain ID"]), nonce=fields["Nonce"],
        issued_at=_time("Issued At", fields["Issued At"]),
        expiration_time=_time("Expiration Time", fields["Expiration Time"]) if "Expiration Time" in fields else None,
        not_before=_time("Not Before", fields["Not Before"]) if "Not Before" in fields else None,
        request_id=fields.get("Request ID"), resources=tuple(resources),
    )


def check_message(message: SiweMessage, *, domain: str, uri: str, chain_id: int, now: datetime) -> None:
    """Everything about the message but its nonce and signature."""
    if message.domain != domain:
        raise SiweError(f"the message is for domain {message.domain!r}; sign in for {domain!r}")
    if message.uri != uri:
        raise SiweError(f"the message URI is {message.uri!r}; it must be {uri!r}")
    if message.version != "1":
        raise SiweError("Version must be 1")
    if message.chain_id != chain_id:
        raise SiweError(f"the message is for chain {message.chain_id}; this platform is on chain {chain_id}")
    age = (now - message.issued_at).total_seconds()
    if age < -CLOCK_SKEW_SECONDS:
        raise SiweError("Issued At is in the future")
    if age > NONCE_SECONDS:
        raise SiweError(f"the message was issued {int(age)} s ago; sign a fresh one (at most {NONCE_SECONDS} s)")
    if message.expiration_time is not None and message.expiration_time <= now:
        raise SiweError("the message has expired (Expiration Time has passed)")
    if message.not_before is not None and message.not_before > now + _skew():
        raise SiweError("the message is not valid yet (Not Before is in the future)")


def _skew():
    from datetime import timedelta

    return timedelta(seconds=CLOCK_SKEW_SECONDS)


def recover_signer(text: str, signature: str) -> str:
    """The EIP-55 address that signed ``text`` with personal_sign (EIP-191)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    if not _SIGNATURE.fullmatch(signature):
        raise SiweError("the signature must be 0x followed by 130 hex digits (65 bytes r||s||v)")
    try:
        return Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # eth-account raises several types for a bad v or an invalid point
        raise SiweError("the signature does not recover to any address") from None


def verify_sign_in(text: str, signature: str, *, domain: str, uri: str, chain_id: int,
                   consume_nonce: Callable[[str], bool], now: datetime | None = None) -> SiweMessage:
    """Check a sign-in end to end; returns the message whose signer is its address."""
    now = now or datetime.now(timezone.utc)
    message = parse_message(text)
    check_message(message, domain=domain, uri=uri, chain_id=chain_id, now=now)
    signer = recover_signer(text, signature)
    if signer != message.address:
        raise SiweError("the signature was not made by the message's address")
    if not consume_nonce(message.nonce):
        raise SiweError("the nonce is unknown, expired or already used; ask for a new one")
    return message
