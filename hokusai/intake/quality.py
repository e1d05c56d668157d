"""The quality score of a contribution: one number in [0, 1] a contributor can read.

    quality = 0.25 completeness + 0.25 validity + 0.20 uniqueness
            + 0.20 leakage + 0.10 label_balance

- completeness: share of non-null cells in the token's feature and label columns;
- validity: share of those cells that passed the schema (coercion, ranges, labels);
- uniqueness: share of rows that are not exact duplicates of an earlier row;
- leakage: share of rows that are not copies of a benchmark row;
- label_balance: normalized entropy of the label distribution over the token's
  labels (1 = every label equally often, 0 = a single label).

Each part is in [0, 1], so the weighted sum is too. It informs; it does not gate:
the gates are the schema, the expectations and the leakage limit.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

WEIGHTS = {"completeness": 0.25, "validity": 0.25, "uniqueness": 0.20, "leakage": 0.20, "label_balance": 0.10}


def label_balance(labels: pd.Series, label_count: int) -> float:
    """Entropy of the label shares divided by log(label_count)."""
    shares = labels.value_counts(normalize=True)
    if label_count < 2 or shares.empty:
        return 0.0
    entropy = -sum(p * math.log(p) for p in shares if p > 0)
    return min(1.0, entropy / math.log(label_count))


def quality_score(*, cells: int, null_cells: int, invalid_cells: int, rows_in: int, duplicates: int,
                  benchmark_copies: int, labels: pd.Series, label_count: int) -> dict[str, Any]:
    """The parts and the weighted score, rounded to 4 places."""
    parts = {
        "completeness": 1 - null_cells / cells if cells else 0.0,
        "validity": 1 - invalid_cells / cells if cells else 0.0,
        "uniqueness": 1 - duplicates / rows_in if rows_in else 0.0,
        "leakage": 1 - benchmark_copies / rows_in if rows_in else 0.0,
        "label_balance": label_balance(labels, label_count),
    }
    parts = {name: round(max(0.0, min(1.0, value)), 4) for name, value in parts.items()}
    score = round(sum(WEIGHTS[name] * value for name, value in parts.items()), 4)
    return {"score": score, "parts": parts, "weights": WEIGHTS}
