"""The platform's own SQL database (claims outbox now, the lineage chain's tables later).

SQLite file under the state folder on the embedded default, PostgreSQL in
production (``postgresql+psycopg2://``: SQLAlchemy 2.1 would pick psycopg 3 for a
bare ``postgresql://``, which Dagster and MLflow cannot use). Every module that
owns tables declares them on ``METADATA``; ``ledger_engine(url)`` creates the missing ones,
idempotently, even when two processes start at once: on SQLite every transaction
begins ``IMMEDIATE`` (one writer, the other waits on the busy timeout), on
PostgreSQL creation runs under a transaction-scoped advisory lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

METADATA = MetaData()
# Schema upgrades of ledgers made by older code: run by ``create_tables``, in order, in its transaction,
# before it creates the indexes missing on existing tables.
UPGRADES: list[Callable[[Any], None]] = []
SQLITE_BUSY_TIMEOUT_MS = 30_000
_CREATE_LOCK_ID = 0x686F6B75  # "hoku": any fixed 64-bit number shared by every process


def make_engine(url: str) -> Any:
    """An engine for ``url``; SQLite gets WAL, durable commits, a busy timeout and IMMEDIATE transactions."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection, _record):  # noqa: ANN001
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _enter_wal(cursor)
            # FULL: a commit is on disk (the WAL fsynced) before it returns. Other systems act on our
            # commits (a settlement leaves Redis once applied, a claim is pushed once recorded); with
            # NORMAL a power loss could undo a commit they already acted on (docs/claims.md, "Durability").
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):  # noqa: ANN001
            # Take the write lock up front: a deferred transaction that reads, then writes,
            # can fail with "database is locked" at once instead of waiting its turn.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername != "postgresql+psycopg2":
            raise ValueError("a PostgreSQL ledger URL must start with postgresql+psycopg2:// "
                             f"(got the {parsed.drivername} driver)")
        # values_plus_batch: an UPDATE executemany goes in pages of rows (psycopg2's execute_batch),
        # not one round trip per row (a settlement tick updates up to 10,000 claims at once)
        return create_engine(url, pool_pre_ping=True, executemany_mode="values_plus_batch")
    raise ValueError(f"unsupported ledger database {parsed.get_backend_name()!r}: use sqlite or postgresql+psycopg2")


def _enter_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried while the database is locked: on a new ledger that several
    processes open at once, the switch can answer "database is locked" at once, without the busy
    handler's wait (measured: 1 start in ~10 of four processes failed so). WAL then stays in the file."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def key_in(column: Any, keys: Sequence[str], dialect: str) -> Any:
    """``column IN keys`` with the keys bound as one parameter, however many there are.

    SQLAlchemy binds each value of a plain ``in_`` separately, which costs more than the
    query for a tick's thousands of keys; SQLite reads one JSON array (``json_each``),
    PostgreSQL one text array literal (``= ANY('{…}'::varchar[])``): psycopg2 writes a Python list
    into the SQL text as ``ARRAY['…', …]``, thousands of constants for the server to parse one by one.
    """
    import json

    from sqlalchemy import ARRAY, String, any_, bindparam, cast, literal_column, select
    from sqlalchemy import func

    if dialect == "postgresql":
        return column == any_(cast(bindparam(None, _array_literal(keys), type_=String), ARRAY(String)))
    return column.in_(select(literal_column("value")).select_from(
        func.json_each(bindparam(None, json.dumps(list(keys)), type_=String))))


