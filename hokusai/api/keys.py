"""API keys: created once and shown once, stored only as a keyed hash, with expiry and revocation.

A key reads ``hk_<prefix>_<secret>``. The prefix (8 characters, shown by ``hokusai
api-key list``) names the key and finds its row; the whole key is hashed with
HMAC-SHA256 under the pepper and compared in constant time. The table lives in the
platform's database (``hokusai.settlement.database``): SQLite on the embedded
default, PostgreSQL in production.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, String, Table, Text, bindparam, insert, select, update

from hokusai.api.pepper import derive
from hokusai.api.scopes import parse_scopes
from hokusai.settlement.database import METADATA

KEY_PREFIX = "hk_"
_PREFIX_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"  # no l, 0, 1: read aloud without confusion
_KEY = re.compile(r"hk_([a-z2-9]{8})_([A-Za-z0-9_-]{43})")
MAX_NAME_CHARS = 100

api_keys = Table(
    "api_keys", METADATA,
    Column("prefix", String(16), primary_key=True),
    Column("name", String(MAX_NAME_CHARS), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),  # comma-separated, sorted
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),  # None: never
    Column("revoked_at", Float),
)


class KeyRejected(Exception):
    """Why a presented key does not authenticate; the message never contains the key."""


@dataclass(frozen=True)
class ApiKey:
    prefix: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    @property
    def display_prefix(self) -> str:
        return f"{KEY_PREFIX}{self.prefix}"

    def state(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _key_hash(key_secret: bytes, key: str) -> str:
    return hmac.new(key_secret, key.encode("ascii"), hashlib.sha256).hexdigest()


def _record(row: Any) -> ApiKey:
    return ApiKey(row.prefix, row.name, tuple(row.scopes.split(",")), row.created_at, row.expires_at, row.revoked_at)


def create_key(engine: Any, pepper: bytes, name: str, scopes: str | tuple[str, ...],
               expires_days: float | None = None, now: float | None = None) -> tuple[str, ApiKey]:
    """A new key: returns (the key itself, to show once; its record)."""
    now = time.time() if now is None else now
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or any(ord(c) < 32 for c in name):
        raise ValueError(f"a key name is 1-{MAX_NAME_CHARS} printable characters")
    chosen = parse_scopes(scopes if isinstance(scopes, str) else ",".join(scopes))
    if expires_days is not None and not expires_days > 0:
        raise ValueError("--expires-days must be positive")
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = None if expires_days is None else now + expires_days * 86400
    with engine.begin() as connection:
        connection.execute(insert(api_keys).values(
            prefix=prefix, name=name, key_hash=_key_hash(derive(pepper, "key-hash"), key),
            scopes=",".join(chosen), created_at=now, expires_at=expires_at, revoked_at=None))
    return key, ApiKey(prefix, name, chosen, now, expires_at, None)


def list_keys(engine: Any) -> list[ApiKey]:
    with engine.connect() as connection:
        rows = connection.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.prefix))
        return [_record(row) for row in rows]


def _bare_prefix(prefix: str) -> str:
    prefix = prefix.strip()
    return prefix[len(KEY_PREFIX):] if prefix.startswith(KEY_PREFIX) else prefix


def revoke_key(engine: Any, prefix: str, now: float | None = None) -> ApiKey:
    """Revoke the key with this display prefix (``hk_xxxxxxxx`` or bare); KeyError if none."""
    now = time.time() if now is None else now
    bare = _bare_prefix(prefix)
    with engine.begin() as connection:
        row = connection.execute(select(api_keys).where(api_keys.c.prefix == bare)).one_or_none()
        if row is None:
            raise KeyError(f"no API key with prefix {KEY_PREFIX}{bare}")
        if row.revoked_at is None:
            connection.execute(update(api_keys).where(api_keys.c.prefix == bare).values(revoked_at=now))
        row = connection.execute(select(api_keys).where(api_keys.c.prefix == bare)).one()
    return _record(row)


class KeyCache:
    """Rows of keys that verified, kept ``seconds`` (per API process) so a busy key is not read from
    the database on every request. The bound this puts on revocation: a key revoked elsewhere (the
    CLI, another process) is refused by every process at most ``seconds`` later. Only rows that
    verified are kept (an unknown prefix is read each time), the HMAC is checked on every request,
    and expiry is compared with the clock each time. ``seconds`` 0: no cache."""

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._rows: dict[str, tuple[float, Any]] = {}

    def get(self, prefix: str, now: float) -> Any | None:
        entry = self._rows.get(prefix)
        if entry is None or now - entry[0] >= self.seconds:
            return None
        return entry[1]

    def put(self, prefix: str, row: Any, now: float) -> None:
        if self.seconds <= 0:
            return
        if len(self._rows) >= self.MAX_ENTRIES:
            self._rows.clear()
        self._rows[prefix] = (now, row)


_PREFIX_QUERY = select(api_keys).where(api_keys.c.prefix == bindparam("prefix"))


def verify_key(engine: Any, pepper: bytes, presented: str, now: float | None = None,
               cache: KeyCache | None = None) -> ApiKey:
    """The key's record if ``presented`` is an active key; KeyRejected saying why otherwise."""
    match = _KEY.fullmatch(presented)
    if match is None:
        raise KeyRejected("malformed API key: expected hk_<8 characters>_<43 characters>")
    prefix = match.group(1)
    read_at = time.monotonic()
    row = cache.get(prefix, read_at) if cache is not None else None
    cached = row is not None
    if row is None:
        with engine.connect() as connection:
            row = connection.execute(_PREFIX_QUERY, {"prefix": prefix}).one_or_none()
    expected = row.key_hash if row is not None else "0" * 64
    matches = hmac.compare_digest(expected, _key_hash(derive(pepper, "key-hash"), presented))
    if row is None or not matches:
        raise KeyRejected("unknown API key")
    record = _record(row)
    state = record.state(now)
    if state != "active":
        raise KeyRejected(f"API key {record.display_prefix} is {state}")
    if cache is not None and not cached:
        cache.put(prefix, row, read_at)
    return record
