"""The no-information generator: seeded, built from the champion's rows only, the documented shapes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hokusai.tokens.spec import load_token_spec, read_token_table
from hokusai.harness.no_information import (
    JITTER_PROBABILITY, STANDARD_SET, improving_slice, no_information_case, no_information_cases, real_cases,
    without_champion_copies,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")
CHAMPION = read_token_table(DEMO.base_data_path)
FEATURES = DEMO.feature_names


def as_rows(frame):
    return Counter(frame[[*FEATURES, DEMO.label_column]].itertuples(index=False, name=None))


def test_the_standard_set_has_sixty_cases_of_every_kind_and_is_seeded():
    cases = no_information_cases(CHAMPION, DEMO)
    assert len(cases) == 60 == sum(count for _, _, count in STANDARD_SET)
    assert {case.kind for case in cases} == {"jitter", "reorder", "resample", "jittered-resample"}
    assert len({case.name for case in cases}) == 60 and not any(case.informative for case in cases)
    again = no_information_cases(CHAMPION, DEMO)
    assert all(a.rows.equals(b.rows) for a, b in zip(cases, again))
    assert {len(case.rows) for case in cases} == {150, 350, 450}


def test_jitter_moves_pixels_by_one_within_range_and_keeps_labels():
    case = no_information_case(CHAMPION, DEMO, "jitter", seed=1)
    moved = case.rows[FEATURES].to_numpy() - CHAMPION[FEATURES].to_numpy()
    assert set(np.unique(moved)) == {-1, 0, 1}
    assert case.rows[FEATURES].to_numpy().min() >= 0 and case.rows[FEATURES].to_numpy().max() <= 16
    assert case.rows[DEMO.label_column].equals(CHAMPION[DEMO.label_column])
    free = (CHAMPION[FEATURES].to_numpy() > 0) & (CHAMPION[FEATURES].to_numpy() < 16)  # never clipped
    assert abs((moved[free] != 0).mean() - JITTER_PROBABILITY) < 0.01
    assert len(no_information_case(CHAMPION, DEMO, "jitter", seed=1, size=3).rows) == 450


def test_reorderings_and_resamples_are_champion_rows():
    reorder = no_information_case(CHAMPION, DEMO, "reorder", seed=2).rows
    assert as_rows(reorder) == as_rows(CHAMPION) and not reorder.equals(CHAMPION)
    resample = no_information_case(CHAMPION, DEMO, "resample", seed=3, size=350).rows
    assert len(resample) == 350 and set(as_rows(resample)) <= set(as_rows(CHAMPION))
    assert len(without_champion_copies(resample, CHAMPION, DEMO)) == 0
    jittered = no_information_case(CHAMPION, DEMO, "jittered-resample", seed=4).rows
    assert len(without_champion_copies(jittered, CHAMPION, DEMO)) > 140  # near-copies, not exact ones


def test_real_cases_and_slices_are_one_based_inclusive():
    cases = {case.name: case for case in real_cases()}
    improving = cases["improving"].rows
    assert len(improving) == 350 and len(cases["improving[246-295]"].rows) == 50
    assert cases["improving[246-295]"].rows.equals(improving.iloc[245:295].reset_index(drop=True))
    assert improving_slice(improving, 1, 1).equals(improving.iloc[:1])
    assert not cases["label-noise"].informative


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown no-information kind"):
        no_information_case(CHAMPION, DEMO, "shuffle-labels", seed=1)
