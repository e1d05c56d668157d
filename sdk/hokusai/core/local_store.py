"""The embedded MLflow store: a SQLite file, created from a cached empty copy.

Creating an MLflow SQLite database runs every schema migration (about 4 s here);
an empty, fully migrated database is built once per MLflow version under the
cache folder and copied for each new store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib.util import find_spec
from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    return Path(tracking_uri[len(SQLITE_PREFIX):]) if tracking_uri.startswith(SQLITE_PREFIX) else None


def prepare_sqlite_store(tracking_uri: str, cache_dir: Path) -> None:
    """Make sure a SQLite tracking store exists, copying the cached empty database if it does not."""
    database = sqlite_path(tracking_uri)
    if database is None:
        return
    require_sql_store(tracking_uri)
    if database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    template = _empty_database(Path(cache_dir))
    staged = database.with_name(f".{database.name}.{os.getpid()}.tmp")
    shutil.copyfile(template, staged)
    try:  # a link, not a rename: a store another process created meanwhile, and may be writing, is kept
        os.link(staged, database)
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not database.exists():
            os.replace(staged, database)
    finally:
        staged.unlink(missing_ok=True)


def require_sql_store(tracking_uri: str) -> None:
    """A SQLite store needs MLflow's SQL store (SQLAlchemy, Alembic): the full ``mlflow``
    distribution, not ``mlflow-skinny`` alone. Say so, rather than fail deep in MLflow."""
    missing = [name for name in ("sqlalchemy", "alembic") if find_spec(name) is None]
    if missing:
        raise ValueError(
            f"tracking URI {tracking_uri} is a local SQLite store, which needs MLflow's SQL store "
            f"({', '.join(missing)} not installed): install the SDK with its 'local' extra "
            "(pip install 'hokusai-sdk[local]'), or use an MLflow server URI (http://host:port)")


def _empty_database(cache_dir: Path) -> Path:
    import mlflow

    template = cache_dir / f"mlflow-{mlflow.__version__}-empty.db"
    if template.exists():
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        staged = Path(scratch) / "empty.db"
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

        import logging

        for name in ("mlflow.store.db.utils", "alembic"):  # "Creating initial tables..." is not news
            logging.getLogger(name).setLevel(logging.WARNING)
        uri = f"{SQLITE_PREFIX}{staged}"
        TrackingStore(uri, (Path(scratch) / "artifacts").as_uri()).engine.dispose()
        RegistryStore(uri).engine.dispose()
        os.replace(staged, template)
    return template
