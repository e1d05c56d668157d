"""Turning a validated contribution into the rows that may train a model.

Exact duplicate rows are dropped (a contributor is not paid twice for one row), and
so is any row that equals a benchmark row: training on the benchmark would inflate
the score the reward is computed from. Rows the champion was already trained on
(and near-copies of them) are dropped too: they add nothing to pay for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hokusai.frame_hashing import column_hashes, combine
from hokusai.token_spec import TokenSpec


@dataclass(frozen=True)
class CleanResult:
    frame: pd.DataFrame
    stats: dict[str, Any]
    # column_hashes of the text columns of ``frame`` that dedup hashed as they are, by name
    # (``frame_sha256`` reuses them instead of hashing a million strings again)
    text_hashes: dict[str, np.ndarray] = field(default_factory=dict)


def row_fingerprints(frame: pd.DataFrame, spec: TokenSpec,
                     text_hashes: dict[str, np.ndarray] | None = None) -> pd.Series:
    """A 64-bit fingerprint of each row's features and label, normalized by dtype.

    Numbers are compared as float64 rounded to 9 places and everything else as text,
    so ``3``, ``3.0`` and ``"3"`` in a numeric column match. ``text_hashes``, if
    given, receives the hashes of the text columns that were strings already.
    """
    columns = [*spec.feature_names, spec.label_column]
    numeric = {f.name for f in spec.features if f.dtype in ("int", "float")}
    hashes = []  # as hash_pandas_object hashes the normalized frame, column by column (hokusai.frame_hashing)
    for name in columns:
        if name in numeric:
            hashes.append(column_hashes(pd.to_numeric(frame[name], errors="coerce").astype("float64").round(9).to_numpy()))
            continue
        text, unchanged = _as_text(frame[name])
        hashes.append(column_hashes(text))
        if text_hashes is not None and unchanged:
            text_hashes[name] = hashes[-1]
    return pd.Series(combine(hashes), index=frame.index, dtype="uint64")


def _as_text(column: pd.Series) -> tuple[np.ndarray, bool]:
    """(``column.astype(str)`` as an object array, whether that is the column's own values):
    a column of strings already is its text, without a copy."""
    values = column.to_numpy()
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values, True
    return column.astype(str).to_numpy(dtype=object), False


def clean_contribution(frame: pd.DataFrame, spec: TokenSpec, benchmark: pd.DataFrame,
                       known_rows: Callable[[pd.DataFrame], Any] | None = None) -> CleanResult:
    """Drop exact duplicates, benchmark copies and (with ``known_rows``) rows the champion has; count each.

    ``known_rows(rows)`` marks which of ``rows`` are new (``hokusai.chain.new_rows.find_new_rows``
    against the champion's training set: a ``.keep`` mask and ``.stats()``). The rows kept
    are sorted by their fingerprint: after dedup every kept row has its own, so the order is
    a function of the rows alone, not of the upload.
    """
    rows_in = len(frame)
    text_hashes: dict[str, np.ndarray] = {}
    fingerprints = row_fingerprints(frame, spec, text_hashes)
    duplicate = fingerprints.duplicated(keep="first")
    in_benchmark = fingerprints.isin(set(row_fingerprints(benchmark, spec)))
    keep = ~duplicate & ~in_benchmark
    known = {}
    if known_rows is not None:
        candidates = np.flatnonzero(keep.to_numpy())
        found = known_rows(frame.iloc[candidates])
        keep.iloc[candidates[~found.keep]] = False
        known = found.stats()
    order = np.flatnonzero(keep.to_numpy())
    order = order[np.argsort(fingerprints.to_numpy()[order], kind="stable")]
    if len(order) == rows_in and (np.diff(order) > 0).all():  # nothing dropped or moved: no copy
        cleaned = frame.copy(deep=False)
        cleaned.index = pd.RangeIndex(len(cleaned))
    else:
        cleaned = frame.iloc[order].reset_index(drop=True)
        text_hashes = {name: hashed[order] for name, hashed in text_hashes.items()}
    cleaned[spec.label_column] = cleaned[spec.label_column].astype(type(spec.label_values[0]))
    stats = {
        "rows_in": rows_in,
        "rows_out": int(keep.sum()),
        "duplicates_removed": int(duplicate.sum()),
        "benchmark_rows_removed": int((in_benchmark & ~duplicate).sum()),
        **known,
    }
    text_hashes.pop(spec.label_column, None)  # its dtype changes above
    return CleanResult(frame=cleaned, stats=stats, text_hashes=text_hashes)
