"""Unit tests for ``hokusai.evaluation.metrics``: benchmark sampling, metrics, probability alignment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as skm

from hokusai.evaluation.metrics import METRIC_NAMES, benchmark_rows, class_probabilities, evaluate_model
from hokusai.tokens.spec import FeatureSpec, TokenSpec, load_token_spec
from hokusai.models.training import features_and_labels, train_model

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")

TINY = TokenSpec(
    token_id="tiny",
    model_name="tiny-model",
    model_id_uint=1,
    task="binary_classification",
    label_column="y",
    label_values=(0, 1),
    features=(FeatureSpec("pred", "int"), FeatureSpec("score", "float")),
    primary_metric="accuracy",
    metric_family="proportion",
    min_improvement_bps=100,
    base_data_path=Path("base.csv"),
    benchmark_path=Path("bench.csv"),
    benchmark_spec_id="tiny-bench",
    benchmark_sample_cap=20000,
    min_benchmark_samples=1,
    estimator_class="sklearn.tree.DecisionTreeClassifier",
    estimator_params={},
    seed=0,
    positive_label=1,
)


class EchoModel:
    """A stand-in model: predicts feature 0 and gives P(class 1) = feature 1."""

    classes_ = np.array([0, 1])

    def predict(self, features):
        return features[:, 0].astype(int)

    def predict_proba(self, features):
        return np.column_stack([1 - features[:, 1], features[:, 1]])


# --- benchmark_rows --------------------------------------------------------------------

def imbalanced(n: int = 1000) -> pd.DataFrame:
    labels = np.repeat([0, 1, 2], [600, 300, 100])[:n]
    return pd.DataFrame({"row": np.arange(n), "y": np.random.default_rng(1).permutation(labels)})


def test_small_benchmark_is_used_whole():
    frame = imbalanced().iloc[::-1].head(50)
    rows = benchmark_rows(frame, dataclasses.replace(TINY, benchmark_sample_cap=50))
    assert rows["row"].tolist() == frame["row"].tolist()
    assert list(rows.index) == list(range(50))


def test_stratified_cap_keeps_class_proportions():
    spec = dataclasses.replace(TINY, benchmark_sample_cap=100, seed=3)
    rows = benchmark_rows(imbalanced(), spec)
    assert len(rows) == 100
    assert rows["y"].value_counts().to_dict() == {0: 60, 1: 30, 2: 10}
    assert rows["row"].is_unique and rows["row"].is_monotonic_increasing  # original order
    assert list(rows.index) == list(range(100))


def test_stratified_cap_is_deterministic_per_seed():
    spec = dataclasses.replace(TINY, benchmark_sample_cap=100, seed=3)
    first, second = benchmark_rows(imbalanced(), spec), benchmark_rows(imbalanced(), spec)
    pd.testing.assert_frame_equal(first, second)
    other = benchmark_rows(imbalanced(), dataclasses.replace(spec, seed=4))
    assert first["row"].tolist() != other["row"].tolist()


# --- class_probabilities -------------------------------------------------------------------

def test_class_probabilities_reorders_to_spec_labels():
    class Stub:
        classes_ = np.array([2, 0])

        def predict_proba(self, features):
            return np.array([[0.7, 0.3], [0.1, 0.9]])

    aligned = class_probabilities(Stub(), np.zeros((2, 1)), [0, 1, 2])
    assert aligned.tolist() == [[0.3, 0.0, 0.7], [0.9, 0.0, 0.1]]


def test_class_probabilities_zero_column_for_unseen_class():
    frame = pd.DataFrame({"pred": [0, 1, 0, 1, 0, 1], "score": [0.0] * 6, "y": [0, 2, 0, 2, 0, 2]})
    spec = dataclasses.replace(TINY, task="multiclass_classification", label_values=(0, 1, 2))
    model = train_model(frame, spec)
    features, _ = features_and_labels(frame, spec)
    aligned = class_probabilities(model, features, [0, 1, 2])
    assert aligned.shape == (6, 3)
    assert aligned[:, 1].tolist() == [0.0] * 6
    assert np.allclose(aligned.sum(axis=1), 1.0)
    raw = model.predict_proba(features)
    assert np.array_equal(aligned[:, [0, 2]], raw)


# --- known answers -------------------------------------------------------------------------

def test_known_answer_binary_metrics():
    """truth 0 1 1 0, predicted 0 1 0 0, P(1) = .1 .9 .2 .3."""
    frame = pd.DataFrame({"pred": [0, 1, 0, 0], "score": [0.1, 0.9, 0.2, 0.3], "y": [0, 1, 1, 0]})
    result = evaluate_model(EchoModel(), frame, TINY)
    assert result["metrics"] == pytest.approx({
        "accuracy": 0.75,       # 3 of 4 right
        "precision": 1.0,       # the one predicted 1 is a 1
        "recall": 0.5,          # one of the two 1s found
        "f1": 2 / 3,
        "auroc": 0.75,          # positive scores .9,.2 beat negatives .1,.3 in 3 of 4 pairs
    })
    assert result["sample_size"] == 4
    assert (result["predicted"] == result["truth"]).tolist() == [True, True, False, True]
    assert list(result["metrics"]) == list(METRIC_NAMES)
    assert all(type(v) is float for v in result["metrics"].values())


def test_known_answer_with_negative_positive_label():
    """With positive_label 0, precision/recall and AUROC are taken on class 0."""
    frame = pd.DataFrame({"pred": [0, 1, 0, 0], "score": [0.1, 0.9, 0.2, 0.3], "y": [0, 1, 1, 0]})
    result = evaluate_model(EchoModel(), frame, dataclasses.replace(TINY, positive_label=0))
    assert result["metrics"] == pytest.approx({
        "accuracy": 0.75,
        "precision": 2 / 3,     # predicted 0 at rows 0, 2, 3; right at 0 and 3
        "recall": 1.0,          # both 0s found
        "f1": 0.8,
        "auroc": 0.75,
    })


# --- a binary token on breast-cancer data ---------------------------------------------------

@pytest.fixture(scope="module")
def cancer_token(tmp_path_factory):
    """A binary TokenSpec written to a tmp dir, with base and benchmark CSVs."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    columns = [f"f{i}" for i in range(6)]
    frame = data.data.iloc[:, :6].set_axis(columns, axis=1)
    frame["malignant"] = 1 - data.target  # 1 = malignant
    folder = tmp_path_factory.mktemp("tokens")
    (folder / "cancer").mkdir()
    frame.iloc[::2].to_csv(folder / "cancer" / "base.csv", index=False)
    frame.iloc[1::2].to_csv(folder / "cancer" / "bench.csv", index=False)
    raw = {
        "token_id": "cancer-unit", "model_name": "cancer-unit-model", "model_id_uint": 77,
        "task": "binary_classification", "label_column": "malignant", "label_values": [0, 1],
        "primary_metric": "auroc", "base_data": "cancer/base.csv",
        "benchmark": {"path": "cancer/bench.csv", "spec_id": "cancer-bench-v1", "min_samples": 50},
        "estimator": {"class": "sklearn.ensemble.RandomForestClassifier",
                      "params": {"n_estimators": 10, "n_jobs": 1}},
        "seed": 11,
        "features": [{"name": c, "dtype": "float", "min": 0} for c in columns],
    }
    path = folder / "cancer-unit.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec = load_token_spec(path)
    return spec, pd.read_csv(spec.base_data_path), pd.read_csv(spec.benchmark_path)


