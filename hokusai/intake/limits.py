"""Upper bounds on an upload: the one home of their defaults (settings, resource, API and CLI read them here).

A module without pandas, so ``hokusai.settings`` can import it for free.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadLimits:
    """Upper bounds on an upload, so one file cannot exhaust the machine."""

    max_bytes: int = 512 * 1024 * 1024
    max_rows: int = 5_000_000
    max_columns: int = 1_000
