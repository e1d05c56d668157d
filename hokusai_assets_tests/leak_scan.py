"""Looking for secrets where they must never be: text, files, and SQLite rows, compressed ones too.

A secret can be written in more than one way: a hex key with or without ``0x``, in
upper case, as its raw bytes, base64, UTF-16. Each ``Secret`` carries every form worth
looking for. Dagster's SQLite run storage keeps job snapshots zlib-compressed, where
a byte search of the file would miss a key, so SQLite files are also read row by row
and each compressed cell is inflated and searched.
"""

from __future__ import annotations

import base64
import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Secret:
    """What a secret is (``name``, for the report) and every encoding of it worth searching for."""

    name: str
    forms: tuple[bytes, ...]

    @classmethod
    def of(cls, name: str, value: str | bytes) -> Secret:
        forms: list[bytes] = []
        if isinstance(value, bytes):
            forms += [value, value.hex().encode(), base64.b64encode(value)]
        else:
            forms += [value.encode(), value.encode("utf-16-le")]
            if _HEX.match(value) and len(value) >= 32:
                digits = value[2:] if value.startswith("0x") else value
                forms += [digits.lower().encode(), digits.upper().encode()]
                if len(digits) % 2 == 0:
                    raw = bytes.fromhex(digits)
                    forms += [raw, base64.b64encode(raw)]
        return cls(name, tuple(dict.fromkeys(forms)))

    def found_in(self, data: bytes) -> bool:
        return any(form in data for form in self.forms)


def leaks_in(data: bytes | str, secrets: Iterable[Secret]) -> list[str]:
    """Names of the secrets that occur in ``data``."""
    blob = data.encode() if isinstance(data, str) else data
    return [secret.name for secret in secrets if secret.found_in(blob)]


def _sqlite_cells(path: Path) -> Iterator[tuple[str, bytes]]:
    """(table, cell bytes) for every text or blob cell of a SQLite file, compressed cells inflated."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if isinstance(cell, str):
                        yield table, cell.encode()
                    elif isinstance(cell, bytes):
                        yield table, cell
                        try:
                            yield table, zlib.decompress(cell)
                        except zlib.error:
                            pass
    finally:
        connection.close()


def files_under(root: Path, skip: Iterable[Path] = ()) -> list[Path]:
    """Every regular file under ``root`` except those in ``skip``."""
    skipped = {Path(path).resolve() for path in skip}
    return sorted(path for path in Path(root).rglob("*") if path.is_file() and path.resolve() not in skipped)


def scan_files(paths: Iterable[Path], secrets: Iterable[Secret], root: Path | None = None) -> list[tuple[str, str]]:
    """(file, secret name) for each secret found in a file's bytes or, for SQLite, in a row's cells."""
    secrets = list(secrets)
    leaks = []
    for path in paths:
        label = str(path.relative_to(root)) if root else str(path)
        data = path.read_bytes()
        leaks += [(label, name) for name in leaks_in(data, secrets)]
        if data.startswith(SQLITE_MAGIC):
            for table, cell in _sqlite_cells(path):
                leaks += [(f"{label}:{table}", name) for name in leaks_in(cell, secrets)]
    return sorted(set(leaks))
