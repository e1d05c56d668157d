"""Checking a contribution against its token's schema, in words a contributor can act on.

Every problem is collected (not just the first) and carries what was observed and
what was expected, so the UI and the CLI can show the contributor exactly what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hokusai.intake.cleaning import row_fingerprints
from hokusai.tokens.spec import FeatureSpec, TokenSpec


@dataclass(frozen=True)
class SchemaProblem:
    code: str
    column: str | None
    message: str
    observed: Any = None
    expected: Any = None
    cells: int = 0  # how many cells the problem affects (for the quality score)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SchemaReport:
    frame: pd.DataFrame
    problems: list[SchemaProblem] = field(default_factory=list)
    coercion_errors: dict[str, int] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line naming every problem, for a CLI or a log."""
        return "; ".join(problem.message for problem in self.problems) or "schema OK"


def validate_contribution(frame: pd.DataFrame, spec: TokenSpec) -> SchemaReport:
    """Coerce ``frame`` to the spec's dtypes and report every mismatch."""
    # A shallow copy: every change below replaces whole columns (pandas never writes
    # them in place), so the caller's frame is untouched without copying a million rows.
    report = SchemaReport(frame=frame.copy(deep=False))
    expected = [spec.label_column, *spec.feature_names]
    if spec.key_column:
        expected.append(spec.key_column)
    missing = [c for c in expected if c not in frame.columns]
    for column in missing:
        what = "label column" if column == spec.label_column else "column"
        report.problems.append(
            SchemaProblem("missing_column", column, f"required {what} '{column}' is missing",
                          observed=sorted(map(str, frame.columns))[:20], expected=column)
        )
    unknown_labels = [c for c in frame.columns if c not in expected]
    unknown = [str(c) for c in unknown_labels]
    if unknown and spec.unknown_columns == "reject":
        report.problems.append(
            SchemaProblem("unknown_columns", None,
                          f"{len(unknown)} column(s) not in the token's schema: {_preview(unknown)}",
                          observed=unknown[:20], expected="only the token's columns")
        )
    elif unknown:
        report.frame = report.frame.drop(columns=unknown_labels)
        report.dropped_columns = unknown
    present = [f for f in spec.features if f.name in report.frame.columns]
    _check_numeric(report, [f for f in present if f.dtype in ("int", "float")])
    for feature in present:
        if feature.dtype == "category":
            _check_category(report, feature)
        elif feature.dtype == "bool":
            _check_bool(report, feature)
    if spec.dspy is not None:  # a DSPy example: every input is text, and an empty one teaches nothing
        _check_example_inputs(report, present)
    if spec.label_column in report.frame.columns:
        _check_label(report, spec)
    if spec.merge_strategy == "update" and spec.key_column in report.frame.columns and report.passed:
        _check_keys(report, spec)
    return report


def _check_keys(report: SchemaReport, spec: TokenSpec) -> None:
    """Under ``update`` each row names the row it replaces by its key, compared as text: a key must be
    there, and one key must not carry two different rows (which would win would depend on the upload)."""
    name = spec.key_column
    keys = report.frame[name]
    empty = keys.isna() | (keys.astype(str).str.strip() == "")
    if empty.any():
        report.problems.append(SchemaProblem(
            "missing_key", name, f"{int(empty.sum())} row(s) have no '{name}': an update names the row it replaces",
            observed=int(empty.sum()), expected=0, cells=int(empty.sum())))
        return
    keys = keys.astype(str)
    report.frame[name] = keys
    distinct = pd.DataFrame({"key": keys.to_numpy(), "row": row_fingerprints(report.frame, spec).to_numpy()})
    distinct = distinct.drop_duplicates()
    clashing = distinct["key"][distinct["key"].duplicated()].unique()
    if len(clashing):
        report.problems.append(SchemaProblem(
            "conflicting_key", name, f"{len(clashing)} '{name}' value(s) carry two or more different rows "
            f"({_preview(sorted(clashing))}): send one row per key",
            observed=_preview(sorted(clashing)), expected="one row per key", cells=len(clashing)))


