"""Which rows of a contribution the champion's training set does not hold yet.

A contribution is paid for what it adds. A row already in the champion's training
set adds nothing, and neither does a *near-copy*: a row that differs from one
training row of the same label by no more than measurement noise. Both are removed
and counted, like benchmark copies; an upload left with no new rows is rejected.

Near-copy rule (``hokusai-near-copy-v1``): a row is a near-copy of a training row
when both have the same label, every category feature (and a DSPy token's text input) is
equal, and every numeric feature differs by at most ``tolerance`` of that feature's range (the
spec's ``min``..``max``, else the range seen in the training set): the spec's
``near_copy_tolerance``. What is noise depends on the domain, so the token sets it;
the default 0 removes exact copies only, and never a genuinely new row of a domain
nobody measured. The demo token's 1/8 is two grey levels of its 0–16 pixels: a copy
with pixels nudged by ±1 or ±2 is caught, while a different handwritten digit of the
same class differs from its nearest training image by at least 4 levels in some
pixel (measured: ``docs/reward-path.md``).

The search is exact (``hokusai.chain.near_search``): candidates come from buckets
of "feature >= threshold" bits of the numeric features quantized into cells (a
value within the tolerance of a threshold counts on both sides), and each candidate
pair is then compared feature by feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hokusai.intake.cleaning import row_fingerprints
from hokusai.tokens.spec import TokenSpec

NEAR_COPY_RULE = "hokusai-near-copy-v1"


@dataclass(frozen=True)
class NewRows:
    """The contribution's rows split into new ones and those the training set already has."""

    keep: np.ndarray  # bool per contribution row: new
    exact_copies: int
    near_copies: int

    def stats(self) -> dict[str, int]:
        return {"known_rows_removed": self.exact_copies, "near_copies_removed": self.near_copies}


def find_new_rows(contribution: pd.DataFrame, training: pd.DataFrame, spec: TokenSpec,
                  tolerance: float | None = None, fingerprints: np.ndarray | None = None) -> NewRows:
    """Mark each contribution row new, or a copy / near-copy of a training row (``tolerance``: the spec's).

    ``fingerprints``: the contribution rows' ``row_fingerprints`` over ``spec.compared_columns``,
    when the caller has them already (cleaning does: a million rows cost ~0.4 s to hash again).
    """
    tolerance = spec.near_copy_tolerance if tolerance is None else tolerance
    if contribution.empty:
        return NewRows(np.zeros(0, dtype=bool), 0, 0)
    compared = spec.compared_columns  # a copy with other free text is still a copy
    if fingerprints is None:
        fingerprints = row_fingerprints(contribution, spec, columns=compared).to_numpy()
    elif len(fingerprints) != len(contribution):
        raise ValueError(f"{len(fingerprints)} fingerprints for {len(contribution)} rows")
    # membership by hash table (pandas' isin): a Python set of a million ints costs 6x more
    exact = pd.Series(fingerprints, copy=False).isin(
        row_fingerprints(training, spec, columns=compared).to_numpy()).to_numpy()
    near = np.zeros(len(contribution), dtype=bool)
    candidates = np.flatnonzero(~exact)
    if tolerance > 0 and len(candidates) and len(training):
        near[candidates] = _near_copies(contribution, candidates, training, spec, tolerance, fingerprints[candidates])
    return NewRows(~exact & ~near, int(exact.sum()), int(near.sum()))


def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The column as the rule compares it (float64 after ``to_numeric``); a plain numeric column as it is."""
    values = frame[name].to_numpy()
    if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
        return values  # the same numbers once converted to float64, without a copy
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")


def _narrow(values: np.ndarray) -> np.ndarray:
    """Integers in the narrowest type that holds them: the same numbers (and the same float64s),
    a byte per pixel instead of eight for the rows searched (a million rows x 64 features: 51 MB, not 410)."""
    if values.dtype.kind not in "iu" or not len(values):
        return values
    low, high = values.min(), values.max()
    for dtype in (np.int8, np.int16, np.int32):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values


def _exact_key(frame: pd.DataFrame, names: list[str], rows: np.ndarray | None = None) -> np.ndarray:
    """One 64-bit key over the columns that must match exactly (label, categories, text, as text)."""
    from hokusai.intake.cleaning import text_column_hashes
    from hokusai.commitments.frame_hashing import combine

    hashes = [text_column_hashes(frame[n] if rows is None else frame[n].iloc[rows])[0] for n in names]
    return combine(hashes) if hashes else np.zeros(len(frame) if rows is None else len(rows), dtype=np.uint64)


def _near_copies(contribution: pd.DataFrame, rows: np.ndarray, training: pd.DataFrame, spec: TokenSpec,
                 tolerance: float, row_hashes: np.ndarray) -> np.ndarray:
    """Whether each of the contribution's ``rows`` is a near-copy of a training row (exact search)."""
    from hokusai.chain.near_search import rows_within_bounds

    numeric = [f for f in spec.features if f.dtype in ("int", "float", "bool")]
    exact_names = [name for name in spec.compared_columns if name not in {f.name for f in numeric}]
    train_columns = [_numeric_column(training, f.name) for f in numeric]
    row_columns = [_narrow(_numeric_column(contribution, f.name)[rows]) for f in numeric]
    span = np.array([feature_span(f, train_columns[i].astype("float64", copy=False)) for i, f in enumerate(numeric)],
                    dtype="float64")
    bounds = tolerance * span + 1e-12  # the rule compares abs(a - b) <= tolerance * span + 1e-12, in float64
    return rows_within_bounds(row_columns, train_columns, bounds, _exact_key(contribution, exact_names, rows),
                              _exact_key(training, exact_names), row_hashes)


def feature_span(feature, observed: np.ndarray) -> float:
    """The feature's range: the spec's bounds, else what ``observed`` (float64) shows."""
    if feature.minimum is not None and feature.maximum is not None:
        return float(feature.maximum) - float(feature.minimum)
    finite = observed[np.isfinite(observed)]
    return float(finite.max() - finite.min()) if len(finite) else 0.0
