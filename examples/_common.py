"""Shared by the examples: where MLflow is, a small dataset, and the five benchmark metrics.

The tracking URI comes from ``MLFLOW_TRACKING_URI`` (e.g. ``http://127.0.0.1:5000``
from ``scripts/mlflow-server``); without it the examples use a local SQLite store
under ``.hokusai/examples/``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        database = Path(".hokusai/examples/mlflow.db").resolve()
        database.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{database}"
        print(f"MLFLOW_TRACKING_URI is not set; using {uri}", file=sys.stderr)
    return uri


def digits():
    """UCI handwritten digits (bundled with scikit-learn): (features scaled to [0, 1], labels),
    shuffled with a fixed seed."""
    import numpy as np
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(7).permutation(len(labels))
    return features[order] / 16.0, labels[order]


def train(features, labels):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000).fit(features, labels)


def benchmark_metrics(model, features, labels) -> dict[str, float]:
    """The five benchmark metrics DeltaOne is defined over (weighted for multiclass)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    predicted = model.predict(features)
    scores = model.predict_proba(features)
    scores = scores[:, 1] if scores.shape[1] == 2 else scores
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, average="weighted", zero_division=0)),
        "recall": float(recall_score(labels, predicted, average="weighted", zero_division=0)),
        "f1": float(f1_score(labels, predicted, average="weighted", zero_division=0)),
        "auroc": float(roc_auc_score(labels, scores, multi_class="ovr", average="weighted")),
    }


def data_hash(*arrays) -> str:
    """SHA-256 of the rows a contributor sent (here: the arrays' bytes)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(array.tobytes())
    return digest.hexdigest()
