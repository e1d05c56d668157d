"""The key store and sign-in nonces on both databases: SQLite (embedded default) and PostgreSQL
(production) — create, verify, revoke, expire; a nonce is good once and only for 5 minutes, also
when many threads race for it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hokusai.api import keys, sessions
from hokusai.api.siwe import NONCE_SECONDS
from hokusai.settlement.database import dispose_engines, ledger_engine

PEPPER = b"p" * 32


@pytest.fixture
def engine(ledger_url):
    """An empty database of either kind (``ledger_url``, services/conftest.py)."""
    yield ledger_engine(ledger_url)
    dispose_engines()


def test_create_verify_revoke_expire(engine):
    secret, record = keys.create_key(engine, PEPPER, "ci", "mlflow:read,models:read", expires_days=1)
    assert keys.verify_key(engine, PEPPER, secret).scopes == ("mlflow:read", "models:read")
    with pytest.raises(keys.KeyRejected, match="unknown"):
        keys.verify_key(engine, b"q" * 32, secret)  # another pepper: the stored hash does not match
    with pytest.raises(keys.KeyRejected, match="expired"):
        keys.verify_key(engine, PEPPER, secret, now=time.time() + 2 * 86400)
    keys.revoke_key(engine, record.display_prefix)
    with pytest.raises(keys.KeyRejected, match="revoked"):
        keys.verify_key(engine, PEPPER, secret)
    assert [k.state() for k in keys.list_keys(engine)] == ["revoked"]
    with pytest.raises(KeyError):
        keys.revoke_key(engine, "hk_zzzzzzzz")
    for bad_scopes in ("", "models:read,everything", "admin*"):
        with pytest.raises(ValueError):
            keys.create_key(engine, PEPPER, "x", bad_scopes)


def test_a_nonce_is_good_once_and_for_five_minutes(engine):
    nonce, expires_at = sessions.issue_nonce(engine, now=1000.0)
    assert expires_at == 1000.0 + NONCE_SECONDS
    assert sessions.consume_nonce(engine, nonce, now=1000.0 + NONCE_SECONDS) is False  # expired
    fresh, _ = sessions.issue_nonce(engine)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: sessions.consume_nonce(engine, fresh), range(8)))
    assert results.count(True) == 1
    assert sessions.consume_nonce(engine, "never-issued") is False


def test_session_tokens_expire_and_cannot_be_forged():
    token, session = sessions.issue_session(PEPPER, "0x" + "ab" * 20, 60, now=1000.0)
    assert sessions.verify_session(PEPPER, token, now=1030.0).address == session.address
    with pytest.raises(sessions.SessionRejected, match="expired"):
        sessions.verify_session(PEPPER, token, now=1061.0)
    with pytest.raises(sessions.SessionRejected, match="signature"):
        sessions.verify_session(b"q" * 32, token, now=1030.0)
    payload, mac = token[len("hks_"):].split(".")
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["s"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(sessions.SessionRejected):
        sessions.verify_session(PEPPER, f"hks_{forged}.{mac}", now=1030.0)
