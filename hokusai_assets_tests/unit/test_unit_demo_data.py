"""Unit tests for ``hokusai.tokens.demo_data``: the committed demo CSVs are reproducible, splits are sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.tokens.demo_data import (
    LABEL_COLUMN,
    digits_frame,
    mock_contribution,
    split_demo_data,
    write_demo_token,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "tokens" / "digits-demo"
FILES = {
    "base": "base.csv",
    "benchmark": "benchmark.csv",
    "improving": "samples/improving.csv",
    "label-noise": "samples/label-noise.csv",
}


@pytest.fixture(scope="module")
def frame():
    return digits_frame()


@pytest.fixture(scope="module")
def parts(frame):
    return split_demo_data(frame)


def test_digits_frame_shape_and_types(frame):
    assert frame.shape == (1797, 65)
    assert list(frame.columns[:2]) == ["pixel_0_0", "pixel_0_1"] and frame.columns[-1] == LABEL_COLUMN
    assert (frame.dtypes == np.int64).all()
    assert frame.drop(columns=LABEL_COLUMN).to_numpy().min() == 0
    assert frame.drop(columns=LABEL_COLUMN).to_numpy().max() == 16
    assert sorted(frame[LABEL_COLUMN].unique()) == list(range(10))


@pytest.mark.parametrize("name", sorted(FILES))
def test_split_reproduces_committed_csv_bytes(parts, tmp_path, name):
    out = tmp_path / f"{name}.csv"
    parts[name].to_csv(out, index=False, lineterminator="\n")
    assert out.read_bytes() == (DATA_DIR / FILES[name]).read_bytes()


def test_write_demo_token_reproduces_committed_files(tmp_path):
    written = write_demo_token(tmp_path)
    assert [p.relative_to(tmp_path / "digits-demo").as_posix() for p in written] == list(FILES.values())
    for path in written:
        assert path.read_bytes() == (DATA_DIR / path.relative_to(tmp_path / "digits-demo")).read_bytes()


def test_split_sizes(parts):
    assert {name: len(part) for name, part in parts.items()} == {
        "benchmark": 1000, "base": 150, "improving": 350, "label-noise": 297,
    }


def test_splits_are_disjoint_and_cover_everything(parts, frame):
    indexes = [set(part.index) for part in parts.values()]
    for i, left in enumerate(indexes):
        for right in indexes[i + 1:]:
            assert not left & right
    assert set().union(*indexes) == set(frame.index)


def test_split_is_stratified(parts, frame):
    share = frame[LABEL_COLUMN].value_counts(normalize=True)
    for name in ("benchmark", "base", "improving"):
        counts = parts[name][LABEL_COLUMN].value_counts()
        expected = share * len(parts[name])
        assert ((counts - expected).abs() <= 1.5).all(), name


def test_split_rows_are_the_original_rows(parts, frame):
    for name in ("benchmark", "base", "improving"):
        pd.testing.assert_frame_equal(parts[name], frame.loc[parts[name].index])


def test_label_noise_keeps_pixels_and_scrambles_labels(parts, frame):
    noise = parts["label-noise"]
    pixels = frame.columns.drop(LABEL_COLUMN)
    pd.testing.assert_frame_equal(noise[pixels], frame.loc[noise.index, pixels])
    assert noise[LABEL_COLUMN].between(0, 9).all()
    agreement = (noise[LABEL_COLUMN] == frame.loc[noise.index, LABEL_COLUMN]).mean()
    assert agreement < 0.3  # random labels agree about 10% of the time


def test_split_does_not_modify_input(frame):
    before = frame.copy()
    split_demo_data(frame)
    pd.testing.assert_frame_equal(frame, before)


# --- mock_contribution --------------------------------------------------------------------------

def test_mock_contribution_is_deterministic_per_seed(parts):
    first = mock_contribution(parts["improving"], seed=5)
    second = mock_contribution(parts["improving"], seed=5)
    pd.testing.assert_frame_equal(first, second)
    assert first.to_csv(index=False).encode() == second.to_csv(index=False).encode()


def test_mock_contribution_differs_across_seeds(parts):
    assert not mock_contribution(parts["improving"], seed=5).equals(mock_contribution(parts["improving"], seed=6))


def test_mock_contribution_shape_and_value_range(parts):
    improving = parts["improving"]
    mock = mock_contribution(improving, seed=1)
    assert len(mock) == 200 and list(mock.columns) == list(improving.columns)
    assert list(mock.index) == list(range(200))
    pixels = mock.drop(columns=LABEL_COLUMN).to_numpy()
    assert pixels.min() >= 0 and pixels.max() <= 16
    assert mock[LABEL_COLUMN].isin(range(10)).all()
    assert len(mock_contribution(improving, seed=1, rows=10_000)) == len(improving)


def test_mock_contribution_jitters_only_lit_pixels_by_at_most_one(parts):
    improving = parts["improving"]
    mock = mock_contribution(improving, seed=3)
    source = improving.sample(n=200, random_state=3).reset_index(drop=True)
    pd.testing.assert_series_equal(mock[LABEL_COLUMN], source[LABEL_COLUMN])
    before = source.drop(columns=LABEL_COLUMN).to_numpy()
    after = mock.drop(columns=LABEL_COLUMN).to_numpy()
    assert (after[before == 0] == 0).all()
    assert np.abs(after - before).max() == 1
    assert (after != before).any()


def test_mock_contribution_does_not_modify_input(parts):
    improving = parts["improving"].copy()
    mock_contribution(improving, seed=9)
    pd.testing.assert_frame_equal(improving, parts["improving"])
