"""The embedded MLflow store is created once: a second process starting at the same moment keeps
the first one's store (which may already hold its runs) instead of replacing it with an empty copy."""

import sqlite3

import pytest

from hokusai.core import local_store


@pytest.fixture
def template(tmp_path, monkeypatch):
    """A stand-in for the migrated empty database (building the real one takes seconds)."""
    path = tmp_path / "cache" / "empty.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE experiments (name TEXT)")
    monkeypatch.setattr(local_store, "_empty_database", lambda cache_dir: path)
    return path


def test_a_new_store_is_the_empty_database(tmp_path, template):
    database = tmp_path / "state" / "mlflow.db"
    local_store.prepare_sqlite_store(f"sqlite:///{database}", tmp_path / "cache")
    assert database.read_bytes() == template.read_bytes()
    assert [p.name for p in database.parent.iterdir()] == ["mlflow.db"]  # no staged copy left behind


def test_a_store_created_by_another_process_meanwhile_is_kept(tmp_path, template, monkeypatch):
    database = tmp_path / "state" / "mlflow.db"
    copy = local_store.shutil.copyfile

    def copy_while_another_process_creates_the_store(source, target):
        copy(source, target)
        with sqlite3.connect(database) as connection:  # the other process won, and wrote a run
            connection.execute("CREATE TABLE runs (id TEXT)")
            connection.execute("INSERT INTO runs VALUES ('theirs')")

    monkeypatch.setattr(local_store.shutil, "copyfile", copy_while_another_process_creates_the_store)
    local_store.prepare_sqlite_store(f"sqlite:///{database}", tmp_path / "cache")
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT id FROM runs").fetchall() == [("theirs",)]
    assert [p.name for p in database.parent.iterdir()] == ["mlflow.db"]


def test_an_existing_store_is_left_alone(tmp_path, template):
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"")
    local_store.prepare_sqlite_store(f"sqlite:///{database}", tmp_path / "cache")
    assert database.read_bytes() == b""
