"""Unit tests for ``hokusai.intake.cleaning``: duplicates and benchmark copies removed, counted, order kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from hokusai.intake.cleaning import clean_contribution, row_fingerprints
from hokusai.tokens.dspy_spec import DSPyProgramSpec
from hokusai.tokens.spec import FeatureSpec, TokenSpec

SPEC = TokenSpec(
    token_id="unit-token",
    model_name="unit-model",
    model_id_uint=1,
    task="multiclass_classification",
    label_column="y",
    label_values=(0, 1, 2),
    features=(FeatureSpec("a", "int", 0, 100), FeatureSpec("b", "float"), FeatureSpec("c", "string")),
    primary_metric="accuracy",
    metric_family="proportion",
    min_improvement_bps=100,
    base_data_path=Path("base.csv"),
    benchmark_path=Path("bench.csv"),
    benchmark_spec_id="unit-bench",
    benchmark_sample_cap=20000,
    min_benchmark_samples=1,
    estimator_class="sklearn.tree.DecisionTreeClassifier",
    estimator_params={},
    seed=0,
)
DSPY = dataclasses.replace(SPEC, dspy=DSPyProgramSpec(signature="a, b, c -> y"))  # text is an input
EMPTY_BENCHMARK = pd.DataFrame({"a": [], "b": [], "c": [], "y": []})


def rows(*tuples) -> pd.DataFrame:
    return pd.DataFrame(list(tuples), columns=["a", "b", "c", "y"])


def test_nothing_to_remove():
    contribution = rows((1, 0.5, "x", 0), (2, 1.5, "y", 1))
    result = clean_contribution(contribution, SPEC, EMPTY_BENCHMARK)
    pd.testing.assert_frame_equal(result.frame.sort_values("a", ignore_index=True), contribution)
    assert result.stats == {"rows_in": 2, "rows_out": 2, "duplicates_removed": 0, "benchmark_rows_removed": 0}


def test_exact_duplicates_removed_first_kept_and_counted():
    contribution = rows((1, 0.5, "x", 0), (2, 1.5, "y", 1), (1, 0.5, "x", 0), (3, 2.5, "z", 2), (1, 0.5, "x", 0))
    result = clean_contribution(contribution, SPEC, EMPTY_BENCHMARK)
    assert sorted(result.frame.values.tolist()) == [[1, 0.5, "x", 0], [2, 1.5, "y", 1], [3, 2.5, "z", 2]]
    assert list(result.frame.index) == [0, 1, 2]
    assert result.stats == {"rows_in": 5, "rows_out": 3, "duplicates_removed": 2, "benchmark_rows_removed": 0}


def test_rows_differing_only_in_label_are_not_duplicates():
    contribution = rows((1, 0.5, "x", 0), (1, 0.5, "x", 1))
    assert clean_contribution(contribution, SPEC, EMPTY_BENCHMARK).stats["duplicates_removed"] == 0


def test_benchmark_rows_removed_and_counted():
    benchmark = rows((2, 1.5, "y", 1), (9, 9.5, "q", 2))
    contribution = rows((1, 0.5, "x", 0), (2, 1.5, "y", 1), (3, 2.5, "z", 2), (9, 9.5, "q", 2))
    result = clean_contribution(contribution, SPEC, benchmark)
    assert sorted(result.frame.values.tolist()) == [[1, 0.5, "x", 0], [3, 2.5, "z", 2]]
    assert result.stats == {"rows_in": 4, "rows_out": 2, "duplicates_removed": 0, "benchmark_rows_removed": 2}


def test_benchmark_match_ignores_numeric_typing():
    """3 vs 3.0 vs "3" in numeric columns are the same row; the benchmark is typed as read from CSV."""
    benchmark = rows((3, 1.0, "y", 1), (4, 2.0, "w", 2))
    contribution = pd.DataFrame({
        "a": [3.0, "4", 5.0],
        "b": [1, "2.0", 2.0],
        "c": ["y", "w", "w"],
        "y": [1, 2, 2],
    })
    result = clean_contribution(contribution, SPEC, benchmark)
    assert result.stats["benchmark_rows_removed"] == 2
    assert result.frame["a"].tolist() == [5.0]


def test_text_inputs_compare_exactly():
    """Where text is the model's input (a DSPy token), "Y" and "y " are other inputs than "y"."""
    benchmark = rows((3, 1.0, "y", 1))
    contribution = rows((3, 1.0, "Y", 1), (3, 1.0, "y ", 1))
    assert clean_contribution(contribution, DSPY, benchmark).stats["benchmark_rows_removed"] == 0
    stats = clean_contribution(contribution, SPEC, benchmark).stats  # free text: one row, the benchmark's
    assert (stats["duplicates_removed"], stats["benchmark_rows_removed"], stats["rows_out"]) == (1, 1, 0)


def test_duplicate_of_a_benchmark_row_is_counted_once_as_benchmark():
    benchmark = rows((2, 1.5, "y", 1))
    contribution = rows((2, 1.5, "y", 1), (2, 1.5, "y", 1), (5, 5.5, "k", 0))
    stats = clean_contribution(contribution, SPEC, benchmark).stats
    assert stats == {"rows_in": 3, "rows_out": 1, "duplicates_removed": 1, "benchmark_rows_removed": 1}
    assert stats["rows_in"] == stats["rows_out"] + stats["duplicates_removed"] + stats["benchmark_rows_removed"]