def test_binary_metrics_match_sklearn(cancer_token):
    spec, base, bench = cancer_token
    assert spec.task == "binary_classification" and spec.positive_label == 1
    model = train_model(base, spec)
    rows = benchmark_rows(bench, spec)
    result = evaluate_model(model, rows, spec)
    features, truth = features_and_labels(rows, spec)
    predicted = model.predict(features)
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, pos_label=1),
        "recall": skm.recall_score(truth, predicted, pos_label=1),
        "f1": skm.f1_score(truth, predicted, pos_label=1),
        "auroc": skm.roc_auc_score(truth, model.predict_proba(features)[:, 1]),
    }
    assert result["metrics"] == pytest.approx(expected)
    assert result["sample_size"] == len(bench) == 284
    assert (result["predicted"] == result["truth"]).mean() == pytest.approx(result["metrics"]["accuracy"])
    assert 0.8 < result["metrics"]["auroc"] <= 1.0
    assert evaluate_model(train_model(base, spec), rows, spec)["metrics"] == result["metrics"]


# --- the multiclass demo token ----------------------------------------------------------------

def test_multiclass_metrics_are_support_weighted(tmp_path):
    spec = dataclasses.replace(DEMO, estimator_params={"n_estimators": 10, "n_jobs": 1})
    base, bench = pd.read_csv(spec.base_data_path), pd.read_csv(spec.benchmark_path)
    model = train_model(base, spec)
    result = evaluate_model(model, benchmark_rows(bench, spec), spec)
    features, truth = features_and_labels(bench, spec)
    predicted = model.predict(features)
    labels = list(range(10))
    expected = {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, average="weighted", labels=labels, zero_division=0),
        "recall": skm.recall_score(truth, predicted, average="weighted", labels=labels, zero_division=0),
        "f1": skm.f1_score(truth, predicted, average="weighted", labels=labels, zero_division=0),
        "auroc": skm.roc_auc_score(truth, model.predict_proba(features), multi_class="ovr",
                                   average="weighted", labels=labels),
    }
    assert result["metrics"] == pytest.approx(expected)
    assert result["sample_size"] == 1000
    assert result["metrics"]["recall"] == pytest.approx(result["metrics"]["accuracy"])  # weighted recall = accuracy
    assert 0.7 < result["metrics"]["accuracy"] < 1.0
