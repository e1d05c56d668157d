"""The GX suites on small frames: what passes, what fails and how the failure reads.

GX runs with pandas' copy-on-write and Arrow strings (``hokusai.intake.expectations``);
these check that the answers are the ones the rules ask for, whatever the column
types, and that the caller's pandas settings and frame are left as they were.
"""

from __future__ import annotations

import pandas as pd
import pytest

from hokusai.intake.expectations import clean_data_expectations, contribution_expectations, run_expectations
from hokusai.tokens.spec import FeatureSpec
from hokusai_assets_tests.spec_factory import binary_spec

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
SPEC = binary_spec(FeatureSpec("x", "float", minimum=0, maximum=10), FeatureSpec("note", "string"),
                   FeatureSpec("tx_hash", "string"), FeatureSpec("color", "category", categories=("red", "blue")))


def _clean_frame(**columns) -> pd.DataFrame:
    base = {"x": [1.0, 2.0, 3.0], "note": ["fine", None, "ok [pii:email:0123456789abcdef01234567]"],
            "tx_hash": ["0x" + KEY, None, KEY], "color": ["red", "blue", "red"], "y": [0, 1, 0]}
    return pd.DataFrame({**base, **columns})


def test_scrubbed_rows_pass_and_a_public_hash_column_keeps_its_hashes():
    report = run_expectations(_clean_frame(), clean_data_expectations(SPEC, _clean_frame()), "clean")
    assert report.passed, report.failures
    assert report.evaluated == 3 + 3  # row count, label not null, label in set + note, tx_hash, color


@pytest.mark.parametrize("leftover", ["write to jane.doe@example.com", "ssn 123-45-6789 here", "key " + KEY])
def test_leftover_pii_fails_in_words_without_the_value(leftover):
    frame = _clean_frame(note=["fine", leftover, None])
    report = run_expectations(frame, clean_data_expectations(SPEC, frame), "clean")
    [failure] = report.failures
    assert failure["problem"] == "expected that no personal data is left in 'note', but 1 value(s) do not"
    assert leftover not in str(failure) and "regex" not in failure["expected"]


def test_a_mixed_type_column_is_still_checked():
    frame = _clean_frame(note=[7, "mail a@b.co", 2.5])
    report = run_expectations(frame, clean_data_expectations(SPEC, frame), "clean")
    assert [f["meaning"] for f in report.failures] == ["no personal data is left in 'note'"]


def test_contribution_suite_names_each_problem_with_examples():
    frame = pd.DataFrame({"x": [1.0, 11.0, 3.0], "note": ["a", "b", "c"], "tx_hash": ["", "", ""],
                          "color": ["red", "green", "blue"], "y": [0, 1, 5]})
    report = run_expectations(frame, contribution_expectations(SPEC), "contribution")
    problems = sorted(f["problem"] for f in report.failures)
    assert problems == ["expected that 'color' is one of its categories, but 1 value(s) do not (e.g. green)",
                        "expected that 'x' lies between 0 and 10, but 1 value(s) do not (e.g. 11.0)",
                        "expected that labels in 'y' are among [0, 1], but 1 value(s) do not (e.g. 5)"]


def test_the_callers_frame_and_pandas_settings_are_untouched():
    frame = _clean_frame(note=["a@b.co", None, "x"])
    before = frame.copy()
    run_expectations(frame, clean_data_expectations(SPEC, frame), "clean")
    pd.testing.assert_frame_equal(frame, before)
    assert frame["note"].dtype == object
    assert pd.get_option("mode.copy_on_write") is False and pd.get_option("future.infer_string") is False


def test_a_check_that_cannot_run_is_named_and_blames_nothing_else():
    """A text value in a numeric column makes GX's range check raise, and GX then returns its result
    out of the suite's order: the failure was reported as "the file has exactly the token's columns"."""
    frame = pd.DataFrame({"x": [1.0, "abc", 3.0], "note": ["a", "b", "c"], "tx_hash": ["", "", ""],
                          "color": ["red", "blue", "red"], "y": [0, 1, 0]})
    report = run_expectations(frame, contribution_expectations(SPEC), "contribution")
    [failure] = report.failures
    assert failure["meaning"] == "'x' lies between 0 and 10"
    assert failure["problem"].startswith("cannot check that 'x' lies between 0 and 10: ")
    assert "columns" not in report.summary()
