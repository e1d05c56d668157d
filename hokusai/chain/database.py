"""The platform's own SQL database: SQLite under the state folder, PostgreSQL in production.

One engine per URL and process. SQLite runs in WAL mode with a busy timeout, so two
``hokusai evaluate`` processes wait for each other instead of failing. Tables are
created on first use; two processes creating them at once both end with the tables.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData

_ENGINES: dict[str, "Engine"] = {}
_CREATED: set[tuple[str, int]] = set()
_LOCK = threading.Lock()
BUSY_TIMEOUT_SECONDS = 60


def engine_for(url: str, metadata: "MetaData") -> "Engine":
    """The engine for ``url``, with ``metadata``'s tables created if missing."""
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _new_engine(url)
        if (url, id(metadata)) not in _CREATED:
            _create_tables(engine, metadata)
            _CREATED.add((url, id(metadata)))
        return engine


def _new_engine(url: str) -> "Engine":
    from sqlalchemy import create_engine, event

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")  # SQLAlchemy 2.1 would pick psycopg 3
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    from pathlib import Path

    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record):  # noqa: ANN001 - DB-API connection
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    return engine


def _create_tables(engine: "Engine", metadata: "MetaData") -> None:
    """``create_all``, tolerating another process creating the same tables at the same moment."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(3):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == 2:
                raise  # not a race: a real error
