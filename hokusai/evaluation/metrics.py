"""Measuring a model on the token's fixed benchmark.

Both models are scored on the very same rows: a large benchmark is reduced to the
spec's cap by a stratified sample with the spec's seed, so the rows never change
between evaluations. Multiclass precision, recall, F1 and AUROC are weighted by
class support; binary ones are taken on the spec's positive label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hokusai.rules.metric_names import BENCHMARK_METRICS
from hokusai.tokens.spec import TokenSpec
from hokusai.models.training import features_and_labels

METRIC_NAMES = BENCHMARK_METRICS  # the one list (hokusai.rules.metric_names), under its old name here


def benchmark_rows(benchmark: pd.DataFrame, spec: TokenSpec) -> pd.DataFrame:
    """The benchmark, or a seeded stratified sample of ``spec.benchmark_sample_cap`` rows."""
    if len(benchmark) <= spec.benchmark_sample_cap:
        return benchmark.reset_index(drop=True)
    from sklearn.model_selection import train_test_split

    sample, _ = train_test_split(
        benchmark,
        train_size=spec.benchmark_sample_cap,
        stratify=benchmark[spec.label_column],
        random_state=spec.seed,
    )
    return sample.sort_index().reset_index(drop=True)


def class_probabilities(model: Any, features: np.ndarray, labels: list[Any]) -> np.ndarray:
    """predict_proba aligned to the spec's label order (zeros for classes never seen)."""
    raw = model.predict_proba(features)
    aligned = np.zeros((len(features), len(labels)))
    index = {label: i for i, label in enumerate(labels)}
    for column, label in enumerate(model.classes_):
        aligned[:, index[label]] = raw[:, column]
    return aligned


def evaluate_model(model: Any, benchmark: pd.DataFrame, spec: TokenSpec) -> dict[str, Any]:
    """The five metrics of ``model`` on ``benchmark`` rows, plus its per-row correctness."""
    from sklearn import metrics

    features, truth = features_and_labels(benchmark, spec)
    labels = list(spec.label_values)
    predicted = model.predict(features)
    probabilities = class_probabilities(model, features, labels)
    if spec.task == "binary_classification":
        averaging = {"average": "binary", "pos_label": spec.positive_label}
        positive = labels.index(spec.positive_label)
        auroc = metrics.roc_auc_score(truth == spec.positive_label, probabilities[:, positive])
    else:
        averaging = {"average": "weighted", "labels": labels}
        auroc = metrics.roc_auc_score(
            truth, probabilities, multi_class="ovr", average="weighted", labels=labels
        )
    values = {
        "accuracy": metrics.accuracy_score(truth, predicted),
        "precision": metrics.precision_score(truth, predicted, zero_division=0, **averaging),
        "recall": metrics.recall_score(truth, predicted, zero_division=0, **averaging),
        "f1": metrics.f1_score(truth, predicted, zero_division=0, **averaging),
        "auroc": auroc,
    }
    return {
        "metrics": {name: float(values[name]) for name in METRIC_NAMES},
        "sample_size": int(len(truth)),
        "truth": truth,
        "predicted": predicted,
        "probabilities": probabilities,
    }


def bootstrap_primary_metric(baseline: dict[str, Any], new: dict[str, Any], spec: TokenSpec) -> dict[str, Any]:
    """The paired bootstrap of the spec's primary metric over the rows both models scored."""
    from hokusai.evaluation.significance import paired_bootstrap

    result = paired_bootstrap(
        spec.primary_metric, baseline["truth"], baseline["predicted"], new["predicted"],
        baseline["probabilities"], new["probabilities"], list(spec.label_values), spec.positive_label,
        spec.task == "binary_classification", resamples=spec.bootstrap_resamples, seed=spec.seed,
    )
    return result.as_dict()
