"""A rejected contribution is recorded, not lost: why, at which stage, and what was seen.

The record (``rejection.json`` in the partition's output folder) holds the reasons and
the manifest — never the rows — so a contributor can fix the file and drop it again.
The upload itself is left untouched in the drop zone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REJECTION_FILE = "rejection.json"


def record_rejection(directory: Path, *, partition_key: str, stage: str, reasons: list[str],
                     manifest: dict[str, Any] | None = None, details: Any = None) -> Path:
    """Write the rejection record atomically; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    record = {"status": "rejected", "partition_key": partition_key, "stage": stage, "reasons": reasons,
              "manifest": manifest, "details": details}
    path = directory / REJECTION_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_rejection(directory: Path) -> dict[str, Any] | None:
    path = directory / REJECTION_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def clear_rejection(directory: Path) -> None:
    """A later successful evaluation of the same partition supersedes an old rejection."""
    (directory / REJECTION_FILE).unlink(missing_ok=True)