def _check_example_inputs(report: SchemaReport, features: list[FeatureSpec]) -> None:
    for feature in features:
        values = report.frame[feature.name]
        not_text = values.map(lambda v: isinstance(v, (list, dict, tuple, set)))
        if not_text.any():
            report.problems.append(SchemaProblem(
                "not_text", feature.name, f"{int(not_text.sum())} value(s) in '{feature.name}' are lists or objects, "
                f"not text", observed=_preview(values[not_text].astype(str).unique()), expected="text",
                cells=int(not_text.sum())))
            values = values.where(~not_text, "x")
        empty = values.isna() | (values.astype(str).str.strip() == "")
        if empty.any():
            report.problems.append(SchemaProblem(
                "empty_input", feature.name, f"{int(empty.sum())} example(s) have an empty '{feature.name}'",
                observed=int(empty.sum()), expected=0, cells=int(empty.sum())))


def _check_numeric(report: SchemaReport, features: list[FeatureSpec]) -> None:
    """Coerce every numeric feature to float64 at once and count bad values per column."""
    if not features:
        return
    names = [f.name for f in features]
    raw = report.frame[names]
    values = np.empty((len(raw), len(names)), dtype="float64", order="F")  # column by column, no frame rebuilt
    present = np.empty(values.shape, dtype=bool, order="F")
    for index, name in enumerate(names):
        column = raw[name]
        coerced = column if _is_number_column(column) else pd.to_numeric(column, errors="coerce")
        values[:, index] = coerced.to_numpy(dtype="float64")
        present[:, index] = column.notna().to_numpy()
        if coerced is not column:
            _blank_is_empty(column, present[:, index], np.isnan(values[:, index]))
    missing = np.isnan(values)
    not_numeric = (missing & present).sum(axis=0)
    # An empty cell is refused, not passed on: a blank or NaN feature compares unequal to every
    # value, so it would let a copied row (even a benchmark row) pass as new and be paid for.
    empty = (~present).sum(axis=0)
    infinite = np.isinf(values).sum(axis=0)
    finite = np.isfinite(values)
    fractional = (finite & (np.mod(values, 1, where=finite, out=np.zeros_like(values)) != 0)).sum(axis=0)
    low = np.array([-np.inf if f.minimum is None else f.minimum for f in features], dtype="float64")
    high = np.array([np.inf if f.maximum is None else f.maximum for f in features], dtype="float64")
    outside = (values < low) | (values > high)
    outside_counts = outside.sum(axis=0)
    for index, feature in enumerate(features):
        name = feature.name
        if not_numeric[index]:
            report.coercion_errors[name] = int(not_numeric[index])
            bad_values = raw[name][missing[:, index] & raw[name].notna().to_numpy()]
            report.problems.append(
                SchemaProblem("not_numeric", name,
                              f"column '{name}' has {int(not_numeric[index])} value(s) that are not numbers",
                              observed=_preview(bad_values.astype(str).unique()), expected=feature.dtype,
                              cells=int(not_numeric[index]))
            )
        if empty[index]:
            report.problems.append(_empty_cells_problem(name, int(empty[index])))
        if infinite[index]:
            report.problems.append(
                SchemaProblem("not_finite", name, f"column '{name}' has {int(infinite[index])} infinite value(s)",
                              observed=int(infinite[index]), expected="finite numbers", cells=int(infinite[index]))
            )
        if feature.dtype == "int" and fractional[index]:
            report.problems.append(
                SchemaProblem("not_integer", name,
                              f"column '{name}' has {int(fractional[index])} non-integer value(s)",
                              observed=int(fractional[index]), expected="whole numbers", cells=int(fractional[index]))
            )
        if outside_counts[index]:
            seen = values[outside[:, index], index]
            report.problems.append(
                SchemaProblem("out_of_range", name,
                              f"column '{name}' has {int(outside_counts[index])} value(s) outside "
                              f"[{feature.minimum}, {feature.maximum}]",
                              observed=[float(seen.min()), float(seen.max())],
                              expected=[feature.minimum, feature.maximum], cells=int(outside_counts[index]))
            )
    report.frame[names] = values


