"""The contribution side of an evaluation: read, scrub, validate, clean.

Personal data is replaced by keyed hashes as soon as the upload is parsed, so
nothing the platform stores (asset values, metadata, logs, MLflow) ever holds it.
Every refusal raises ``ContributionRejected`` with a reason for the contributor.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hokusai.chain.new_rows import find_new_rows
from hokusai.intake.benchmark_copying import benchmark_copying
from hokusai.intake.cleaning import clean_contribution
from hokusai.drops.store import ContributionStore, resolve_partition
from hokusai.commitments.rows import commit_rows
from hokusai.drops.keys import parse_drop_key
from hokusai.commitments.frame_hashing import frame_row_hashes
from hokusai.intake.limits import LoadLimits
from hokusai.intake.loading import load_contribution
from hokusai.pii.scrub import scrub_frame
from hokusai.intake.quality import quality_score
from hokusai.tokens.spec import TokenSpec
from hokusai.intake.validation import SchemaReport, validate_contribution
from hokusai.workers import start_workers_for_upload

DEFAULT_MAX_BENCHMARK_SHARE = 0.01


class ContributionRejected(ValueError):
    """The contribution cannot be used; the message is for the contributor."""


@dataclass(frozen=True)
class IntakePolicy:
    """Limits on what an upload may be, from configuration."""

    limits: LoadLimits = field(default_factory=LoadLimits)
    max_benchmark_share: float = DEFAULT_MAX_BENCHMARK_SHARE


@dataclass
class ContributedDataset:
    partition_key: str
    token_id: str
    wallet_address: str
    filename: str
    frame: pd.DataFrame
    manifest: dict[str, Any]


@dataclass
class CleanDataset:
    partition_key: str
    token_id: str
    wallet_address: str
    frame: pd.DataFrame
    stats: dict[str, Any]
    rows_sha256: str
    raw_sha256: str
    quality: dict[str, Any] = field(default_factory=dict)
    rows_root: str = ""  # sha256-rows-merkle-v1 over the committed columns (hokusai.commitments.rows)
    copying: dict[str, Any] = field(default_factory=dict)  # the data-copying test's verdict (benchmark_copying)


def frame_sha256(frame: pd.DataFrame, column_hashes: dict | None = None) -> str:
    """A content hash of a frame's rows and column names (order-sensitive).

    ``column_hashes``: hashes of some columns already computed (``CleanResult.text_hashes``).
    """
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(frame_row_hashes(frame, column_hashes).tobytes())  # = hash_pandas_object(frame, index=False)
    return digest.hexdigest()


def read_contribution(store: ContributionStore, partition_key: str, spec_for, pii_key_for,
                      policy: IntakePolicy = IntakePolicy()) -> ContributedDataset:
    """Resolve a partition to its upload, parse it and replace personal data by keyed hashes.

    ``spec_for(token_id)`` gives the token spec and ``pii_key_for(token_id)`` the
    token's hashing key. Raises ContributionFormatError and friends with a reason.
    """
    stored = resolve_partition(store, partition_key)
    drop = parse_drop_key(stored.key)
    spec = spec_for(drop.token_id)
    start_workers_for_upload(stored.size)  # they start while the upload is read
    loaded = load_contribution(store.read_version(stored), drop.filename, store.uri(stored.key),
                               stored.etag, policy.limits)
    protected = {f.name for f in spec.features if f.dtype != "string"} | {spec.label_column}
    scrubbed = scrub_frame(loaded.frame, pii_key_for(drop.token_id), protected_columns=protected,
                           arrow=loaded.arrow)
    manifest = {**loaded.manifest, "pii": {"counts": scrubbed.counts, "columns_hashed": scrubbed.columns_hashed,
                                           "cells_changed": scrubbed.cells_changed}}
    return ContributedDataset(partition_key, drop.token_id, drop.wallet_address, drop.filename,
                              scrubbed.frame, manifest)


def check_schema(contributed: ContributedDataset, spec: TokenSpec) -> SchemaReport:
    return validate_contribution(contributed.frame, spec)


def clean(contributed: ContributedDataset, spec: TokenSpec, benchmark: pd.DataFrame,
          policy: IntakePolicy = IntakePolicy(), rows_file: Path | None = None,
          training: pd.DataFrame | None = None) -> CleanDataset:
    """Validate, coerce, drop duplicates, benchmark copies and rows ``training`` has; reject what cannot be used.

    ``training``: the champion's training set; a row it holds, or a near-copy of one of
    its rows, adds nothing (``hokusai.chain.new_rows``). The rows kept are put in a
    canonical order (by their content) before they are committed, so the row root is
    the same whatever order they were uploaded in. ``rows_file`` receives them as
    canonical lines (header first), from which ``hokusai prove-row`` proves one row.
    """
    report = check_schema(contributed, spec)
    if not report.passed:
        raise ContributionRejected(report.summary())
    known_rows = None if training is None else (
        lambda rows, prints: find_new_rows(rows, training, spec, fingerprints=prints))
    result = clean_contribution(report.frame, spec, benchmark, known_rows,
                                lambda rows, prints: find_new_rows(rows, benchmark, spec, fingerprints=prints))
    stats = {**result.stats, "dropped_columns": report.dropped_columns}
    share = stats["benchmark_rows_removed"] / stats["rows_in"]
    if share > policy.max_benchmark_share:
        raise ContributionRejected(
            f"{stats['benchmark_rows_removed']} of {stats['rows_in']} rows ({share:.1%}) are copies or near-copies "
            f"of the token's benchmark (limit {policy.max_benchmark_share:.0%}): rejected as a benchmark-leakage attempt"
        )
    if result.frame.empty and stats.get("known_rows_removed", 0) + stats.get("near_copies_removed", 0):
        raise ContributionRejected(
            f"no new rows: of {stats['rows_in']} rows, {stats['known_rows_removed']} are already in the champion's "
            f"training set and {stats['near_copies_removed']} are near-copies of its rows "
            f"({stats['duplicates_removed']} duplicates, {stats['benchmark_rows_removed']} benchmark copies)")
    if result.frame.empty:
        raise ContributionRejected("no rows left after removing duplicates and benchmark copies")
    copying = benchmark_copying(result.frame, benchmark, spec, training)  # copies edited past the near-copy rule
    if copying.derived:
        raise ContributionRejected(copying.reason())
    quality = contribution_quality(contributed.frame, report, spec, stats, _loaded_nulls(contributed))
    committed = committed_rows(result.frame, spec)  # in the spec's column order, whatever the upload's
    rows_sha256 = frame_sha256(committed, result.text_hashes)
    root = commit_rows(committed, rows_file)  # the root, and the rows file on the way
    return CleanDataset(
        partition_key=contributed.partition_key,
        token_id=contributed.token_id,
        wallet_address=contributed.wallet_address,
        frame=result.frame,
        stats=stats,
        rows_sha256=rows_sha256,
        raw_sha256=contributed.manifest["sha256"],
        quality=quality,
        rows_root=root,
        copying=copying.as_dict(),
    )


def committed_rows(frame: pd.DataFrame, spec: TokenSpec) -> pd.DataFrame:
    """The columns a contribution's commitment covers (``TokenSpec.committed_columns``)."""
    return frame[spec.committed_columns]


