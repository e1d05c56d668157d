"""Unit tests for ``hokusai.intake.validation.validate_contribution``: every schema problem, in words."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.tokens.spec import FeatureSpec, TokenSpec
from hokusai.intake.validation import SchemaProblem, validate_contribution

SPEC = TokenSpec(
    token_id="unit-token",
    model_name="unit-model",
    model_id_uint=1,
    task="multiclass_classification",
    label_column="y",
    label_values=(0, 1, 2),
    features=(
        FeatureSpec("a", "int", 0, 10),
        FeatureSpec("b", "float", None, None),
        FeatureSpec("c", "category", categories=("red", "green")),
    ),
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
DROP = dataclasses.replace(SPEC, unknown_columns="drop")


def frame(**overrides) -> pd.DataFrame:
    data = {"a": [1, 2, 3], "b": [0.5, 1.5, -2.0], "c": ["red", "green", "red"], "y": [0, 1, 2]}
    data.update(overrides)
    return pd.DataFrame({k: v for k, v in data.items() if v is not None})


def codes(report) -> list[str]:
    return [p.code for p in report.problems]


def only(report, code: str) -> SchemaProblem:
    matches = [p for p in report.problems if p.code == code]
    assert len(matches) == 1, report.problems
    return matches[0]


def test_valid_contribution_passes_and_is_coerced():
    report = validate_contribution(frame(), SPEC)
    assert report.passed and report.problems == []
    assert report.summary() == "schema OK"
    assert report.coercion_errors == {} and report.dropped_columns == []
    assert report.frame["a"].dtype == np.float64 and report.frame["b"].dtype == np.float64
    assert report.frame["y"].tolist() == [0, 1, 2]


def test_input_frame_is_not_modified():
    original = frame(a=["1", "2", "3"])
    validate_contribution(original, SPEC)
    assert original["a"].tolist() == ["1", "2", "3"]


def test_missing_label_column():
    report = validate_contribution(frame(y=None), SPEC)
    problem = only(report, "missing_column")
    assert problem.column == "y"
    assert problem.message == "required label column 'y' is missing"
    assert problem.expected == "y" and problem.observed == ["a", "b", "c"]
    assert not report.passed


def test_missing_feature_column():
    report = validate_contribution(frame(b=None), SPEC)
    problem = only(report, "missing_column")
    assert problem.column == "b"
    assert problem.message == "required column 'b' is missing"


def test_missing_key_column_when_spec_has_one():
    spec = dataclasses.replace(SPEC, key_column="id", merge_strategy="update")
    report = validate_contribution(frame(), spec)
    assert only(report, "missing_column").message == "required column 'id' is missing"
    assert validate_contribution(frame(id=[1, 2, 3]), spec).passed


def test_unknown_columns_rejected_by_default():
    report = validate_contribution(frame(extra1=[1, 1, 1], extra2=["x", "y", "z"]), SPEC)
    problem = only(report, "unknown_columns")
    assert problem.column is None
    assert problem.message == "2 column(s) not in the token's schema: extra1, extra2"
    assert problem.observed == ["extra1", "extra2"]
    assert report.dropped_columns == []
    assert "extra1" in report.frame.columns


def test_unknown_columns_preview_is_capped():
    extras = {f"e{i}": [0, 0, 0] for i in range(7)}
    report = validate_contribution(frame(**extras), SPEC)
    assert only(report, "unknown_columns").message == (
        "7 column(s) not in the token's schema: e0, e1, e2, e3, e4 (+2 more)"
    )


def test_unknown_columns_dropped_when_spec_says_drop():
    report = validate_contribution(frame(extra=[9, 9, 9], notes=["a", "b", "c"]), DROP)
    assert report.passed
    assert report.dropped_columns == ["extra", "notes"]
    assert list(report.frame.columns) == ["a", "b", "c", "y"]


def test_non_numeric_values_are_counted_per_column():
    report = validate_contribution(frame(a=["1", "x", "y"], b=["1.5", "oops", None]), SPEC)
    assert report.coercion_errors == {"a": 2, "b": 1}  # a missing value is not a coercion error
    messages = {p.column: p for p in report.problems if p.code == "not_numeric"}
    assert messages["a"].message == "column 'a' has 2 value(s) that are not numbers"
    assert messages["a"].observed == "x, y" and messages["a"].expected == "int"
    assert messages["b"].message == "column 'b' has 1 value(s) that are not numbers"
    assert messages["b"].expected == "float"
    assert report.frame["a"].isna().tolist() == [False, True, True]


def test_numeric_strings_are_coerced_without_problems():
    report = validate_contribution(frame(a=["1", "2", "3"], b=["0.5", "1e2", "-3"]), SPEC)
    assert report.passed
    assert report.frame["a"].tolist() == [1.0, 2.0, 3.0]
    assert report.frame["b"].tolist() == [0.5, 100.0, -3.0]


def test_non_integer_in_int_column():
    report = validate_contribution(frame(a=[1, 2.5, 3.25], b=[2.5, 0.1, 7.75]), SPEC)
    problem = only(report, "not_integer")
    assert problem.column == "a"
    assert problem.message == "column 'a' has 2 non-integer value(s)"
    assert problem.observed == 2
    assert codes(report) == ["not_integer"]  # fractions in a float column are fine


def test_out_of_range_values():
    report = validate_contribution(frame(a=[-1, 5, 12]), SPEC)
    problem = only(report, "out_of_range")
    assert problem.column == "a"
    assert problem.message == "column 'a' has 2 value(s) outside [0, 10]"
    assert problem.observed == [-1.0, 12.0]
    assert problem.expected == [0, 10]


def test_range_bounds_are_inclusive():
    assert validate_contribution(frame(a=[0, 10, 5]), SPEC).passed


def test_unknown_category():
    report = validate_contribution(frame(c=["red", "blue", "pink"]), SPEC)
    problem = only(report, "unknown_category")
    assert problem.message == "column 'c' has 2 value(s) outside its categories"
    assert problem.expected == ["green", "red"]


@pytest.mark.parametrize("column, values", [
    ("a", [1, None, 3]), ("b", [0.5, np.nan, -2.0]), ("b", ["0.5", "", "1"]),
    ("c", ["red", None, "green"]),
])
def test_an_empty_feature_cell_is_refused_not_passed_on(column, values):
    """A blank compares unequal to everything: accepted, it let a copied row pass as new data."""
    problem = only(validate_contribution(frame(**{column: values}), SPEC), "missing_value")
    assert problem.column == column and problem.cells == 1
    assert problem.message == f"column '{column}' has 1 empty value(s): every row needs a value in every feature"


def test_an_empty_bool_cell_is_refused():
    spec = dataclasses.replace(SPEC, features=(*SPEC.features, FeatureSpec("f", "bool")))
    problem = only(validate_contribution(frame(f=[True, None, False]), spec), "missing_value")
    assert problem.column == "f"
    assert validate_contribution(frame(f=[True, "no", False]), spec).passed


def test_infinite_numbers_are_refused():
    problem = only(validate_contribution(frame(b=[np.inf, 1.0, -np.inf]), SPEC), "not_finite")
    assert problem.message == "column 'b' has 2 infinite value(s)" and problem.cells == 2


def test_an_empty_text_feature_is_allowed_outside_dspy():
    """A free-text column is not a model input of a scikit-learn token: a blank there is not refused."""
    spec = dataclasses.replace(SPEC, features=(*SPEC.features, FeatureSpec("note", "string")))
    assert validate_contribution(frame(note=["hi", None, ""]), spec).passed


def test_missing_labels():
    report = validate_contribution(frame(y=[0, None, np.nan]), SPEC)
    problem = only(report, "missing_label")
    assert problem.message == "2 row(s) have no label in 'y'"
    assert problem.observed == 2
    assert "unknown_label" not in codes(report)


def test_labels_outside_the_domain():
    report = validate_contribution(frame(y=[0, 7, "cat"]), SPEC)
    problem = only(report, "unknown_label")
    assert problem.message == "2 label(s) in 'y' are not one of [0, 1, 2]"
    assert problem.observed == "7, cat"
    assert report.frame["y"].tolist() == [0, 7, "cat"]  # not normalised when some are unknown


@pytest.mark.parametrize(
    "raw, expected",
    [
        (["2", "0", "1"], [2, 0, 1]),
        ([2.0, 0.0, 1.0], [2, 0, 1]),
        ([" 1 ", "2.0", 0], [1, 2, 0]),
        (np.array([1, 2, 0], dtype="int32"), [1, 2, 0]),
    ],
    ids=["strings", "floats", "mixed", "int32"],
)
def test_labels_are_normalised_to_the_spec_values(raw, expected):
    report = validate_contribution(frame(y=list(raw)), SPEC)
    assert report.passed, report.summary()
    assert report.frame["y"].tolist() == expected
    assert all(type(v) is int for v in report.frame["y"].tolist())


def test_fractional_label_is_not_rounded():
    report = validate_contribution(frame(y=[0, 1.5, 2]), SPEC)
    assert only(report, "unknown_label").observed == "1.5"


def test_string_label_domain():
    spec = dataclasses.replace(SPEC, label_values=("cat", "dog"), task="binary_classification")
    report = validate_contribution(frame(y=["dog", " cat", "dog"]), spec)
    assert report.passed
    assert report.frame["y"].tolist() == ["dog", "cat", "dog"]


def test_all_problems_are_collected_and_summarised():
    report = validate_contribution(
        frame(a=["1", "x", "11"], b=None, y=[0, 5, None], extra=[1, 2, 3]), SPEC
    )
    assert codes(report) == ["missing_column", "unknown_columns", "not_numeric", "out_of_range",
                             "missing_label", "unknown_label"]
    assert report.summary() == (
        "required column 'b' is missing; "
        "1 column(s) not in the token's schema: extra; "
        "column 'a' has 1 value(s) that are not numbers; "
        "column 'a' has 1 value(s) outside [0, 10]; "
        "1 row(s) have no label in 'y'; "
        "1 label(s) in 'y' are not one of [0, 1, 2]"
    )


def test_problem_as_dict():
    report = validate_contribution(frame(a=[1, 2, 99]), SPEC)
    assert report.problems[0].as_dict() == {
        "code": "out_of_range", "column": "a", "message": "column 'a' has 1 value(s) outside [0, 10]",
        "observed": [99.0, 99.0], "expected": [0, 10], "cells": 1,
    }


def test_drop_policy_with_non_string_column_label():
    contribution = frame()
    contribution[0] = [1, 1, 1]
    report = validate_contribution(contribution, DROP)
    assert report.passed
    assert list(report.frame.columns) == ["a", "b", "c", "y"]


def test_bool_feature_rejects_non_boolean_values():
    spec = dataclasses.replace(SPEC, features=(*SPEC.features, FeatureSpec("flag", "bool")))
    assert validate_contribution(frame(flag=[True, False, True]), spec).passed
    report = validate_contribution(frame(flag=[True, "banana", False]), spec)
    assert not report.passed


def test_the_callers_frame_is_left_as_it_was():
    """Validation coerces a shallow copy: the contributed frame keeps its values and dtypes."""
    spec = dataclasses.replace(SPEC, features=(*SPEC.features, FeatureSpec("d", "bool")), unknown_columns="drop")
    frame = pd.DataFrame({"a": ["1", "2", "x"], "b": [0.5, 1, 2], "c": ["red", "green", "red"],
                          "d": ["yes", "no", "1"], "y": ["0", "1", 2.0], "extra": [1, 2, 3]})
    before = frame.copy(deep=True)
    report = validate_contribution(frame, spec)
    pd.testing.assert_frame_equal(frame, before)
    assert report.frame["b"].dtype == "float64" and report.frame["d"].dtype == "boolean"
    assert report.frame["y"].tolist() == [0, 1, 2] and "extra" not in report.frame
    assert report.frame["a"].isna().tolist() == [False, False, True] and report.coercion_errors == {"a": 1}