def _empty_cells_problem(name: str, count: int) -> SchemaProblem:
    return SchemaProblem("missing_value", name,
                         f"column '{name}' has {count} empty value(s): every row needs a value in every feature",
                         observed=count, expected=0, cells=count)


def _blank_is_empty(column: pd.Series, present: np.ndarray, unparsed: np.ndarray) -> None:
    """Mark blank strings (JSON's "", a cell of spaces) as empty, like a null: only the few cells that
    did not parse are looked at, so a clean million-row column costs nothing here."""
    suspects = np.flatnonzero(present & unparsed)
    if len(suspects):
        cells = column.iloc[suspects]
        present[suspects] = ~cells.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)


def _is_number_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


_TRUE_WORDS = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE_WORDS = {"false", "no", "n", "f", "0", "0.0"}


def _check_bool(report: SchemaReport, feature: FeatureSpec) -> None:
    """Accept booleans, 0/1 and true/false-like words; anything else is reported."""
    column = report.frame[feature.name]
    lookup = {}
    for value in column.dropna().unique():
        word = str(value).strip().lower()
        lookup[value] = True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else None
    coerced = column.map(lookup)
    if column.isna().any():
        report.problems.append(_empty_cells_problem(feature.name, int(column.isna().sum())))
    bad = column.notna() & coerced.isna()
    if bad.any():
        report.problems.append(
            SchemaProblem("not_boolean", feature.name,
                          f"column '{feature.name}' has {int(bad.sum())} value(s) that are not true/false",
                          observed=_preview(column[bad].astype(str).unique()), expected="true/false or 1/0",
                          cells=int(bad.sum()))
        )
    else:
        report.frame[feature.name] = coerced.astype("boolean")


def _check_category(report: SchemaReport, feature: FeatureSpec) -> None:
    column = report.frame[feature.name]
    allowed = set(feature.categories or ())
    if column.isna().any():
        report.problems.append(_empty_cells_problem(feature.name, int(column.isna().sum())))
    outside = column.notna() & ~column.isin(allowed)
    if outside.any():
        report.problems.append(
            SchemaProblem("unknown_category", feature.name,
                          f"column '{feature.name}' has {int(outside.sum())} value(s) outside its categories",
                          observed=_preview(column[outside].astype(str).unique()), expected=sorted(map(str, allowed)),
                          cells=int(outside.sum()))
        )


def _check_label(report: SchemaReport, spec: TokenSpec) -> None:
    labels = report.frame[spec.label_column]
    missing = int(labels.isna().sum())
    if missing:
        report.problems.append(
            SchemaProblem("missing_label", spec.label_column,
                          f"{missing} row(s) have no label in '{spec.label_column}'",
                          observed=missing, expected=0, cells=missing)
        )
    allowed = list(spec.label_values)
    lookup = {value: _match_label(value, allowed) for value in labels.dropna().unique()}
    normalized = labels.map(lookup)
    unknown = labels.notna() & normalized.isna()
    if unknown.any():
        report.problems.append(
            SchemaProblem("unknown_label", spec.label_column,
                          f"{int(unknown.sum())} label(s) in '{spec.label_column}' are not one of {allowed}",
                          observed=_preview(labels[unknown].astype(str).unique()), expected=allowed,
                          cells=int(unknown.sum()))
        )
    else:
        report.frame[spec.label_column] = normalized


def _match_label(value: Any, allowed: list[Any]) -> Any:
    """The spec's label equal to ``value``, tolerating '3' vs 3 vs 3.0; None if none."""
    if pd.isna(value):
        return None
    for label in allowed:
        if value == label or str(value).strip() == str(label):
            return label
        try:
            if float(value) == float(label):
                return label
        except (TypeError, ValueError):
            continue
    return None


def _preview(values: Any, limit: int = 5) -> str:
    items = [str(v) for v in list(values)[:limit]]
    more = len(values) - limit if len(values) > limit else 0
    return ", ".join(items) + (f" (+{more} more)" if more else "")
