"""New rows only: exact copies and near-copies of the champion's rows are found, new rows are kept."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hokusai.chain.new_rows import find_new_rows
from hokusai.settings import REPO_ROOT
from hokusai.token_spec import FeatureSpec, load_token_spec, read_token_table
from hokusai_assets_tests.spec_factory import binary_spec

DEMO = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")
BASE = read_token_table(DEMO.base_data_path)
IMPROVING = pd.read_csv(REPO_ROOT / "tokens" / "digits-demo" / "samples" / "improving.csv")
BENCHMARK = read_token_table(DEMO.benchmark_path)


def nudged(frame: pd.DataFrame, step: int, share: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pixels = DEMO.feature_names
    values = frame[pixels].to_numpy()
    out = frame.copy()
    out[pixels] = np.clip(values + rng.choice([-step, step], size=values.shape) * (rng.random(values.shape) < share),
                          0, 16)
    return out


def test_exact_copies_are_counted_as_known_rows():
    found = find_new_rows(pd.concat([BASE.iloc[:20], IMPROVING.iloc[:5]]), BASE, DEMO)
    assert (found.exact_copies, found.near_copies, int(found.keep.sum())) == (20, 0, 5)


@pytest.mark.parametrize("step", [1, 2])
def test_copies_nudged_within_the_tolerance_are_near_copies(step):
    for share in (0.15, 0.5, 1.0):
        found = find_new_rows(nudged(BASE, step, share), BASE, DEMO)
        assert found.keep.sum() == 0 and found.near_copies + found.exact_copies == len(BASE)


def test_a_nudge_beyond_the_tolerance_is_new_by_the_rule():
    found = find_new_rows(nudged(BASE, 3, 1.0), BASE, DEMO)  # every pixel that can move 3 levels, moved
    assert found.keep.sum() > 0.9 * len(BASE)


def test_genuinely_new_images_are_all_kept():
    """The measured margin: a new image of a class is >= 4 levels from its nearest training image."""
    assert find_new_rows(IMPROVING, BASE, DEMO).keep.all()
    assert find_new_rows(BENCHMARK, pd.concat([BASE, IMPROVING]), DEMO).keep.all()


def test_the_label_must_match_for_a_near_copy():
    relabelled = BASE.copy()
    relabelled["digit"] = (relabelled["digit"] + 1) % 10
    assert find_new_rows(relabelled, BASE, DEMO).keep.all()


def test_the_bucketed_search_finds_exactly_what_brute_force_finds():
    rng = np.random.default_rng(7)
    spec = dataclasses.replace(binary_spec(*(FeatureSpec(f"x{i}", "int", 0, 40) for i in range(6))),
                               near_copy_tolerance=0.1)
    training = pd.DataFrame(rng.integers(0, 41, size=(400, 6)), columns=[f"x{i}" for i in range(6)])
    training["y"] = rng.integers(0, 2, size=400)
    rows = training.sample(300, random_state=1, replace=True).reset_index(drop=True)
    rows[[f"x{i}" for i in range(6)]] += rng.integers(-6, 7, size=(300, 6))
    found = find_new_rows(rows, training, spec)
    features = [f"x{i}" for i in range(6)]
    distance = np.abs(rows[features].to_numpy()[:, None, :] - training[features].to_numpy()[None, :, :]).max(axis=2)
    same_label = rows["y"].to_numpy()[:, None] == training["y"].to_numpy()[None, :]
    brute = ((distance <= 0.1 * 40) & same_label).any(axis=1)
    assert 0 < brute.sum() < len(rows)  # the case has both kinds
    np.testing.assert_array_equal(~found.keep, brute)


def test_by_default_only_exact_copies_are_removed():
    spec = binary_spec(FeatureSpec("x", "float", 0, 1))
    training = pd.DataFrame({"x": [0.5], "y": [0]})
    assert find_new_rows(pd.DataFrame({"x": [0.5, 0.5001], "y": [0, 0]}), training, spec).keep.tolist() == [False, True]


def test_category_features_must_be_equal():
    spec = dataclasses.replace(binary_spec(FeatureSpec("x", "float", 0, 1),
                                           FeatureSpec("c", "category", None, None, ("a", "b"))), near_copy_tolerance=0.1)
    training = pd.DataFrame({"x": [0.5, 0.5], "c": ["a", "a"], "y": [0, 1]})
    rows = pd.DataFrame({"x": [0.51, 0.51], "c": ["a", "b"], "y": [0, 0]})
    assert find_new_rows(rows, training, spec).keep.tolist() == [False, True]
