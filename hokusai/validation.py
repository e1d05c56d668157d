"""Checking a contribution against its token's schema, in words a contributor can act on.

Every problem is collected (not just the first) and carries what was observed and
what was expected, so the UI and the CLI can show the contributor exactly what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from hokusai.token_spec import FeatureSpec, TokenSpec


@dataclass(frozen=True)
class SchemaProblem:
    code: str
    column: str | None
    message: str
    observed: Any = None
    expected: Any = None

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
    report = SchemaReport(frame=frame.copy())
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
    unknown = [str(c) for c in frame.columns if c not in expected]
    if unknown and spec.unknown_columns == "reject":
        report.problems.append(
            SchemaProblem("unknown_columns", None,
                          f"{len(unknown)} column(s) not in the token's schema: {_preview(unknown)}",
                          observed=unknown[:20], expected="only the token's columns")
        )
    elif unknown:
        report.frame = report.frame.drop(columns=unknown)
        report.dropped_columns = unknown
    for feature in spec.features:
        if feature.name in report.frame.columns:
            _check_feature(report, feature)
    if spec.label_column in report.frame.columns:
        _check_label(report, spec)
    return report


def _check_feature(report: SchemaReport, feature: FeatureSpec) -> None:
    column = report.frame[feature.name]
    if feature.dtype in ("int", "float"):
        coerced = pd.to_numeric(column, errors="coerce")
        bad = int((coerced.isna() & column.notna()).sum())
        if bad:
            report.coercion_errors[feature.name] = bad
            report.problems.append(
                SchemaProblem("not_numeric", feature.name,
                              f"column '{feature.name}' has {bad} value(s) that are not numbers",
                              observed=_preview(column[coerced.isna() & column.notna()].astype(str).unique()),
                              expected=feature.dtype)
            )
        if feature.dtype == "int":
            fractional = int((coerced.notna() & (coerced % 1 != 0)).sum())
            if fractional:
                report.problems.append(
                    SchemaProblem("not_integer", feature.name,
                                  f"column '{feature.name}' has {fractional} non-integer value(s)",
                                  observed=fractional, expected="whole numbers")
                )
        _check_range(report, feature, coerced)
        report.frame[feature.name] = coerced.astype("float64")
    elif feature.dtype == "category":
        allowed = set(feature.categories or ())
        outside = column.notna() & ~column.isin(allowed)
        if outside.any():
            report.problems.append(
                SchemaProblem("unknown_category", feature.name,
                              f"column '{feature.name}' has {int(outside.sum())} value(s) outside its categories",
                              observed=_preview(column[outside].astype(str).unique()), expected=sorted(map(str, allowed)))
            )


def _check_range(report: SchemaReport, feature: FeatureSpec, values: pd.Series) -> None:
    low, high = feature.minimum, feature.maximum
    outside = pd.Series(False, index=values.index)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    count = int(outside.sum())
    if count:
        report.problems.append(
            SchemaProblem("out_of_range", feature.name,
                          f"column '{feature.name}' has {count} value(s) outside [{low}, {high}]",
                          observed=[float(values[outside].min()), float(values[outside].max())],
                          expected=[low, high])
        )


def _check_label(report: SchemaReport, spec: TokenSpec) -> None:
    labels = report.frame[spec.label_column]
    missing = int(labels.isna().sum())
    if missing:
        report.problems.append(
            SchemaProblem("missing_label", spec.label_column,
                          f"{missing} row(s) have no label in '{spec.label_column}'",
                          observed=missing, expected=0)
        )
    allowed = list(spec.label_values)
    lookup = {value: _match_label(value, allowed) for value in labels.dropna().unique()}
    normalized = labels.map(lookup)
    unknown = labels.notna() & normalized.isna()
    if unknown.any():
        report.problems.append(
            SchemaProblem("unknown_label", spec.label_column,
                          f"{int(unknown.sum())} label(s) in '{spec.label_column}' are not one of {allowed}",
                          observed=_preview(labels[unknown].astype(str).unique()), expected=allowed)
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
