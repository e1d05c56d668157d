"""``write_many`` on SQLite and a real PostgreSQL 15: rows of any text, NULLs, integers and floats are
inserted and updated exactly (on PostgreSQL they travel as one text-array literal per column, read by
``unnest``), and a text too long for its column is refused, not cut."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table, Text, create_engine, select

from hokusai.settlement.database import _array_literal, write_many

AWKWARD = ["plain", "with,comma", "{braces}", 'a "quote"', "back\\slash", "tail\\", "NULL", "", " spaced ",
           "ünïcode", "'single'", "new\nline", "tab\there", "%s and %(name)s"]
metadata = MetaData()
probe = Table("write_many_probe", metadata, Column("key", String(64), primary_key=True), Column("short", String(8)),
              Column("body", Text), Column("count", Integer), Column("big", BigInteger), Column("at", Float))
COLUMNS = ("key", "short", "body", "count", "big", "at")


@pytest.fixture
def engine(ledger_url):
    """A new SQLite or PostgreSQL database (the services conftest's ``ledger_url``) with the probe table."""
    engine = create_engine(ledger_url)
    with engine.begin() as connection:
        metadata.create_all(connection)
    yield engine
    engine.dispose()


def _rows():
    """Each awkward text as a key and a body; NULLs here and there, whole columns of one value or of NULL."""
    return [(f"k{i}-{text}", text[:8] if i % 3 else None, text, i if i % 4 else None, 2**62 + i,
             1_800_000_000.123456789 + i / 7) for i, text in enumerate(AWKWARD)]


def _read(engine):
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(probe).order_by(probe.c.key)))


def test_rows_are_inserted_and_updated_exactly(engine):
    rows = _rows()
    with engine.begin() as connection:
        write_many(connection, probe, COLUMNS, rows)
    assert _read(engine) == sorted(rows)
    # an update of every row; one column NULL throughout, one of a single value, text moved between rows
    updated = [(None, AWKWARD[-1 - i], 7, -(2**63), 0.1, key) for i, (key, *_rest) in enumerate(rows)]
    with engine.begin() as connection:
        write_many(connection, probe, COLUMNS[1:], updated, key="key")
    assert _read(engine) == sorted((key, *values) for *values, key in updated)


@pytest.mark.parametrize("values", [[None], [None, None], ["NULL", None, 'a"b', "c\\d", 1.5, 7], ["x"] * 3, []])
def test_the_array_literal_reads_back_as_its_values(values, postgres_server):
    """None is NULL and the text NULL is text; numbers are their text (PostgreSQL's own reading)."""
    engine = create_engine(postgres_server.url("postgres"))
    with engine.connect() as connection:
        read = connection.exec_driver_sql("SELECT %(a)s::text[]", {"a": _array_literal(values)}).scalar()
    engine.dispose()
    assert read == [None if value is None else str(value) for value in values]


def test_a_text_too_long_for_its_column_is_refused_not_cut(engine):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(Exception, match="too long"):
        with engine.begin() as connection:
            write_many(connection, probe, COLUMNS, [("k", "nine char", None, None, None, None)])
    with engine.begin() as connection:
        write_many(connection, probe, COLUMNS, [("k", "eight ch", None, None, None, None)])
    with pytest.raises(Exception, match="too long"):
        with engine.begin() as connection:
            write_many(connection, probe, ("short",), [("nine char", "k")], key="key")
    assert _read(engine) == [("k", "eight ch", None, None, None, None)]
