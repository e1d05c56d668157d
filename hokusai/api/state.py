"""What every request shares: settings, the database, the pepper, the limiter, the store, the registry."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from hokusai.api.throttle import RateLimiter
from hokusai.contribution_status import RunState
from hokusai.settings import Settings


def read_engine_for(engine: Any) -> Any:
    """An engine for the hot path's reads. The ledger's SQLite engine begins every transaction
    IMMEDIATE (it takes the write lock so read-then-write cannot deadlock); a key check only
    reads, and under WAL plain reads never wait for a writer. PostgreSQL needs no second engine."""
    if engine.dialect.name != "sqlite":
        return engine
    from sqlalchemy import create_engine

    return create_engine(engine.url, connect_args={"timeout": 30})


@dataclass
class ApiState:
    settings: Settings
    engine: Any
    pepper: bytes
    limiter: RateLimiter
    run_state: RunState | None = None
    read_engine: Any = None  # reads only (key checks, claim lookups): see ``read_engine_for``
    key_cache: Any = None  # hokusai.api.keys.KeyCache: verified keys' rows, HOKUSAI_API_KEY_CACHE_SECONDS
    _db_threads: Any = None
    _registry: Any = None
    _store: Any = None
    _dspy_executor: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def inline_reads(self) -> bool:
        """On the embedded default (SQLite in WAL mode, a local drop folder) a key check or a
        status read is a sub-millisecond local read that never waits for a writer: it runs on
        the event loop, since a thread hop costs more (measured: 5.5 ms vs 16.6 ms a request on
        the loaded 2-core machine). PostgreSQL or S3 mean network waits: those go to threads."""
        return self.read_engine.dialect.name == "sqlite" and not self.settings.s3_bucket

    @property
    def remote_run_states(self) -> bool:
        """Run states come from the deployment's Dagster instance (DAGSTER_HOME): PostgreSQL, a network wait."""
        return self.run_state is not None and self.settings.dagster_instance_home is not None

    async def db(self, function: Any, *args: Any, network: bool = False) -> Any:
        """Run a short database or file read: inline (see ``inline_reads``) unless it waits on the
        ``network``, else in a small, dedicated thread pool — a few threads, not the default forty,
        which starve the loop."""
        import anyio
        import anyio.to_thread

        if self.inline_reads and not network:
            return function(*args)

        if self._db_threads is None:
            self._db_threads = anyio.CapacityLimiter(4)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._db_threads)

    @property
    def registry(self) -> Any:
        """The SDK registry on the platform's tracking URI, built on first use (importing MLflow is slow)."""
        with self._lock:
            if self._registry is None:
                from hokusai.core import ModelRegistry

                self._registry = ModelRegistry(self.settings.mlflow_tracking_uri, self.settings.mlflow_artifact_root,
                                               self.settings.cache_dir)
            return self._registry

    @property
    def dspy_executor(self) -> Any:
        """The executor of the DSPy programs served (``HOKUSAI_DSPY_PROGRAMS_DIR``), built on first use:
        DSPy is imported only when its route is called."""
        with self._lock:
            if self._dspy_executor is None:
                from hokusai.dspy.service import serving_executor

                self._dspy_executor = serving_executor(self.settings)
            return self._dspy_executor

    @property
    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from hokusai.drops.s3 import contribution_store_for

                self._store = contribution_store_for(self.settings)
            return self._store
