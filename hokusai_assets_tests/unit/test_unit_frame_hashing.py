"""``hokusai.commitments.frame_hashing`` gives exactly pandas' row hashes, whichever path a column takes."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pytest

from hokusai.commitments.frame_hashing import column_hashes, frame_row_hashes, row_hashes


def _texts(n: int, missing_every: int = 0, missing=None) -> np.ndarray:
    values = np.array([f"review {i} é ✓ {i * 7919 % 10007}" for i in range(n)], dtype=object)
    if missing_every:
        values[::missing_every] = missing
    return values


@pytest.mark.parametrize("values", [
    _texts(20_000),  # distinct strings: the direct path
    _texts(20_000, 7, None), _texts(20_000, 5, np.nan), _texts(20_000, 3, pd.NA),
    np.array(["a", "b", "c", None] * 5_000, dtype=object),  # repeated: pandas' path
    np.array([*_texts(19_999), 3], dtype=object),  # a number among strings: pandas' path
    np.array([*_texts(19_999), decimal.Decimal("NaN")], dtype=object),
    np.array([*range(10_000), *map(float, range(10_000))], dtype=object),  # 1 and 1.0 mixed
    np.arange(20_000, dtype="float64"), np.arange(30, dtype="int64"), np.array([], dtype=object),
    _texts(50),
])
def test_column_hashes_equal_pandas(values):
    assert np.array_equal(column_hashes(values), pd.util.hash_array(values))


def test_nulls_get_pandas_marker_not_the_hash_of_their_text():
    values = _texts(20_000, 2, None)
    hashed = column_hashes(values)
    assert (hashed[::2] == np.iinfo(np.uint64).max).all()
    assert len(set(hashed[1::2].tolist())) == 10_000


def test_frame_row_hashes_equal_hash_pandas_object():
    n = 20_000
    frame = pd.DataFrame({
        "text": _texts(n, 11, None), "email": [f"[pii:email:{i:024x}]" for i in range(n)],
        "country": np.array(["US", "GB", None, "FR"] * (n // 4), dtype=object),
        "x": np.linspace(-1, 1, n), "k": np.arange(n), "flag": pd.array([True, False, None, True] * (n // 4)),
        "cat": pd.Categorical(["a", "b"] * (n // 2)), "when": pd.date_range("2024-01-01", periods=n, freq="s"),
    })
    expected = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    assert np.array_equal(frame_row_hashes(frame), expected)
    changed = frame.copy()
    changed.loc[5, "text"] = "something else"
    assert (frame_row_hashes(changed) != expected).sum() == 1


def test_row_hashes_of_no_rows_and_no_columns():
    assert len(row_hashes([np.array([], dtype=object), np.array([], dtype="float64")])) == 0
    assert len(row_hashes([])) == 0


def test_row_fingerprints_are_the_hashes_of_the_normalized_frame():
    """Dedup keys stay what they were: hash_pandas_object of numbers rounded and text as str."""
    from hokusai.intake.cleaning import row_fingerprints
    from hokusai.tokens.spec import FeatureSpec
    from hokusai_assets_tests.spec_factory import binary_spec

    spec = binary_spec(FeatureSpec("a", "int"), FeatureSpec("b", "float"), FeatureSpec("c", "string"),
                       FeatureSpec("d", "string"))
    n = 20_000
    frame = pd.DataFrame({
        "a": np.arange(n), "b": np.linspace(0, 1, n), "c": _texts(n, 13, None),
        "d": np.array([*_texts(n - 2), 3, 4.5], dtype=object), "y": [0, 1] * (n // 2),
    })
    normalized = frame[["a", "b", "c", "d", "y"]].apply(
        lambda column: pd.to_numeric(column, errors="coerce").astype("float64").round(9)
        if column.name in ("a", "b") else column.astype(str))
    assert row_fingerprints(frame, spec).tolist() == pd.util.hash_pandas_object(normalized, index=False).tolist()


def test_row_fingerprints_of_many_table_columns_across_blocks():
    """Integer columns of a narrow range are combined a block of rows at a time (``combine_stream``):
    the same bits across block boundaries, with negative values, a float column between them and
    a uint8 column, as pandas gives for the normalized frame."""
    from hokusai.commitments.frame_hashing import _ROWS_AT_ONCE
    from hokusai.intake.cleaning import row_fingerprints
    from hokusai.tokens.spec import FeatureSpec
    from hokusai_assets_tests.spec_factory import binary_spec

    n = 2 * _ROWS_AT_ONCE + 123
    rng = np.random.default_rng(0)
    spec = binary_spec(FeatureSpec("p0", "int"), FeatureSpec("p1", "int"), FeatureSpec("f", "float"),
                       FeatureSpec("p2", "int"), FeatureSpec("u", "int"))
    frame = pd.DataFrame({"p0": rng.integers(0, 17, n), "p1": rng.integers(-40, -20, n), "f": rng.random(n),
                          "p2": rng.integers(1000, 1003, n), "u": rng.integers(0, 200, n).astype(np.uint8),
                          "y": rng.integers(0, 2, n)})
    normalized = frame.apply(lambda column: column.astype("float64").round(9) if column.name != "y"
                             else column.astype(str))
    assert row_fingerprints(frame, spec).tolist() == pd.util.hash_pandas_object(normalized, index=False).tolist()


def test_combine_stream_refuses_a_wrong_column_count():
    from hokusai.commitments.frame_hashing import combine_stream

    with pytest.raises(ValueError, match="2 columns' hashes, not 3"):
        combine_stream(iter([np.zeros(4, np.uint64), np.ones(4, np.uint64)]), 3)


@pytest.mark.parametrize("duplicates", [0, 3])
def test_dedup_text_hashes_give_the_same_frame_sha256(duplicates):
    """clean() hands dedup's text-column hashes to frame_sha256: same digest as hashing afresh."""
    from hokusai.intake.cleaning import clean_contribution
    from hokusai.intake.read import frame_sha256
    from hokusai.tokens.spec import FeatureSpec
    from hokusai_assets_tests.spec_factory import binary_spec

    spec = binary_spec(FeatureSpec("a", "float"), FeatureSpec("c", "string"), FeatureSpec("d", "string"))
    n = 20_000
    frame = pd.DataFrame({"a": np.linspace(0, 1, n), "c": _texts(n), "d": _texts(n, 9, None),
                          "y": [0, 1] * (n // 2)})
    frame = pd.concat([frame, frame.iloc[:duplicates]], ignore_index=True)
    result = clean_contribution(frame, spec, frame.iloc[:0])
    assert set(result.text_hashes) == {"c"}  # "d" holds None, which dedup compares as the text "None"
    assert len(result.frame) == n and result.stats["duplicates_removed"] == duplicates
    assert frame_sha256(result.frame, result.text_hashes) == frame_sha256(result.frame)
    assert np.array_equal(frame_row_hashes(result.frame, result.text_hashes),
                          pd.util.hash_pandas_object(result.frame, index=False).to_numpy())