def _loaded_nulls(contributed: ContributedDataset) -> dict[str, int]:
    """The manifest's null counts per column, when they describe this frame.

    Scrubbing replaces values, never a missing one, so the counts taken at load
    still hold, and a million-row text column need not be scanned for nulls again.
    """
    manifest = contributed.manifest
    if manifest.get("rows") != len(contributed.frame) or manifest.get("columns") != list(map(str, contributed.frame.columns)):
        return {}
    return dict(manifest.get("nulls") or {})


def contribution_quality(frame: pd.DataFrame, report: SchemaReport, spec: TokenSpec,
                         stats: dict[str, Any], known_nulls: dict[str, int] | None = None) -> dict[str, Any]:
    """The quality score (``hokusai.intake.quality``) of this contribution (``known_nulls``: counted already)."""
    columns = [c for c in [*spec.feature_names, spec.label_column] if c in frame.columns]
    known_nulls = known_nulls or {}
    return quality_score(
        cells=len(frame) * len(columns),
        null_cells=sum(known_nulls[c] if c in known_nulls else int(frame[c].isna().sum()) for c in columns),
        invalid_cells=sum(problem.cells for problem in report.problems),
        rows_in=stats["rows_in"],
        duplicates=stats["duplicates_removed"],
        benchmark_copies=stats["benchmark_rows_removed"],
        labels=report.frame[spec.label_column] if spec.label_column in report.frame else pd.Series(dtype=object),
        label_count=len(spec.label_values),
    )
