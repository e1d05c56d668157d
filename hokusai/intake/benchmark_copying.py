"""Whether a contribution was made from the benchmark: copies edited past the near-copy rule.

The near-copy rule catches a benchmark row whose every feature moved a little. A copy with a
few features moved a lot passes it and still scores like the row it came from (the demo's
benchmark with 3 pixels of each row moved by 8 grey levels was paid +900 bps).

Rule ``hokusai-benchmark-copying-v1``, a data-copying test. The distance of two rows of one
label is the number of compared features on which they differ by more than the near-copy
bound, at least 1% of the feature's range (a category that differs counts one). Each row's
distance to its nearest benchmark row of its label is compared with the same distance for
genuine rows of the token (the champion's training set, base rows first): fresh rows of the
token's distribution are as near to this benchmark as those; copies are nearer. A one-sided
Mann-Whitney test refuses the upload when its rows are nearer at p < 0.001. No randomness:
the verdict is a property of the rows. A large upload is tested on an even spread of its rows
(every k-th in canonical order), so copies anywhere among them count in their share.
Figures and limits: docs/reward-path.md, section 2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from hokusai.chain.new_rows import feature_span
from hokusai.tokens.spec import TokenSpec

COPYING_RULE = "hokusai-benchmark-copying-v1"
FALSE_ALARM_RATE = 0.001  # one-sided, per upload
# Without genuine reference rows the benchmark's own rows stand in, and the effect must be large
# too: one fixed benchmark is one draw of its distribution, and fresh rows differ from it in a
# way its rows among themselves do not (generated churn rows against the benchmark's own: up to
# 0.54 at 5,000 rows, z = 4; against the base rows' distances: z from -2.6 to +1.3).
MIN_NEARER = 0.65
# Numbers closer than this share of their range count as equal here even where the near-copy
# tolerance is 0: otherwise a copy with a continuous feature nudged by a cent differs on it as
# much as any other row does.
RESOLUTION = 0.01
MIN_REFERENCE_ROWS = 30
# Rows tested: about PAIR_BUDGET / benchmark rows, within these bounds. The whole benchmark is
# compared: a cap on it would leave the rows past the cap free to copy.
PAIR_BUDGET = 12_500_000
MIN_TESTED_ROWS, MAX_TESTED_ROWS = 1_000, 20_000
_BLOCK = 256


@dataclass(frozen=True)
class CopyingVerdict:
    rule: str
    rows_tested: int
    median_distance: float  # the upload's rows to their nearest benchmark row (features that differ)
    reference_median_distance: float  # the same for the reference rows (see ``compared_with``)
    compared_with: str  # "training rows": the champion's; "benchmark rows": the benchmark's among themselves
    nearer: float  # the chance one of the upload's rows is nearer than a reference row (0.5: alike)
    z: float
    z_limit: float
    derived: bool

    def as_dict(self) -> dict:
        """JSON-ready: a distance not measured (nothing tested) is None, not NaN."""
        return {key: None if isinstance(value, float) and math.isnan(value) else value
                for key, value in asdict(self).items()}

    def reason(self) -> str:
        than = ("the champion's training rows are" if self.compared_with == "training rows"
                else "the benchmark's own rows are to each other")
        return (f"the rows are nearer to the token's benchmark than {than} (median {self.median_distance:g} "
                f"differing features against {self.reference_median_distance:g}; nearer in {self.nearer:.0%} of "
                f"pairs, z = {self.z:.1f} > {self.z_limit:.2f}): rejected as copies made from the benchmark")


def benchmark_copying(rows: pd.DataFrame, benchmark: pd.DataFrame, spec: TokenSpec,
                      reference: pd.DataFrame | None = None) -> CopyingVerdict:
    """The data-copying test of ``rows`` (cleaned, in canonical order) against ``benchmark``.

    ``reference``: genuine rows of the token (the champion's training set, the base rows first):
    their distances to this benchmark are what fresh rows give. Without it (or with fewer than
    ``MIN_REFERENCE_ROWS``), the benchmark's rows' distances to each other stand in.
    """
    budget = rows_to_test(len(benchmark))
    tested = rows.iloc[::math.ceil(len(rows) / budget)] if len(rows) > budget else rows
    # the base rows come first in the champion's training set: the genuine rows least open to doubt
    genuine = None if reference is None or len(reference) < MIN_REFERENCE_ROWS else reference.iloc[:budget]
    z_limit = NormalDist().inv_cdf(1 - FALSE_ALARM_RATE)
    compared_with = "benchmark rows" if genuine is None else "training rows"
    features = _comparable(tested, benchmark, spec, genuine)
    if features is None or not len(tested) or len(benchmark) < 2:
        return CopyingVerdict(COPYING_RULE, 0, math.nan, math.nan, compared_with, 0.5, 0.0, round(z_limit, 3), False)
    (row_values, row_labels), (bench_values, bench_labels), (ref_values, ref_labels), bounds = features
    to_benchmark, among_benchmark = [], []
    for label in np.unique(bench_labels):
        labelled = bench_values[bench_labels == label]
        if len(labelled) < 2:
            continue
        mine = row_values[row_labels == label]
        to_benchmark.append(_nearest(mine, labelled, bounds))
        if ref_values is None:  # an even spread of the benchmark's rows, each to its nearest other
            among_benchmark.append(_nearest(labelled, labelled, bounds, self_excluded=True,
                                            step=max(1, math.ceil(len(bench_labels) / budget))))
        else:
            among_benchmark.append(_nearest(ref_values[ref_labels == label], labelled, bounds))
    ours = np.concatenate(to_benchmark) if to_benchmark else np.empty(0, dtype=np.int32)
    theirs = np.concatenate(among_benchmark) if among_benchmark else np.empty(0, dtype=np.int32)
    z, nearer = _nearer_z(ours, theirs) if len(ours) and len(theirs) else (0.0, 0.5)
    derived = z > z_limit and (ref_values is not None or nearer >= MIN_NEARER)
    return CopyingVerdict(COPYING_RULE, len(ours), _median(ours), _median(theirs), compared_with, round(nearer, 4),
                          round(z, 3), round(z_limit, 3), derived)


def _median(distances: np.ndarray) -> float:
    return float(np.median(distances)) if len(distances) else math.nan


def rows_to_test(benchmark_rows: int) -> int:
    """How many of an upload's rows are tested against a benchmark of ``benchmark_rows``."""
    return min(MAX_TESTED_ROWS, max(MIN_TESTED_ROWS, PAIR_BUDGET // max(benchmark_rows, 1)))


def _nearest(a: np.ndarray, b: np.ndarray, bounds: np.ndarray, self_excluded: bool = False,
             step: int = 1) -> np.ndarray:
    """Every ``step``-th row of ``a``: the distance to its nearest row of ``b`` (not itself when ``a`` is ``b``)."""
    chosen = np.arange(0, len(a), step)
    out = np.empty(len(chosen), dtype=np.int32)
    for start in range(0, len(chosen), _BLOCK):
        which = chosen[start:start + _BLOCK]
        distances = _differences(a[which], b, bounds)
        if self_excluded:
            distances[np.arange(len(which)), which] = np.iinfo(np.int32).max
        out[start:start + _BLOCK] = distances.min(axis=1)
    return out


def _nearer_z(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney's z for "``ours`` are smaller than ``theirs``" (mid-ranks, tie-corrected variance),
    and the chance that one of ours is nearer than one of theirs (ties half)."""
    pooled = np.concatenate([ours, theirs]).astype("float64")
    ranks = pd.Series(pooled).rank(method="average").to_numpy()
    n1, n2 = len(ours), len(theirs)
    u = ranks[n1:].sum() - n2 * (n2 + 1) / 2  # pairs where a benchmark row is the farther one
    _, ties = np.unique(pooled, return_counts=True)
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - (ties ** 3 - ties).sum() / (n * (n - 1)))
    nearer = float(u / (n1 * n2))
    return (0.0 if variance <= 0 else float((u - n1 * n2 / 2) / math.sqrt(variance))), nearer


def _comparable(rows: pd.DataFrame, bench: pd.DataFrame, spec: TokenSpec, reference: pd.DataFrame | None):
    """Numeric features as float64 (categories as codes, bound 0.5: any difference), labels as codes."""
    if spec.dspy is not None:  # text inputs: no feature distance to count
        return None
    names, bounds = [], []
    for feature in spec.features:
        if feature.dtype in ("int", "float", "bool"):
            names.append(feature.name)
            observed = pd.to_numeric(bench[feature.name], errors="coerce").to_numpy("float64")
            bounds.append(max(spec.near_copy_tolerance, RESOLUTION) * feature_span(feature, observed) + 1e-12)
        elif feature.dtype == "category":
            names.append(feature.name)
            bounds.append(0.5)
    if not names:
        return None
    parts = [rows, bench] + ([] if reference is None else [reference])
    both = pd.concat([part[names + [spec.label_column]] for part in parts], ignore_index=True)
    columns = []
    for feature_name in names:
        column = both[feature_name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            columns.append(pd.to_numeric(column, errors="coerce").astype("float64").to_numpy())
        else:
            columns.append(pd.factorize(column.astype(str))[0].astype("float64"))
    values = np.column_stack(columns)
    labels = pd.factorize(both[spec.label_column].astype(str))[0]
    one, two = len(rows), len(rows) + len(bench)
    ref = (None, None) if reference is None else (values[two:], labels[two:])
    return ((values[:one], labels[:one]), (values[one:two], labels[one:two]), ref,
            np.asarray(bounds, dtype="float64"))


def _differences(a: np.ndarray, b: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many features of each row of ``a`` differ from each row of ``b`` by more than their bound."""
    counts = np.zeros((len(a), len(b)), dtype=np.int32)
    for index, bound in enumerate(bounds):
        counts += np.abs(a[:, index, None] - b[None, :, index]) > bound
    return counts