def test_the_rows_kept_are_in_one_order_whatever_the_upload_order():
    """The row commitment is then a property of the rows, not of how the file was sorted."""
    numbers = (9, 3, 7, 1, 3, 8, 2)
    benchmark = rows((7, 3.5, "r7", 1))
    first = clean_contribution(rows(*[(n, n / 2, f"r{n}", n % 3) for n in numbers]), SPEC, benchmark)
    second = clean_contribution(rows(*[(n, n / 2, f"r{n}", n % 3) for n in reversed(numbers)]), SPEC, benchmark)
    assert sorted(first.frame["a"].tolist()) == [1, 2, 3, 8, 9]
    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_labels_are_cast_to_the_spec_label_type():
    contribution = rows((1, 0.5, "x", 0.0), (2, 1.5, "y", 2.0))
    result = clean_contribution(contribution, SPEC, EMPTY_BENCHMARK)
    assert result.frame["y"].tolist() == [0, 2]
    assert all(type(v) is int for v in result.frame["y"].tolist())


def test_extra_columns_do_not_enter_the_fingerprint():
    left = rows((1, 0.5, "x", 0)).assign(note="first")
    right = rows((1, 0.5, "x", 0)).assign(note="second")
    assert row_fingerprints(left, SPEC).tolist() == row_fingerprints(right, SPEC).tolist()


def test_fingerprint_independent_of_column_order():
    frame = rows((1, 0.5, "x", 0), (2, 1.5, "y", 1))
    assert row_fingerprints(frame, SPEC).tolist() == row_fingerprints(frame[["y", "c", "b", "a"]], SPEC).tolist()


@pytest.mark.parametrize("other, same", [(1.0 + 1e-12, True), (1.0 + 1e-6, False), ("1", True), ("1.000", True)])
def test_fingerprint_rounds_numbers_to_nine_places(other, same):
    base = rows((1, 1.0, "x", 0))
    variant = pd.DataFrame({"a": [1], "b": [other], "c": ["x"], "y": [0]})
    assert bool(row_fingerprints(base, SPEC).iloc[0] == row_fingerprints(variant, SPEC).iloc[0]) is same


def test_nothing_left():
    benchmark = rows((1, 0.5, "x", 0))
    result = clean_contribution(rows((1, 0.5, "x", 0), (1, 0.5, "x", 0)), SPEC, benchmark)
    assert result.frame.empty
    assert result.stats == {"rows_in": 2, "rows_out": 0, "duplicates_removed": 1, "benchmark_rows_removed": 1}


def test_category_features_compare_as_text():
    spec = dataclasses.replace(SPEC, features=(FeatureSpec("c", "category", categories=("x", "y")),))
    benchmark = pd.DataFrame({"c": ["x"], "y": [0]})
    result = clean_contribution(pd.DataFrame({"c": ["x", "y"], "y": [0, 0]}), spec, benchmark)
    assert result.stats["benchmark_rows_removed"] == 1
    assert result.frame["c"].tolist() == ["y"]


def test_validated_contribution_with_text_labels_matches_benchmark():
    """After validation normalises labels ("1" -> 1), benchmark copies are found as in the pipeline."""
    from hokusai.intake.validation import validate_contribution

    benchmark = rows((3, 1.0, "y", 1))
    contribution = pd.DataFrame({"a": ["3", "4"], "b": ["1.0", "2"], "c": ["y", "y"], "y": ["1", "1.0"]})
    report = validate_contribution(contribution, SPEC)
    assert report.passed, report.summary()
    result = clean_contribution(report.frame, SPEC, benchmark)
    assert result.stats["benchmark_rows_removed"] == 1
    assert result.frame.values.tolist() == [[4.0, 2.0, "y", 1]]


# --- free text is no model input of a scikit-learn token ------------------------------------

def test_a_copy_with_other_free_text_is_still_a_duplicate_and_the_row_kept_does_not_depend_on_order():
    """'c' is free text: the model never sees it, so (1, 0.5, 'x', 0) and (1, 0.5, 'zz', 0) are one row
    to it. Which text is kept is fixed by the rows, not by their order in the upload."""
    contribution = rows((1, 0.5, "x", 0), (1, 0.5, "zz", 0), (2, 1.5, "y", 1))
    kept = []
    for order in ([0, 1, 2], [1, 0, 2], [2, 1, 0]):
        result = clean_contribution(contribution.iloc[order].reset_index(drop=True), SPEC, EMPTY_BENCHMARK)
        assert result.stats["duplicates_removed"] == 1 and result.stats["rows_out"] == 2
        kept.append(result.frame.values.tolist())
    assert kept[0] == kept[1] == kept[2]


def test_a_benchmark_row_with_other_free_text_is_a_benchmark_copy():
    benchmark = rows((7, 2.5, "benchmark text", 1))
    contribution = rows((7, 2.5, "something else", 1), (2, 1.5, "y", 1))
    result = clean_contribution(contribution, SPEC, benchmark)
    assert result.stats["benchmark_rows_removed"] == 1 and result.frame["a"].tolist() == [2]


def test_a_champions_row_with_other_free_text_is_a_known_row():
    from hokusai.chain.new_rows import find_new_rows

    training = rows((1, 0.5, "the champion's text", 0))
    found = find_new_rows(rows((1, 0.5, "re-worded", 0), (1, 0.5, "x", 1)), training, SPEC)
    assert found.keep.tolist() == [False, True] and found.exact_copies == 1


def test_a_dspy_tokens_text_is_its_input_and_is_compared():
    assert SPEC.compared_columns == ["a", "b", "y"]
    assert DSPY.compared_columns == ["a", "b", "c", "y"]
