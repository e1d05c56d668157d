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

from hokusai.commitments.frame_hashing import TableHashes, column_hashes, combine_stream
from hokusai.tokens.spec import TokenSpec


@dataclass(frozen=True)
class CleanResult:
    frame: pd.DataFrame
    stats: dict[str, Any]
    # column_hashes of the text columns of ``frame`` that dedup hashed as they are, by name
    # (``frame_sha256`` reuses them instead of hashing a million strings again)
    text_hashes: dict[str, np.ndarray] = field(default_factory=dict)


def row_fingerprints(frame: pd.DataFrame, spec: TokenSpec,
                     text_hashes: dict[str, np.ndarray] | None = None,
                     columns: list[str] | None = None) -> pd.Series:
    """A 64-bit fingerprint of each row's ``columns`` (its features and label by default), normalized by dtype.

    Numbers are compared as float64 rounded to 9 places and everything else as text,
    so ``3``, ``3.0`` and ``"3"`` in a numeric column match. ``text_hashes``, if
    given, receives the hashes of the text columns that were strings already.
    """
    columns = spec.content_columns if columns is None else columns
    numeric = {f.name for f in spec.features if f.dtype in ("int", "float")}

    def hashes():  # as hash_pandas_object hashes the normalized frame, column by column (hokusai.commitments.frame_hashing)
        for name in columns:
            if name in numeric:
                yield _number_hashes(frame[name])
                continue
            hashed, unchanged = text_column_hashes(frame[name])
            if text_hashes is not None and unchanged:
                text_hashes[name] = hashed
            yield hashed

    # one column's hashes at a time: 65 columns of a million rows would hold 520 MB at once
    return pd.Series(combine_stream(hashes(), len(columns)), index=frame.index, dtype="uint64")


_TABLE_SPAN = 1 << 16  # integer columns spanning at most this many values are hashed by table lookup


def _number_hashes(column: pd.Series) -> np.ndarray | TableHashes:
    """``column_hashes`` of the column as float64 rounded to 9 places.

    An integer column of a narrow range (pixels, counts, ages) takes its hashes from a
    table of its possible values, normalized and hashed the same way: 3x faster, same bits
    (``combine_stream`` looks them up, a block of rows at a time).
    """
    values = np.ascontiguousarray(column.to_numpy())  # a column of a 2-D array's frame is strided
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < min(_TABLE_SPAN, len(values)):
            table = column_hashes(np.round(np.arange(low, high + 1, dtype=values.dtype).astype("float64"), 9))
            wide = np.uint64 if values.dtype.kind == "u" else np.int64
            return TableHashes(table, values.astype(wide, copy=False), low)
    return column_hashes(pd.to_numeric(column, errors="coerce").astype("float64").round(9).to_numpy())


def text_column_hashes(column: pd.Series) -> tuple[np.ndarray, bool]:
    """(``column_hashes`` of ``column.astype(str)``, whether that text is the column's own values).

    An integer or boolean column (a label) is turned into text value by distinct value:
    a string per row costs 30x more, and a value's text and hash do not depend on the row.
    """
    values = column.to_numpy()
    if values.dtype.kind in "iub":
        codes, distinct = pd.factorize(values)
        return column_hashes(pd.Series(distinct).astype(str).to_numpy(dtype=object))[codes], False
    text, unchanged = _as_text(column)
    return column_hashes(text), unchanged


def _as_text(column: pd.Series) -> tuple[np.ndarray, bool]:
    """(``column.astype(str)`` as an object array, whether that is the column's own values):
    a column of strings already is its text, without a copy."""
    values = column.to_numpy()
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values, True
    return column.astype(str).to_numpy(dtype=object), False


def clean_contribution(frame: pd.DataFrame, spec: TokenSpec, benchmark: pd.DataFrame,
                       known_rows: Callable[[pd.DataFrame, np.ndarray], Any] | None = None,
                       benchmark_near: Callable[[pd.DataFrame, np.ndarray], Any] | None = None) -> CleanResult:
    """Drop exact duplicates, benchmark copies and (with ``known_rows``) rows the champion has; count each.

    Both callables take the rows and their fingerprints over ``spec.compared_columns``.
    ``benchmark_near(rows, fingerprints)`` marks the near-copies of benchmark rows among ``rows`` (``find_new_rows``
    against the benchmark: ``.keep`` False for a near-copy). They count as benchmark copies: a
    benchmark row with a pixel nudged scores like the row itself, so without this a contributor
    is paid for training on the test set.

    ``known_rows(rows, fingerprints)`` marks which of ``rows`` are new (``hokusai.chain.new_rows.find_new_rows``
    against the champion's training set: a ``.keep`` mask and ``.stats()``). The rows kept
    are sorted by their fingerprint: after dedup every kept row has its own, so the order is
    a function of the rows alone, not of the upload. Duplicates and copies are found on what the
    model sees (``TokenSpec.compared_columns``: a scikit-learn token's free text is not compared).
    Under ``update`` a row's key is part of what it is (the same content under two keys updates
    two rows), so duplicates are taken over that and the key, and copies of benchmark rows over
    that alone.
    """
    rows_in = len(frame)
    text_hashes: dict[str, np.ndarray] = {}
    committed, compared = spec.committed_columns, spec.compared_columns
    fingerprints = row_fingerprints(frame, spec, text_hashes, committed)
    same_columns = [*compared, *([spec.key_column] if spec.merge_strategy == "update" else [])]
    same = fingerprints if same_columns == committed else row_fingerprints(frame, spec, columns=same_columns)
    content = same if same_columns == compared else row_fingerprints(frame, spec, columns=compared)
    duplicate = _duplicates(same, fingerprints)
    in_benchmark = content.isin(set(row_fingerprints(benchmark, spec, columns=compared)))
    if benchmark_near is not None:
        candidates = np.flatnonzero((~duplicate & ~in_benchmark).to_numpy())
        if len(candidates):
            found = benchmark_near(frame.iloc[candidates], content.to_numpy()[candidates])
            in_benchmark.iloc[candidates[~found.keep]] = True
    keep = ~duplicate & ~in_benchmark
    known = {}
    if known_rows is not None:
        candidates = np.flatnonzero(keep.to_numpy())
        found = known_rows(frame.iloc[candidates], content.to_numpy()[candidates])
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


def _duplicates(same: pd.Series, full: pd.Series) -> pd.Series:
    """Rows that repeat an earlier row on what the model sees (``same``). Where rows differ only in what
    it does not see (free text), the one with the smallest full fingerprint stays, whatever the upload's
    order: the row kept, and so the commitment, is a property of the rows."""
    if same is full:
        return full.duplicated(keep="first")
    order = np.lexsort((full.to_numpy(), same.to_numpy()))
    ranked = same.to_numpy()[order]
    repeated = np.empty(len(order), dtype=bool)
    repeated[order] = np.concatenate(([False], ranked[1:] == ranked[:-1])) if len(order) else []
    return pd.Series(repeated, index=same.index)
