"""pandas' row hashes (``hash_pandas_object(frame, index=False)``), computed faster.

pandas hashes an object column by factorizing it first and hashing the distinct
values; for a column of a million distinct strings (free text, hashed emails) that
costs 3x more than hashing each string directly. Both give the same numbers for a
column of strings (nulls aside, which pandas marks with the max uint64), so such a
column takes the direct path; any other column goes through pandas unchanged. The
values are the ones pandas gives, bit for bit: dedup and content hashes stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.core.util.hashing import combine_hash_arrays

_MISSING = np.iinfo(np.uint64).max  # how pandas marks a null in a categorized column


def column_hashes(values: np.ndarray | pd.api.extensions.ExtensionArray) -> np.ndarray:
    """``pd.util.hash_array(values)`` (categorize=True), without factorizing many distinct strings."""
    if not (isinstance(values, np.ndarray) and values.dtype == object and _mostly_distinct(values)):
        return pd.util.hash_array(values)
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return pd.util.hash_array(values)  # mixed types: pandas' own path decides how they compare
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, "", values)
    hashed = pd.util.hash_array(values, categorize=False)
    hashed[missing] = _MISSING
    return hashed


def combine(hashes: Sequence[np.ndarray]) -> np.ndarray:
    """Row hashes from the columns' ``column_hashes``, combined as pandas combines them."""
    return combine_hash_arrays(iter(hashes), len(hashes))


def combine_stream(hashes: Iterable[np.ndarray], count: int) -> np.ndarray:
    """``combine`` of ``count`` columns' hashes given one at a time, so only one is held at once."""
    return combine_hash_arrays(iter(hashes), count)


def row_hashes(columns: Sequence[np.ndarray | pd.api.extensions.ExtensionArray]) -> np.ndarray:
    """``hash_pandas_object(frame, index=False).to_numpy()`` from the frame's column arrays."""
    return combine([column_hashes(values) for values in columns])


def frame_row_hashes(frame: pd.DataFrame, known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """The row hashes of a whole frame (its columns' values as pandas itself passes them).

    ``known`` maps a column name to its ``column_hashes``, already computed elsewhere
    (dedup hashes the same text columns), so they are not computed twice.
    """
    known = known or {}
    hashes = [known[name] if isinstance(name, str) and name in known else column_hashes(frame.iloc[:, position]._values)
              for position, name in enumerate(frame.columns)]
    return combine(hashes)


def _mostly_distinct(values: np.ndarray) -> bool:
    """Judged on a sample: factorizing pays off only when values repeat."""
    if len(values) < 10_000:
        return False
    sample = values[:: len(values) // 2048]
    try:
        return len(set(sample.tolist())) > len(sample) // 2
    except TypeError:  # unhashable cells
        return False
