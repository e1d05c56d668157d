"""Training a token's model: the spec's scikit-learn estimator on merged data.

Merge strategies say how a contribution joins the base training data:
``append`` adds its rows; ``replace`` trains on the contribution alone; ``update``
replaces base rows that share the spec's key column (keys compared as text) and appends the rest.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
import pandas as pd

from hokusai.tokens.spec import TokenSpec


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
        replaced = base[spec.key_column].astype(str).isin(set(contribution[spec.key_column].astype(str)))
        kept = base[~replaced.to_numpy()]
        return pd.concat([kept, contribution], ignore_index=True)
    raise ValueError(f"unknown merge strategy '{strategy}'")


def build_estimator(spec: TokenSpec, seed: int | None = None) -> Any:
    """A fresh instance of the spec's estimator class, seeded with ``seed`` (the spec's by default)."""
    module_name, _, class_name = spec.estimator_class.rpartition(".")
    module = importlib.import_module(module_name)
    estimator_class = getattr(module, class_name, None)
    if estimator_class is None:
        raise ValueError(f"estimator class '{spec.estimator_class}' does not exist")
    params = dict(spec.estimator_params)
    if "random_state" in inspect.signature(estimator_class).parameters:
        if seed is None:
            params.setdefault("random_state", spec.seed)
        else:  # an explicit seed (a seeded refit for eligibility) wins over the spec's params
            params["random_state"] = seed
    return estimator_class(**params)


def features_and_labels(frame: pd.DataFrame, spec: TokenSpec) -> tuple[np.ndarray, np.ndarray]:
    """The model's input matrix in spec order, and the label vector.

    Numbers and booleans enter as floats, categories as their index in the spec's
    category list (-1 if unknown); free-text ``string`` features are not model inputs.
    A DSPy token's inputs are its text features, as an object array (``hokusai.dspy.token_model``).
    """
    if spec.dspy is not None:
        return frame[spec.feature_names].astype(str).to_numpy(dtype=object), frame[spec.label_column].to_numpy()
    columns = []
    for feature in spec.features:
        values = frame[feature.name]
        if feature.dtype == "category":
            columns.append(pd.Categorical(values, categories=list(feature.categories)).codes.astype("float64"))
        elif feature.dtype != "string":
            columns.append(pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64"))
    return np.column_stack(columns), frame[spec.label_column].to_numpy()


def canonical_order(features: np.ndarray, labels: np.ndarray, spec: TokenSpec) -> np.ndarray:
    """The row order a model is fitted in: sorted by its inputs, then its label.

    Estimators with a random state (bootstrap samples, feature draws) give a
    different model for the same rows in another order. Fitting in an order that
    is a function of the rows alone makes the model, its commitment and its score
    properties of the data: reordering an upload cannot shop for a larger reward.
    """
    label_codes = pd.Categorical(labels, categories=list(spec.label_values)).codes
    keys = [label_codes] + [features[:, column] for column in range(features.shape[1] - 1, -1, -1)]
    return np.lexsort(keys)  # the last key is the primary one: the first feature


def train_model(frame: pd.DataFrame, spec: TokenSpec, seed: int | None = None) -> Any:
    """Fit the spec's estimator on ``frame`` in canonical row order (``seed``: the spec's by default).

    Deterministic for a given spec, seed and multiset of rows, whatever their order.
    """
    if frame[spec.label_column].nunique() < 2:
        raise ValueError("training data has fewer than two distinct labels")
    if spec.dspy is not None:  # a DSPy program, compiled on the rows as examples (imports dspy only here)
        from hokusai.dspy.token_model import compile_token_program

        return compile_token_program(frame, spec, seed)
    features, labels = features_and_labels(frame, spec)
    order = canonical_order(features, labels, spec)
    return build_estimator(spec, seed).fit(features[order], labels[order])
