"""Worker processes for the CPU-bound loops of a large contribution.

Hashing a million rows (Merkle leaves, PII tokens, PII checks) is pure Python: one
core's worth however many threads run it, so a second process is what doubles it.
The pool is started on first use and kept for the life of the process (a Dagster
run worker runs one run), in ``spawn`` mode, since forking a process that has
threads running (Arrow's, Dagster's) can deadlock the child. Starting a worker
costs ~1 s, so only inputs of at least ``PARALLEL_MIN_ROWS`` rows use the pool.

The number of processes comes from the settings (``HOKUSAI_INTAKE_WORKERS``; default:
the CPU count, at most 4) through ``configure``, which the intake resource calls when a
run starts; 0 or 1 keeps all the work in the calling process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from hokusai.settings import default_intake_workers

PARALLEL_MIN_ROWS = 200_000
PARALLEL_MIN_BYTES = 16 << 20  # an upload this large has ~100k rows or more
T = TypeVar("T")
_log = logging.getLogger(__name__)

_lock = threading.Lock()
_pools: dict[int, ProcessPoolExecutor] = {}
_count: int | None = None


def configure(count: int) -> None:
    """Use ``count`` worker processes from now on in this process (0 or 1: none)."""
    global _count
    _count = max(int(count), 0)


def worker_count() -> int:
    """The configured number of workers, or the default when nothing configured it."""
    return default_intake_workers() if _count is None else _count


def pool_for(rows: int, min_rows: int | None = None) -> Executor | None:
    """The shared process pool if ``rows`` (at least ``min_rows``, default ``PARALLEL_MIN_ROWS``)
    is worth it and more than one worker is allowed."""
    workers = worker_count()
    if rows < (PARALLEL_MIN_ROWS if min_rows is None else min_rows) or workers < 2:
        return None
    with _lock:
        if workers not in _pools:
            _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(workers):  # start them now: each imports for ~1 s before its first task
                _pools[workers].submit(int)
        return _pools[workers]


def start_workers_for_upload(size_bytes: int) -> None:
    """Start the pool before a large upload is parsed: the workers' start-up (~1 s of
    imports) then overlaps reading and checking the file, when one core is idle."""
    if size_bytes >= PARALLEL_MIN_BYTES:
        pool_for(PARALLEL_MIN_ROWS)


def parts(items: Sequence[T], pool: Executor | None) -> list[Sequence[T]]:
    """``items`` cut into one part per worker of ``pool`` (a single part without one)."""
    count = worker_count() if pool is not None else 1
    size = -(-len(items) // max(count, 1)) or 1
    return [items[start:start + size] for start in range(0, len(items), size)] or [items]


class Task:
    """One call, run in the pool when there is one, here otherwise.

    A pool whose workers cannot start (e.g. a script without an ``if __name__ ==
    "__main__":`` guard re-runs itself in each spawned worker) is dropped with a
    warning and the call is run here: slower, never wrong.
    """

    def __init__(self, pool: Executor | None, fn: Callable[..., T], *args: Any):
        self._pool, self._fn, self._args, self._future, self._value = pool, fn, args, None, None
        if pool is not None:
            try:
                self._future = pool.submit(fn, *args)
                return
            except BrokenProcessPool as error:
                _drop(pool, error)
        self._value = fn(*args)

    def result(self) -> T:
        if self._future is None:
            return self._value
        try:
            return self._future.result()
        except BrokenProcessPool as error:
            _drop(self._pool, error)
            return self._fn(*self._args)


def _drop(pool: Executor, error: BaseException) -> None:
    with _lock:
        for workers in [w for w, candidate in _pools.items() if candidate is pool]:
            del _pools[workers]
            _log.warning("worker processes unavailable (%s); hashing in this process instead", error)
