"""What every request shares: settings, the database, the pepper, the limiter, the store, the registry."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from hokusai.api.throttle import RateLimiter
from hokusai.contribution_status import RunState
from hokusai.settings import Settings


@dataclass
class ApiState:
    settings: Settings
    engine: Any
    pepper: bytes
    limiter: RateLimiter
    run_state: RunState | None = None
    _registry: Any = None
    _store: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from hokusai.s3_store import contribution_store_for

                self._store = contribution_store_for(self.settings)
            return self._store
