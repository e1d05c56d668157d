"""Training a token's model: the spec's scikit-learn estimator on merged data.

Merge strategies say how a contribution joins the base training data:
``append`` adds its rows; ``replace`` trains on the contribution alone; ``update``
replaces base rows that share the spec's key column and appends the rest.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
import pandas as pd

from hokusai.token_spec import TokenSpec


def merge_training_data(base: pd.DataFrame, contribution: pd.DataFrame, spec: TokenSpec,
                        strategy: str | None = None) -> pd.DataFrame:
    """Base + contribution under ``strategy`` (the spec's by default)."""
    strategy = strategy or spec.merge_strategy
    columns = list(dict.fromkeys([*spec.feature_names, spec.label_column, *([spec.key_column] if spec.key_column else [])]))
    base, contribution = base[columns], contribution[columns]
    if strategy == "append":
        return pd.concat([base, contribution], ignore_index=True)
    if strategy == "replace":
        return contribution.reset_index(drop=True)
    if strategy == "update":
        if not spec.key_column:
            raise ValueError("merge strategy 'update' needs the spec's key_column")
        kept = base[~base[spec.key_column].isin(contribution[spec.key_column])]
        return pd.concat([kept, contribution], ignore_index=True)
    raise ValueError(f"unknown merge strategy '{strategy}'")


def build_estimator(spec: TokenSpec) -> Any:
    """A fresh, seeded instance of the spec's estimator class."""
    module_name, _, class_name = spec.estimator_class.rpartition(".")
    module = importlib.import_module(module_name)
    estimator_class = getattr(module, class_name, None)
    if estimator_class is None:
        raise ValueError(f"estimator class '{spec.estimator_class}' does not exist")
    params = dict(spec.estimator_params)
    if "random_state" in inspect.signature(estimator_class).parameters:
        params.setdefault("random_state", spec.seed)
    return estimator_class(**params)


def features_and_labels(frame: pd.DataFrame, spec: TokenSpec) -> tuple[np.ndarray, np.ndarray]:
    """The model's input matrix in spec order, and the label vector.

    Numbers and booleans enter as floats, categories as their index in the spec's
    category list (-1 if unknown); free-text ``string`` features are not model inputs.
    """
    columns = []
    for feature in spec.features:
        values = frame[feature.name]
        if feature.dtype == "category":
            columns.append(pd.Categorical(values, categories=list(feature.categories)).codes.astype("float64"))
        elif feature.dtype != "string":
            columns.append(pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64"))
    return np.column_stack(columns), frame[spec.label_column].to_numpy()


def train_model(frame: pd.DataFrame, spec: TokenSpec) -> Any:
    """Fit the spec's estimator on ``frame``; deterministic for a given spec and data."""
    if frame[spec.label_column].nunique() < 2:
        raise ValueError("training data has fewer than two distinct labels")
    features, labels = features_and_labels(frame, spec)
    return build_estimator(spec).fit(features, labels)
