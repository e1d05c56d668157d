"""``hokusai.intake.table_profile``: Arrow's null counts are the ones pandas gives, or left to pandas."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hokusai.intake.loading import load_contribution, profile_frame
from hokusai.intake.table_profile import column_nulls, table_nulls


@pytest.mark.parametrize("array", [
    pa.array(["a", "b", None, "a"]), pa.array([1, None, 3]), pa.array([True, None, False]),
    pa.array([0.0, np.nan, None, 1.5]), pa.array([None, None], type=pa.null()), pa.array([], type=pa.string()),
])
def test_null_counts_are_pandas_counts(array):
    column = pa.chunked_array([array])
    assert column_nulls(column) == int(column.to_pandas().isna().sum())


def test_nan_counts_as_missing_and_other_types_are_left_to_pandas():
    assert column_nulls(pa.chunked_array([pa.array([np.nan, 1.0, None])])) == 2
    assert column_nulls(pa.chunked_array([pa.array([1], type=pa.date32())])) is None
    assert table_nulls(pa.table({"s": ["x", None], "f": [np.nan, 2.0]})) == [1, 1]


@pytest.mark.parametrize("raw", [
    b"a,b,c\n1,,x\n1,2.5,\n,2.5,\n",
    b"x,y\n-0.0,0.0\n0.0,-0.0\nNAN,nan\n1e400,inf\n",
    b"big,z\n9007199254740993,a\n9007199254740992,b\n,c\n",
    b"d,t,ts,x\n2024-01-02,12:30:00,2024-01-02 10:00:00,a\n2024-01-03,13:00:00,2024-01-02T10:00:00Z,\n",
    b"flag,e\ntrue,\nfalse,\n,\n",
])
def test_loaded_manifest_profile_is_the_pandas_profile_of_the_frame(raw):
    loaded = load_contribution(raw, "f.csv", "uri", "etag")
    profile = profile_frame(loaded.frame)
    assert {key: loaded.manifest[key] for key in profile} == profile


def test_text_that_looks_like_time_stays_text():
    frame = load_contribution(b"ts,d\n2024-01-02 10:00:00,2024-01-02\n2024-01-03T11:00:00Z,2024-01-03\n",
                              "f.csv", "uri", "etag").frame
    assert frame.to_dict("list") == {"ts": ["2024-01-02 10:00:00", "2024-01-03T11:00:00Z"],
                                     "d": ["2024-01-02", "2024-01-03"]}
