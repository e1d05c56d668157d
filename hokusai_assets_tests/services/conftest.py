"""Servers the settlement tests share: one redis-server and one PostgreSQL 15 per module, and a
fresh ledger database on either kind per test (a module's own fixture of the same name wins)."""

from __future__ import annotations

import uuid

import pytest

from hokusai.harness.servers import postgres, redis_server
from hokusai.settlement.database import sqlite_url


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def client(redis):
    """A client of an emptied server: no test sees another's queues."""
    client = redis.client()
    client.flushall()
    return client


@pytest.fixture(scope="module")
def postgres_server():
    with postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path) -> str:
    """The URL of an empty database for this test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "ledger.db")
    server = request.getfixturevalue("postgres_server")
    name = f"ledger_{uuid.uuid4().hex[:8]}"
    server.create_database(name)
    return server.url(name)
