"""Unit tests for ``hokusai.models.training``: merge strategies, seeded estimators, deterministic fits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.tokens.spec import FeatureSpec, TokenSpec, load_token_spec, read_token_table
from hokusai.models.training import build_estimator, features_and_labels, merge_training_data, train_model

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")

SPEC = TokenSpec(
    token_id="unit-token",
    model_name="unit-model",
    model_id_uint=1,
    task="multiclass_classification",
    label_column="y",
    label_values=(0, 1, 2),
    features=(FeatureSpec("a", "int"), FeatureSpec("b", "float")),
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
    seed=123,
)
KEYED = dataclasses.replace(SPEC, key_column="id", merge_strategy="update")

BASE = pd.DataFrame({"id": [1, 2, 3], "a": [10, 20, 30], "b": [0.1, 0.2, 0.3], "y": [0, 1, 2], "note": "base"})
CONTRIBUTION = pd.DataFrame({"y": [2, 0], "b": [9.2, 9.4], "a": [92, 94], "id": [2, 4], "note": "new"})


# --- merge_training_data ---------------------------------------------------------------

def test_append_adds_rows_in_spec_column_order():
    merged = merge_training_data(BASE, CONTRIBUTION, SPEC, "append")
    assert list(merged.columns) == ["a", "b", "y"]
    assert merged["a"].tolist() == [10, 20, 30, 92, 94]
    assert list(merged.index) == [0, 1, 2, 3, 4]


def test_spec_strategy_is_the_default():
    assert merge_training_data(BASE, CONTRIBUTION, SPEC)["a"].tolist() == [10, 20, 30, 92, 94]
    replacing = dataclasses.replace(SPEC, merge_strategy="replace")
    assert merge_training_data(BASE, CONTRIBUTION, replacing)["a"].tolist() == [92, 94]


def test_replace_trains_on_contribution_alone():
    contribution = CONTRIBUTION.set_index(pd.Index([7, 8]))
    merged = merge_training_data(BASE, contribution, SPEC, "replace")
    assert merged.values.tolist() == [[92, 9.2, 2], [94, 9.4, 0]]
    assert list(merged.index) == [0, 1]


def test_update_replaces_rows_sharing_the_key_and_appends_the_rest():
    merged = merge_training_data(BASE, CONTRIBUTION, KEYED)
    assert list(merged.columns) == ["a", "b", "y", "id"]
    assert merged.values.tolist() == [
        [10, 0.1, 0, 1],
        [30, 0.3, 2, 3],
        [92, 9.2, 2, 2],  # replaces base id 2
        [94, 9.4, 0, 4],  # new id
    ]
    assert merged["id"].is_unique


def test_append_with_a_key_column_keeps_every_row():
    merged = merge_training_data(BASE, CONTRIBUTION, KEYED, "append")
    assert merged["id"].tolist() == [1, 2, 3, 2, 4]


def test_update_without_key_column_raises():
    with pytest.raises(ValueError, match="merge strategy 'update' needs the spec's key_column"):
        merge_training_data(BASE, CONTRIBUTION, SPEC, "update")


def test_unknown_strategy_raises():
    with pytest.raises(ValueError, match="unknown merge strategy 'upsert'"):
        merge_training_data(BASE, CONTRIBUTION, SPEC, "upsert")


def test_merge_does_not_modify_inputs():
    base, contribution = BASE.copy(), CONTRIBUTION.copy()
    merge_training_data(base, contribution, KEYED)
    pd.testing.assert_frame_equal(base, BASE)
    pd.testing.assert_frame_equal(contribution, CONTRIBUTION)


def test_update_with_key_column_that_is_also_a_feature():
    spec = dataclasses.replace(KEYED, key_column="a")
    merged = merge_training_data(BASE, CONTRIBUTION.assign(a=[20, 99]), spec)
    assert list(merged.columns) == ["a", "b", "y"]
    assert merged["a"].tolist() == [10, 30, 20, 99]


# --- build_estimator ---------------------------------------------------------------------

def test_build_estimator_sets_random_state_from_seed():
    estimator = build_estimator(DEMO)
    assert type(estimator).__name__ == "RandomForestClassifier"
    assert estimator.random_state == 42
    assert estimator.n_estimators == 50 and estimator.n_jobs == 1


def test_explicit_random_state_wins_and_params_are_not_mutated():
    spec = dataclasses.replace(SPEC, estimator_params={"random_state": 5, "max_depth": 2})
    estimator = build_estimator(spec)
    assert estimator.random_state == 5 and estimator.max_depth == 2
    assert spec.estimator_params == {"random_state": 5, "max_depth": 2}
    assert build_estimator(SPEC).random_state == 123


def test_estimator_without_random_state():
    spec = dataclasses.replace(SPEC, estimator_class="sklearn.neighbors.KNeighborsClassifier",
                               estimator_params={"n_neighbors": 1})
    estimator = build_estimator(spec)
    assert estimator.n_neighbors == 1
    assert not hasattr(estimator, "random_state")


def test_build_estimator_returns_fresh_instances():
    assert build_estimator(SPEC) is not build_estimator(SPEC)


def test_unknown_estimator_class_raises():
    spec = dataclasses.replace(SPEC, estimator_class="sklearn.tree.NoSuchTree")
    with pytest.raises(ValueError, match="estimator class 'sklearn.tree.NoSuchTree' does not exist"):
        build_estimator(spec)


# --- train_model -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    base = pd.read_csv(DEMO.base_data_path)
    benchmark = pd.read_csv(DEMO.benchmark_path).head(200)
    return base, benchmark


def test_training_is_deterministic(digits):
    base, benchmark = digits
    spec = dataclasses.replace(DEMO, estimator_params={"n_estimators": 15, "n_jobs": 1})
    features, _ = features_and_labels(benchmark, spec)
    first, second = train_model(base, spec), train_model(base, spec)
    assert np.array_equal(first.predict(features), second.predict(features))
    assert np.array_equal(first.predict_proba(features), second.predict_proba(features))
    other_seed = train_model(base, dataclasses.replace(spec, seed=7))
    assert not np.array_equal(first.predict_proba(features), other_seed.predict_proba(features))


def test_trained_model_sees_every_label(digits):
    base, _ = digits
    model = train_model(base, dataclasses.replace(DEMO, estimator_params={"n_estimators": 5, "n_jobs": 1}))
    assert model.classes_.tolist() == list(range(10))
    assert model.n_features_in_ == 64


def test_fewer_than_two_labels_raises():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3], "y": [1, 1, 1]})
    with pytest.raises(ValueError, match="fewer than two distinct labels"):
        train_model(frame, SPEC)


def test_missing_labels_do_not_count_as_a_label():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.1, 0.2], "y": [1, None]})
    with pytest.raises(ValueError, match="fewer than two distinct labels"):
        train_model(frame, SPEC)


# --- features_and_labels -----------------------------------------------------------------

def test_category_features_are_encoded_by_spec_order():
    spec = dataclasses.replace(SPEC, features=(
        FeatureSpec("colour", "category", categories=("red", "green", "blue")),
        FeatureSpec("size", "float"),
        FeatureSpec("comment", "string"),
        FeatureSpec("flag", "bool"),
    ))
    frame = pd.DataFrame({
        "comment": ["free", "text", "here", "ignored"],
        "size": ["1.5", 2, 3.25, "n/a"],
        "colour": ["blue", "red", "purple", "green"],
        "flag": [True, False, True, False],
        "y": [0, 1, 2, 0],
    })
    features, labels = features_and_labels(frame, spec)
    assert features.dtype == np.float64
    assert features.shape == (4, 3)  # the string feature is not a model input
    assert features[:, 0].tolist() == [2.0, 0.0, -1.0, 1.0]  # spec order; unknown -> -1
    assert features[:3, 1].tolist() == [1.5, 2.0, 3.25] and np.isnan(features[3, 1])
    assert features[:, 2].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert labels.tolist() == [0, 1, 2, 0]


def test_category_model_trains_on_codes():
    spec = dataclasses.replace(SPEC, features=(FeatureSpec("colour", "category", categories=("red", "green")),))
    frame = pd.DataFrame({"colour": ["red", "green"] * 4, "y": [0, 1] * 4})
    model = train_model(frame, spec)
    assert model.predict(np.array([[0.0], [1.0]])).tolist() == [0, 1]


# --- canonical order ----------------------------------------------------------------------

def test_row_order_does_not_change_the_model():
    """The same rows in another order fit the same model, byte for byte (values are properties of the data)."""
    import pickle

    base = read_token_table(DEMO.base_data_path)
    shuffled = base.sample(frac=1.0, random_state=3).reset_index(drop=True)
    reversed_rows = base.iloc[::-1].reset_index(drop=True)
    first = pickle.dumps(train_model(base, DEMO))
    assert pickle.dumps(train_model(shuffled, DEMO)) == first
    assert pickle.dumps(train_model(reversed_rows, DEMO)) == first


def test_an_explicit_seed_overrides_the_spec_and_changes_the_model():
    import pickle

    base = read_token_table(DEMO.base_data_path)
    assert build_estimator(DEMO, seed=7).random_state == 7
    assert pickle.dumps(train_model(base, DEMO, seed=7)) != pickle.dumps(train_model(base, DEMO))
