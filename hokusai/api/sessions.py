"""Wallet sessions: single-use sign-in nonces in the database, and short-lived session tokens.

A nonce is a row that lives 5 minutes; consuming it is one ``DELETE`` whose row
count says whether this caller got it, so two concurrent verifications of the same
message (in any number of API processes) cannot both succeed. A session token is
``hks_<payload>.<mac>``: the address, scopes and expiry, MACed with a key derived
from the pepper. It is stateless and short-lived (``HOKUSAI_SIWE_SESSION_SECONDS``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, String, Table, delete, insert

from hokusai.api.pepper import derive
from hokusai.api.scopes import CONTRIBUTOR_SCOPES
from hokusai.api.siwe import NONCE_SECONDS
from hokusai.settlement.database import METADATA

SESSION_PREFIX = "hks_"
_TOKEN = re.compile(r"hks_([A-Za-z0-9_-]{1,512})\.([A-Za-z0-9_-]{43})")

siwe_nonces = Table(
    "api_siwe_nonces", METADATA,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False, index=True),
)


class SessionRejected(Exception):
    """Why a session token does not authenticate."""


@dataclass(frozen=True)
class Session:
    address: str  # EIP-55
    scopes: tuple[str, ...]
    expires_at: float


def issue_nonce(engine: Any, now: float | None = None) -> tuple[str, float]:
    """A fresh nonce and its expiry; expired nonces are swept on the way."""
    now = time.time() if now is None else now
    nonce = secrets.token_hex(16)
    with engine.begin() as connection:
        connection.execute(delete(siwe_nonces).where(siwe_nonces.c.expires_at <= now))
        connection.execute(insert(siwe_nonces).values(nonce=nonce, expires_at=now + NONCE_SECONDS))
    return nonce, now + NONCE_SECONDS


def consume_nonce(engine: Any, nonce: str, now: float | None = None) -> bool:
    """True exactly once per issued, unexpired nonce."""
    now = time.time() if now is None else now
    with engine.begin() as connection:
        result = connection.execute(delete(siwe_nonces).where(
            siwe_nonces.c.nonce == nonce, siwe_nonces.c.expires_at > now))
        return result.rowcount == 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_session(pepper: bytes, address: str, lifetime_seconds: int, now: float | None = None,
                  not_after: float | None = None) -> tuple[str, Session]:
    """A session token for ``address`` with the contributor scopes; it ends no later than ``not_after``."""
    now = time.time() if now is None else now
    expires_at = now + lifetime_seconds if not_after is None else min(now + lifetime_seconds, not_after)
    payload = _b64(json.dumps({"a": address, "s": list(CONTRIBUTOR_SCOPES), "e": int(expires_at),
                               "n": secrets.token_hex(8)}, separators=(",", ":")).encode())
    mac = _b64(hmac.new(derive(pepper, "session"), payload.encode("ascii"), hashlib.sha256).digest())
    return f"{SESSION_PREFIX}{payload}.{mac}", Session(address, CONTRIBUTOR_SCOPES, float(int(expires_at)))


def verify_session(pepper: bytes, token: str, now: float | None = None) -> Session:
    now = time.time() if now is None else now
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise SessionRejected("malformed session token")
    payload, mac = match.groups()
    expected = _b64(hmac.new(derive(pepper, "session"), payload.encode("ascii"), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, mac):
        raise SessionRejected("session token signature does not match")
    try:
        claims = json.loads(_unb64(payload))
        session = Session(str(claims["a"]), tuple(str(s) for s in claims["s"]), float(claims["e"]))
    except (ValueError, KeyError, TypeError):
        raise SessionRejected("malformed session token") from None
    if session.expires_at <= now:
        raise SessionRejected("session expired; sign in again")
    return session
