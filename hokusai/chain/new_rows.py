"""Which rows of a contribution the champion's training set does not hold yet.

A contribution is paid for what it adds. A row already in the champion's training
set adds nothing, and neither does a *near-copy*: a row that differs from one
training row of the same label by no more than measurement noise. Both are removed
and counted, like benchmark copies; an upload left with no new rows is rejected.

Near-copy rule (``hokusai-near-copy-v1``): a row is a near-copy of a training row
when both have the same label, every category or text feature is equal, and every
numeric feature differs by at most ``tolerance`` of that feature's range (the
spec's ``min``..``max``, else the range seen in the training set): the spec's
``near_copy_tolerance``. What is noise depends on the domain, so the token sets it;
the default 0 removes exact copies only, and never a genuinely new row of a domain
nobody measured. The demo token's 1/8 is two grey levels of its 0–16 pixels: a copy
with pixels nudged by ±1 or ±2 is caught, while a different handwritten digit of the
same class differs from its nearest training image by at least 4 levels in some
pixel (measured: ``docs/reward-path.md``).

The search is exact: candidates come from buckets of the numeric features
quantized on a grid twice the tolerance wide (two values within the tolerance fall
in the same or a neighbouring cell), on a few of the most varied features, and each
candidate pair is then compared feature by feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hokusai.cleaning import row_fingerprints
from hokusai.token_spec import TokenSpec

NEAR_COPY_RULE = "hokusai-near-copy-v1"
_BUCKET_FEATURES = 3  # features whose cells make the bucket key; candidates are checked on all
_PAIR_CHUNK = 2_000_000  # candidate pairs compared per chunk (bounds memory)


@dataclass(frozen=True)
class NewRows:
    """The contribution's rows split into new ones and those the training set already has."""

    keep: np.ndarray  # bool per contribution row: new
    exact_copies: int
    near_copies: int

    def stats(self) -> dict[str, int]:
        return {"known_rows_removed": self.exact_copies, "near_copies_removed": self.near_copies}


def find_new_rows(contribution: pd.DataFrame, training: pd.DataFrame, spec: TokenSpec,
                  tolerance: float | None = None) -> NewRows:
    """Mark each contribution row new, or a copy / near-copy of a training row (``tolerance``: the spec's)."""
    tolerance = spec.near_copy_tolerance if tolerance is None else tolerance
    if contribution.empty:
        return NewRows(np.zeros(0, dtype=bool), 0, 0)
    known = set(row_fingerprints(training, spec).to_numpy().tolist())
    exact = np.fromiter((fp in known for fp in row_fingerprints(contribution, spec).to_numpy().tolist()),
                        dtype=bool, count=len(contribution))
    near = np.zeros(len(contribution), dtype=bool)
    candidates = np.flatnonzero(~exact)
    if tolerance > 0 and len(candidates) and len(training):
        near[candidates] = _near_copies(contribution.iloc[candidates], training, spec, tolerance)
    return NewRows(~exact & ~near, int(exact.sum()), int(near.sum()))


def _numeric_matrix(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    if not names:
        return np.zeros((len(frame), 0))
    return np.column_stack([pd.to_numeric(frame[n], errors="coerce").to_numpy(dtype="float64") for n in names])


def _exact_key(frame: pd.DataFrame, spec: TokenSpec, names: list[str]) -> np.ndarray:
    """One 64-bit key over the columns that must match exactly (label, categories, text)."""
    from hokusai.frame_hashing import column_hashes, combine

    hashes = [column_hashes(frame[n].astype(str).to_numpy(dtype=object)) for n in names]
    return combine(hashes) if hashes else np.zeros(len(frame), dtype=np.uint64)


def _near_copies(rows: pd.DataFrame, training: pd.DataFrame, spec: TokenSpec, tolerance: float) -> np.ndarray:
    numeric = [f for f in spec.features if f.dtype in ("int", "float", "bool")]
    exact_names = [spec.label_column] + [f.name for f in spec.features if f.dtype in ("category", "string")]
    names = [f.name for f in numeric]
    train_x, rows_x = _numeric_matrix(training, names), _numeric_matrix(rows, names)
    span = np.array([_span(f, train_x[:, i]) for i, f in enumerate(numeric)], dtype="float64")
    limit = tolerance * span
    train_key, rows_key = _exact_key(training, spec, exact_names), _exact_key(rows, spec, exact_names)
    # Bucket on the features that vary most in the training set: fewest candidates per bucket.
    varied = np.argsort(-np.nan_to_num(np.nanstd(train_x, axis=0) / np.where(limit > 0, limit, 1)),
                        kind="stable")[:_BUCKET_FEATURES] if names else np.array([], dtype=int)
    width = np.where(limit[varied] > 0, 2 * limit[varied], 1.0)
    train_cells = np.floor(np.nan_to_num(train_x[:, varied], nan=-1e18) / width).astype(np.int64)
    rows_cells = np.floor(np.nan_to_num(rows_x[:, varied], nan=-1e18) / width).astype(np.int64)
    table = pd.DataFrame({"key": train_key, **{f"c{j}": train_cells[:, j] for j in range(len(varied))},
                          "train": np.arange(len(training))})
    found = np.zeros(len(rows), dtype=bool)
    # A neighbour within the tolerance is in the same or an adjacent cell of each bucket feature.
    for offsets in np.array(np.meshgrid(*[[-1, 0, 1]] * len(varied), indexing="ij")).reshape(len(varied), -1).T:
        probe = pd.DataFrame({"key": rows_key, **{f"c{j}": rows_cells[:, j] + offsets[j] for j in range(len(varied))},
                              "row": np.arange(len(rows))})
        pairs = probe.merge(table, on=["key", *[f"c{j}" for j in range(len(varied))]], how="inner")
        if pairs.empty:
            continue
        row_index, train_index = pairs["row"].to_numpy(), pairs["train"].to_numpy()
        for start in range(0, len(pairs), _PAIR_CHUNK):
            r, t = row_index[start:start + _PAIR_CHUNK], train_index[start:start + _PAIR_CHUNK]
            close = (np.abs(rows_x[r] - train_x[t]) <= limit + 1e-12).all(axis=1)
            found[r[close]] = True
    return found


def _span(feature, observed: np.ndarray) -> float:
    """The feature's range: the spec's bounds, else what the training set shows."""
    if feature.minimum is not None and feature.maximum is not None:
        return float(feature.maximum) - float(feature.minimum)
    finite = observed[np.isfinite(observed)]
    return float(finite.max() - finite.min()) if len(finite) else 0.0
