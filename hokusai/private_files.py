"""Files that hold local development secrets: created once, owner-only, race-safe."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_private_file_once(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` with mode 0600 unless it exists.

    The file is written to a temporary name and hard-linked into place, so two
    processes starting at once end up sharing the first one's content.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # umask can only remove bits, but be explicit
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # a concurrent first run won; use its content
    finally:
        tmp.unlink(missing_ok=True)


def tighten(path: Path) -> None:
    """A secret readable by others is a leak: make it owner-only rather than fail."""
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
