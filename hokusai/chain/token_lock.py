"""One run at a time reads and sets a token's aliases in the model registry, across processes and machines.

MLflow has no atomic "create if absent" or compare-and-swap for an alias: two runs of one token
side by side could each find no champion and crown two baselines, or each read the same champion
and overwrite the other's move. The steps that do so hold the token's lock, taken in the claims
ledger's database, which every run of a deployment shares: a PostgreSQL advisory lock (the server
drops it if the process dies), or a lock file beside a SQLite ledger (the kernel drops it).

Dagster's op concurrency pools did this before. Their slot queue can lose a wake-up: a slot freed
between a step's "is a slot free?" and its joining the queue is never handed to it, and the step
then waits forever (reproduced step by step on the SQLite instance; the likely cause of two
``hokusai evaluate`` started at once hanging in CI). A lock that is polled has no queue to lose.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 900.0  # longer than any step that holds it (a baseline's first training)
_LOCAL: dict[tuple[int, str], threading.Lock] = {}  # in-memory ledgers: one process only
_LOCAL_GUARD = threading.Lock()


class TokenLockTimeout(RuntimeError):
    """Another run held the token's lock for longer than the wait allowed."""


@contextmanager
def token_lock(engine: Any, token_id: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``token_id``'s registry lock in the ledger ``engine``'s database for the ``with`` block.
    ``on_wait`` is told, once, when another run holds it (the step's log says what it waits for)."""
    wait = _Wait(token_id, timeout_seconds, on_wait)
    if engine.dialect.name == "postgresql":
        lock = _advisory_lock(engine, token_id, wait)
    elif engine.url.database and engine.url.database != ":memory:":
        lock = _file_lock(Path(f"{engine.url.database}.locks"), token_id, wait)
    else:
        lock = _process_lock(engine, token_id, wait)
    with lock:
        yield


def lock_key(token_id: str) -> int:
    """The token's advisory lock number: a signed 64-bit integer, the same in every process."""
    return int.from_bytes(hashlib.sha256(f"hokusai-registry:{token_id}".encode()).digest()[:8], "big", signed=True)


class _Wait:
    """Polling ``try_once`` until it answers True, backing off from 20 ms to 0.5 s, or timing out."""

    def __init__(self, token_id: str, timeout_seconds: float, on_wait: Callable[[str], None] | None):
        self.token_id, self.timeout_seconds, self.on_wait = token_id, timeout_seconds, on_wait

    def until(self, try_once: Callable[[], bool]) -> None:
        deadline, pause = time.monotonic() + self.timeout_seconds, 0.02
        if try_once():
            return
        if self.on_wait is not None:
            self.on_wait(f"waiting for the model registry lock of token {self.token_id}: another run holds it")
        while not try_once():
            if time.monotonic() >= deadline:
                raise TokenLockTimeout(f"the model registry of token {self.token_id} was held by another run for "
                                       f"more than {self.timeout_seconds:g} s; run this evaluation again once that "
                                       "run has ended")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


@contextmanager
def _advisory_lock(engine: Any, token_id: str, wait: _Wait) -> Iterator[None]:
    """A session-level advisory lock on a connection of its own, given back after unlocking."""
    from sqlalchemy import text

    key = lock_key(token_id)
    with engine.connect() as connection:
        def try_once() -> bool:
            locked = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            connection.commit()
            return bool(locked)

        wait.until(try_once)
        try:
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
            except Exception:  # a broken connection: closing it ends the session, and its lock
                connection.invalidate()
                raise


@contextmanager
def _file_lock(folder: Path, token_id: str, wait: _Wait) -> Iterator[None]:
    """An exclusive ``flock`` on the token's file in ``folder`` (per open file: threads conflict too)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{hashlib.sha256(token_id.encode()).hexdigest()[:32]}.lock", "w") as handle:
        def try_once() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        wait.until(try_once)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _process_lock(engine: Any, token_id: str, wait: _Wait) -> Iterator[None]:
    with _LOCAL_GUARD:
        lock = _LOCAL.setdefault((id(engine), token_id), threading.Lock())
    wait.until(lambda: lock.acquire(blocking=False))
    try:
        yield
    finally:
        lock.release()