def fetch_all(connection: Any, query: Any) -> list[tuple]:
    """``query``'s rows as plain tuples, read through the driver's cursor in ``connection``'s transaction.

    For the queries of a settlement tick, which read 10,000 rows: SQLAlchemy's ``Row`` objects and
    result processing cost about as much as the database's own work. Bound values go to the driver
    as they are (no type processing), so ``query`` binds text and numbers only; columns come back as
    the driver gives them.
    """
    compiled = query.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    if compiled.positiontup is not None:  # SQLite's ``?``: the values in their order
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = connection.connection.cursor()  # the DBAPI connection, in this transaction
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def _array_literal(values: Sequence[Any]) -> str:
    """PostgreSQL's text form of an array of ``values``: None is NULL, any other value its text
    double-quoted, ``\\`` and ``"`` escaped, so a comma, a brace, a space or the word NULL is an element
    like any other. A float's text is Python's shortest exact one, read back to the same number.

    A tick writes columns of 10,000 values: a column with no NULL and nothing to escape (most of them)
    is joined in one call, not escaped element by element."""
    values = list(values)
    nulls = values.count(None)
    if nulls == len(values):
        return "{" + ",".join(["NULL"] * nulls) + "}"
    if not nulls:  # one value throughout (a tick's time) is written once: a float's text costs ~1 µs
        same = values.count(values[0]) == len(values)
        joined = '","'.join([str(values[0])] * len(values) if same else map(str, values))
        if "\\" not in joined and '"' not in joined:
            return '{"' + joined + '"}'
    return "{" + ",".join("NULL" if value is None else
                          '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values) + "}"


def write_many(connection: Any, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]],
               key: str | None = None) -> None:
    """INSERT ``rows`` (values in ``columns``' order) into ``table``; or with ``key``: UPDATE the row
    whose ``key`` column is each row's last value, setting ``columns`` to the others.

    With ``key``, no two rows have the same key. Sent through the driver: SQLAlchemy's building of
    each row's parameters costs more than the database's own work for the thousands of rows of a
    settlement tick. SQLite takes an ``executemany`` (each statement a call into the library, no
    round trip); PostgreSQL one statement for all rows (``INSERT … SELECT`` or ``UPDATE … FROM``
    the rows as one array parameter per column), not a round trip per page of rows. Values are text,
    numbers (integers within 64 bits) or NULL, stored as SQLAlchemy stores them for these column types.
    """
    if not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    ordered = [*columns, key] if key is not None else list(columns)
    if connection.dialect.name == "postgresql":
        # One text-array literal per column, read by unnest: psycopg2 interpolates parameters into the SQL
        # text, and the server's parsing and planning of 10,000 rows of literals (VALUES, or ARRAY[...])
        # cost more than the UPDATE itself. Arrays of the columns' base types (no length: an assignment
        # to a VARCHAR(n) then refuses a longer value, where a cast would cut it) are read in ~a third of
        # the time json_populate_recordset took over the same rows as one JSON document (bench/RESULTS.md).
        arrays = ", ".join(f"%s::{_base_type(table.c[name].type, connection.dialect)}[]" for name in ordered)
        source = f"unnest({arrays}) AS v({', '.join(quote(c) for c in ordered)})"
        if key is None:
            names = ", ".join(quote(c) for c in columns)
            statement = f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {source}"
        else:
            assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
            statement = (f"UPDATE {quote(table.name)} AS t SET {assignments} FROM {source} "
                         f"WHERE t.{quote(key)} = v.{quote(key)}")
        parameters = tuple(_array_literal([row[i] for row in rows]) for i in range(len(ordered)))
        with connection.connection.cursor() as cursor:  # the DBAPI connection, in this transaction
            cursor.execute(statement, parameters)
        return
    if key is None:
        statement = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                     f"VALUES ({', '.join('?' for _ in columns)})")
    else:
        statement = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = ?' for c in columns)} "
                     f"WHERE {quote(key)} = ?")
    connection.exec_driver_sql(statement, list(rows))


def _base_type(column_type: Any, dialect: Any) -> str:
    """The column's SQL type without its length or precision: ``VARCHAR(16)`` → ``VARCHAR``."""
    return column_type.compile(dialect=dialect).split("(")[0]


def create_tables(engine: Any) -> None:
    """Create every table on ``METADATA`` that is missing and upgrade older ledgers; safe to run from
    many processes at once."""
    from sqlalchemy import text

    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _CREATE_LOCK_ID})
        METADATA.create_all(connection, checkfirst=True)
        for upgrade in UPGRADES:  # each checks whether its ledger needs it: idempotent
            upgrade(connection)
        # an index added to a table created before it: after the upgrades, which may add its column
        for table in METADATA.tables.values():
            for index in table.indexes:
                index.create(connection, checkfirst=True)


def schema_upgrade(function: Callable[[Any], None]) -> Callable[[Any], None]:
    """Register ``function(connection)`` to bring an older ledger up to date (after its missing tables
    are created, under the same lock, in the same transaction: all or nothing)."""
    UPGRADES.append(function)
    return function


_ENGINES: dict[str, tuple[Any, frozenset[str]]] = {}
_LOCK = threading.Lock()


def ledger_engine(url: str) -> Any:
    """The engine for ``url`` (one per URL per process) with every table declared so far in place.

    A module that declares tables on ``METADATA`` is imported before it asks for the engine;
    tables declared after an earlier call are created on the next call.
    """
    with _LOCK:
        engine, created = _ENGINES.get(url) or (make_engine(url), frozenset())
        if set(METADATA.tables) - created:
            create_tables(engine)
            created = frozenset(METADATA.tables)
        _ENGINES[url] = (engine, created)
        return engine


def dispose_engines() -> None:
    """Close every cached engine's connections (tests, and a process about to fork)."""
    with _LOCK:
        for engine, _ in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
