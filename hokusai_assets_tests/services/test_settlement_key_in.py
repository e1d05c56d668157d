"""``key_in`` on SQLite and a real PostgreSQL 15: the keys travel as one parameter (a JSON array, a
text array literal), and any text is a key like another, however it would read in that literal. And
``fetch_all``, the tick's driver-level read, gives the rows SQLAlchemy gives, with either driver's
parameter style."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, select

from hokusai.settlement.database import fetch_all, key_in

AWKWARD = ["plain", "with,comma", "{braces}", 'a "quote"', "back\\slash", "tail\\", "NULL", "", " spaced ",
           "ünïcode", "'single'"]
metadata = MetaData()
keys_table = Table("key_in_probe", metadata, Column("key", String(64), primary_key=True))


@pytest.fixture
def engine(ledger_url):
    """A new SQLite or PostgreSQL database (the services conftest's ``ledger_url``) with the probe table."""
    engine = create_engine(ledger_url)
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(keys_table.insert(), [{"key": key} for key in [*AWKWARD, "other", "null"]])
    yield engine
    engine.dispose()


@pytest.mark.parametrize("wanted", [AWKWARD, AWKWARD[3:5], ["NULL"], [], ["absent", "with"]])
def test_every_key_matches_itself_and_nothing_else(engine, wanted):
    with engine.connect() as connection:
        found = connection.execute(select(keys_table.c.key).where(
            key_in(keys_table.c.key, wanted, engine.dialect.name))).scalars().all()
    assert sorted(found) == sorted(set(wanted) & {*AWKWARD, "other", "null"})


def test_postgresql_gets_one_array_constant_not_one_per_key():
    from sqlalchemy.dialects import postgresql

    statement = select(keys_table.c.key).where(key_in(keys_table.c.key, ["a", "b", "c"], "postgresql"))
    sql = str(statement.compile(dialect=postgresql.psycopg2.dialect(), compile_kwargs={"literal_binds": True}))
    assert "'{\"a\",\"b\",\"c\"}'" in sql and "ARRAY[" not in sql


@pytest.mark.parametrize("wanted", [AWKWARD, ["NULL", "other"], []])
def test_fetch_all_reads_what_sqlalchemy_reads(engine, wanted):
    """Several bound values in one query (positional ``?`` on SQLite, named on PostgreSQL), in order."""
    query = (select(keys_table.c.key).where(key_in(keys_table.c.key, wanted, engine.dialect.name))
             .where(keys_table.c.key != "with,comma").order_by(keys_table.c.key).limit(5))
    with engine.begin() as connection:
        expected = [tuple(row) for row in connection.execute(query).all()]
        assert fetch_all(connection, query) == expected
    assert len(expected) == min(5, len(set(wanted) - {"with,comma"}))
