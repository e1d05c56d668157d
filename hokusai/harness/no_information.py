"""Contributions that carry no new information, and real ones, for the eligibility rule.

A reward must not be paid for noise. The no-information cases are built from the
champion's own training rows only, so any gain they score is training randomness or
benchmark luck: jittered copies (each pixel moves by one step, up or down with equal
odds, with probability 0.15, clipped to the feature's range), reorderings, resamples
with replacement, and jittered resamples. The real cases are the demo's samples and
slices of ``improving.csv``. Everything is a function of its seed: the same call gives
the same rows. Used by ``bench/eligibility_bench.py`` (all of them) and by the tests
(a subset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hokusai.settings import REPO_ROOT
from hokusai.tokens.spec import TokenSpec

JITTER_PROBABILITY = 0.15
KINDS = ("jitter", "reorder", "resample", "jittered-resample")
# The standard set of 60: (kind, size, how many). A jitter's size is in copies of the
# champion's rows, a resample's in rows (None: as many as the champion has). Sizes
# reach 350 rows, the size of improving.csv: the free gain of copies grows with size.
STANDARD_SET = (
    ("jitter", 1, 15), ("jitter", 3, 5),
    ("reorder", None, 5),
    ("resample", None, 10), ("resample", 350, 5),
    ("jittered-resample", None, 10), ("jittered-resample", 350, 10),
)
SAMPLES = REPO_ROOT / "tokens" / "digits-demo" / "samples"
# (first, last) data rows of improving.csv, 1-based and inclusive, as a person reads a CSV;
# 246-295 is the slice a reviewer measured at +110 bps, interval [-20, +250].
IMPROVING_SLICES = ((246, 295), (1, 50), (101, 150), (301, 350), (1, 100), (151, 250), (1, 200), (151, 350))


@dataclass(frozen=True)
class Case:
    """One contribution to evaluate, with what it is and whether it carries information."""

    name: str
    kind: str
    rows: pd.DataFrame
    informative: bool


def jitter(frame: pd.DataFrame, spec: TokenSpec, rng: np.random.Generator,
           probability: float = JITTER_PROBABILITY) -> pd.DataFrame:
    """``frame`` with each numeric feature moved by +-1 with ``probability``, clipped to its range."""
    jittered = frame.copy()
    numeric = [f for f in spec.features if f.dtype in ("int", "float")]
    names = [f.name for f in numeric]
    values = jittered[names].to_numpy(dtype="float64")
    moves = rng.choice([-1.0, 1.0], size=values.shape) * (rng.random(values.shape) < probability)
    low = np.array([-np.inf if f.minimum is None else f.minimum for f in numeric])
    high = np.array([np.inf if f.maximum is None else f.maximum for f in numeric])
    moved = np.clip(values + moves, low, high)
    for column, feature in enumerate(numeric):
        jittered[feature.name] = moved[:, column].astype(frame[feature.name].dtype)
    return jittered


def no_information_case(champion_rows: pd.DataFrame, spec: TokenSpec, kind: str, seed: int,
                        size: int | None = None) -> Case:
    """One no-information contribution of ``kind`` built from the champion's rows with ``seed``.

    ``size``: copies of every row for ``jitter`` (1 by default), rows for the resamples
    (the champion's row count by default); a reordering is always every row once.
    """
    rng = np.random.default_rng(seed)
    n = len(champion_rows)
    if kind == "jitter":
        rows = pd.concat([jitter(champion_rows, spec, rng) for _ in range(size or 1)])
    elif kind == "reorder":
        rows = champion_rows.iloc[rng.permutation(n)]
    elif kind == "resample":
        rows = champion_rows.iloc[rng.integers(0, n, size or n)]
    elif kind == "jittered-resample":
        rows = jitter(champion_rows.iloc[rng.integers(0, n, size or n)], spec, rng)
    else:
        raise ValueError(f"unknown no-information kind '{kind}'")
    label = f"x{size or 1}" if kind == "jitter" else str(size or n)
    return Case(f"{kind}-{label}-{seed}", kind, rows.reset_index(drop=True), informative=False)


def no_information_cases(champion_rows: pd.DataFrame, spec: TokenSpec,
                         plan: tuple[tuple[str, int | None, int], ...] = STANDARD_SET,
                         first_seed: int = 1000) -> list[Case]:
    """The cases of ``plan`` (the standard 60 by default); seeds run on from ``first_seed``."""
    cases, seed = [], first_seed
    for kind, size, count in plan:
        for _ in range(count):
            cases.append(no_information_case(champion_rows, spec, kind, seed, size))
            seed += 1
    return cases


def improving_slice(improving: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """Data rows ``first``..``last`` (1-based, inclusive) of improving.csv."""
    return improving.iloc[first - 1:last].reset_index(drop=True)


def real_cases(samples_dir: Path = SAMPLES) -> list[Case]:
    """The demo's real contributions: improving.csv, slices of it, and the label-noise sample."""
    improving = pd.read_csv(Path(samples_dir) / "improving.csv")
    cases = [Case("improving", "real", improving, informative=True)]
    for first, last in IMPROVING_SLICES:
        cases.append(Case(f"improving[{first}-{last}]", "real-slice", improving_slice(improving, first, last), True))
    cases.append(Case("label-noise", "label-noise", pd.read_csv(Path(samples_dir) / "label-noise.csv"), False))
    return cases


def without_champion_copies(contribution: pd.DataFrame, champion_rows: pd.DataFrame,
                            spec: TokenSpec) -> pd.DataFrame:
    """The contribution's rows that are not exact copies of a champion row (features and label).

    A stand-in for the platform's "new rows only" filter, to measure the statistic
    with exact copies removed as well as alone.
    """
    columns = [*spec.feature_names, spec.label_column]
    seen = set(champion_rows[columns].itertuples(index=False, name=None))
    keep = [row not in seen for row in contribution[columns].itertuples(index=False, name=None)]
    return contribution[np.array(keep, dtype=bool)].reset_index(drop=True)
