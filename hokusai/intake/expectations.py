"""Great Expectations suites derived from a token spec, and their results in plain words.

The suites are described as plain data first (``contribution_expectations``,
``clean_expectations``), so they are testable without GX; ``run_expectations``
builds the GX Core 1.x suite, validates a frame in an ephemeral context and turns
each failed expectation into a sentence a contributor can act on. GX costs ~5 s to
import, so it is imported only inside ``run_expectations``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hokusai.tokens.spec import TokenSpec

MIN_CONTRIBUTION_ROWS = 1


@dataclass(frozen=True)
class Expectation:
    """One GX expectation (class name + kwargs) and what it means for a contributor."""

    gx_class: str
    kwargs: dict[str, Any]
    meaning: str
    # False where a failing value may be personal data: its report then gives counts only
    shows_values: bool = True


@dataclass
class ExpectationReport:
    evaluated: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return f"all {self.evaluated} expectations met"
        return "; ".join(failure["problem"] for failure in self.failures)


def contribution_expectations(spec: TokenSpec) -> list[Expectation]:
    """What an upload must satisfy before it is cleaned: columns, label, ranges, size."""
    columns = [*spec.feature_names, spec.label_column] + ([spec.key_column] if spec.key_column else [])
    expectations = [
        Expectation("ExpectTableColumnsToMatchSet",
                    {"column_set": columns, "exact_match": spec.unknown_columns == "reject"},
                    "the file has exactly the token's columns"
                    if spec.unknown_columns == "reject" else "the file has all of the token's columns"),
        Expectation("ExpectTableRowCountToBeBetween", {"min_value": MIN_CONTRIBUTION_ROWS},
                    f"the file has at least {MIN_CONTRIBUTION_ROWS} row(s)"),
        *_label_expectations(spec),
    ]
    for feature in spec.features:
        if feature.dtype in ("int", "float") and (feature.minimum is not None or feature.maximum is not None):
            expectations.append(Expectation(
                "ExpectColumnValuesToBeBetween",
                {"column": feature.name, "min_value": feature.minimum, "max_value": feature.maximum},
                f"'{feature.name}' lies between {feature.minimum} and {feature.maximum}",
            ))
        elif feature.dtype == "category":
            expectations.append(Expectation(
                "ExpectColumnValuesToBeInSet",
                {"column": feature.name, "value_set": list(feature.categories or ())},
                f"'{feature.name}' is one of its categories",
            ))
    return expectations


def clean_expectations(spec: TokenSpec, text_columns: Iterable[str],
                       pii_patterns: Sequence[str] | dict[str, Sequence[str]]) -> list[Expectation]:
    """What cleaned rows must satisfy before training: labels, size, and no raw PII left.

    ``pii_patterns`` is one list for every text column, or a list per column.
    """
    expectations = [
        Expectation("ExpectTableRowCountToBeBetween", {"min_value": MIN_CONTRIBUTION_ROWS},
                    f"at least {MIN_CONTRIBUTION_ROWS} row(s) remain after cleaning"),
        *_label_expectations(spec),
    ]
    for column in text_columns:
        patterns = pii_patterns[column] if isinstance(pii_patterns, dict) else pii_patterns
        if not patterns:
            continue
        expectations.append(Expectation(  # one alternation: one pass over the column in RE2
            "ExpectColumnValuesToNotMatchRegex",
            {"column": column, "regex": "|".join(f"(?:{pattern})" for pattern in patterns)},
            f"no personal data is left in '{column}'", shows_values=False,
        ))
    return expectations


def clean_data_expectations(spec: TokenSpec, frame: pd.DataFrame) -> list[Expectation]:
    """``clean_expectations`` for these cleaned rows: every text column but the label is
    checked for leftover PII, except that a public-hash column (``tx_hash``…) keeps its
    64-hex values."""
    from hokusai.pii.scrub import LEFTOVER_PII_PATTERNS, is_public_hash_column

    text_columns = [str(c) for c in frame.columns if frame[c].dtype == object and c != spec.label_column]
    patterns = {column: [pattern for kind, pattern in LEFTOVER_PII_PATTERNS.items()
                         if not (kind == "ethkey" and is_public_hash_column(column))] for column in text_columns}
    return clean_expectations(spec, text_columns, patterns)


def _label_expectations(spec: TokenSpec) -> list[Expectation]:
    return [
        Expectation("ExpectColumnValuesToNotBeNull", {"column": spec.label_column},
                    f"every row has a label in '{spec.label_column}'"),
        Expectation("ExpectColumnValuesToBeInSet",
                    {"column": spec.label_column, "value_set": list(spec.label_values)},
                    f"labels in '{spec.label_column}' are among {list(spec.label_values)}"),
    ]


def run_expectations(frame: pd.DataFrame, expectations: list[Expectation], suite_name: str) -> ExpectationReport:
    """Validate ``frame`` with GX Core and report each failed expectation in words."""
    gx = _gx()
    present = set(map(str, frame.columns))
    runnable = [e for e in expectations if "column" not in e.kwargs or e.kwargs["column"] in present]
    skipped = [e for e in expectations if e not in runnable]
    batch_definition = _batch_definition(gx)  # the context must exist before a suite
    suite = gx.ExpectationSuite(name=suite_name)
    for expectation in runnable:
        suite.add_expectation(getattr(gx.expectations, expectation.gx_class)(**expectation.kwargs))
    with _pandas_for_gx():
        batch = batch_definition.get_batch(batch_parameters={"dataframe": _batch_frame(frame, runnable)})
        # A pass/fail pass is ~25% cheaper than one that collects examples; only the
        # failed expectations are run again to say what was wrong.
        result = batch.validate(suite, result_format="BOOLEAN_ONLY")
        failed = [e for e, outcome in _matched(runnable, result.results) if not outcome.success]
        report = ExpectationReport(evaluated=len(runnable))
        if failed:
            detail_suite = gx.ExpectationSuite(name=f"{suite_name}-failures")
            for expectation in failed:
                detail_suite.add_expectation(getattr(gx.expectations, expectation.gx_class)(**expectation.kwargs))
            details = batch.validate(detail_suite, result_format="BASIC")
            for expectation, outcome in _matched(failed, details.results):
                report.failures.append(_failure(expectation, outcome.to_json_dict()))
    for expectation in skipped:
        report.failures.append({
            "expectation": expectation.gx_class, "meaning": expectation.meaning,
            "problem": f"cannot check that {expectation.meaning}: column '{expectation.kwargs['column']}' is missing",
            "observed": None, "expected": expectation.kwargs,
        })
    return report


def _matched(expectations: list[Expectation], results: list[Any]) -> list[tuple[Expectation, Any]]:
    """Each expectation with its own result. GX does not keep the suite's order (an expectation whose
    metric fails on a text value moves), so results are matched by type and arguments (GX leaves out an
    argument left at its default), never by position."""
    unused = list(results)
    pairs = []
    for expectation in expectations:
        kind = _SNAKE.sub("_", expectation.gx_class).lower()
        for outcome in unused:
            config = outcome.expectation_config
            if config.type == kind and all(config.kwargs.get(k, v) == v for k, v in expectation.kwargs.items()):
                pairs.append((expectation, outcome))
                unused.remove(outcome)
                break
        else:
            raise RuntimeError(f"Great Expectations returned no result for {expectation.gx_class} "
                               f"{expectation.kwargs.get('column', '')}")
    return pairs


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_REGEX_EXPECTATIONS = frozenset({"ExpectColumnValuesToMatchRegex", "ExpectColumnValuesToNotMatchRegex",
                                 "ExpectColumnValuesToMatchRegexList", "ExpectColumnValuesToNotMatchRegexList"})


@contextmanager
def _pandas_for_gx() -> Iterator[None]:
    """pandas as GX runs fastest on a million rows, for the validation only.

    Copy-on-write: GX selects every row of the batch (``df[mask]``) once per
    expectation, a full copy each time without it (15 copies, ~6 s at 1M x 20).
    Arrow strings: GX's regex expectations call ``astype(str).str.contains``, which
    then runs in RE2 (the patterns must be RE2's, as ``LEFTOVER_PII_PATTERNS`` are)
    instead of Python's ``re`` (34 s -> 5 s for the clean suite at 1M rows).
    """
    with pd.option_context("mode.copy_on_write", True, "future.infer_string", True), \
            warnings.catch_warnings():  # pandas warns about match groups in regexes; harmless here
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
        yield


def _batch_frame(frame: pd.DataFrame, expectations: list[Expectation]) -> pd.DataFrame:
    """``frame``, with the text columns a regex expectation reads already as Arrow strings
    (GX converts a column once per regex otherwise). Mixed columns stay as they are."""
    columns = {e.kwargs["column"] for e in expectations if e.gx_class in _REGEX_EXPECTATIONS}
    batch = frame.copy(deep=False)
    for column in columns:
        values = batch[column]
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            batch[column] = values.astype(pd.StringDtype("pyarrow", na_value=np.nan))
    return batch


def _failure(expectation: Expectation, outcome: dict[str, Any]) -> dict[str, Any]:
    details = outcome.get("result") or {}
    mismatched = (details.get("details") or {}).get("mismatched")
    error = _raised(outcome.get("exception_info") or {})
    if error is not None:  # the check could not run at all (a text value in a numeric column)
        reason = f": {error[:200]}" if expectation.shows_values else ""
        return {"expectation": expectation.gx_class, "meaning": expectation.meaning,
                "problem": f"cannot check that {expectation.meaning}{reason}", "observed": None,
                "expected": {k: v for k, v in expectation.kwargs.items() if k not in ("regex", "regex_list")}}
    if mismatched:
        observed = {kind: sorted(map(str, names))[:10] for kind, names in mismatched.items() if names}
    elif "observed_value" in details:
        observed = details["observed_value"]
    else:
        observed = {
            "unexpected_count": details.get("unexpected_count"),
            "unexpected_percent": _round(details.get("unexpected_percent")),
            "examples": [str(v) for v in (details.get("partial_unexpected_list") or [])[:5]]
            if expectation.shows_values else [],
        }
    problem = f"expected that {expectation.meaning}"
    if mismatched:
        problem += "; " + "; ".join(f"{kind} columns: {', '.join(names)}" for kind, names in observed.items())
    elif isinstance(observed, dict) and observed.get("unexpected_count") is not None:
        problem += f", but {observed['unexpected_count']} value(s) do not"
        if observed["examples"]:
            problem += f" (e.g. {', '.join(observed['examples'][:3])})"
    elif observed is not None and expectation.shows_values:
        problem += f"; observed {observed}"
    return {"expectation": expectation.gx_class, "meaning": expectation.meaning, "problem": problem,
            "observed": observed, "expected": {k: v for k, v in expectation.kwargs.items() if k not in ("regex", "regex_list")}}


def _raised(info: dict[str, Any]) -> str | None:
    """The message of an exception GX caught while checking, or None. GX reports it at the top level
    or, per metric, nested under the metric's id."""
    for entry in [info, *[v for v in info.values() if isinstance(v, dict)]]:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "the check raised an error")
    return None


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


_CONTEXT: dict[str, Any] = {}


def _gx() -> Any:
    import great_expectations as gx

    return gx


def _batch_definition(gx: Any) -> Any:
    """One ephemeral context and dataframe batch definition per process (creating them costs ~0.4 s)."""
    if "batch_definition" not in _CONTEXT:
        import logging

        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every pandas batch under this many bytes (an MD5 of pandas' row
        # hashes: ~4 s for 1M x 20, twice per validation) for a batch marker nothing here
        # reads; 0 turns it off.
        pandas_execution_engine.HASH_THRESHOLD = 0
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("hokusai").add_dataframe_asset("contribution")
        _CONTEXT["batch_definition"] = asset.add_batch_definition_whole_dataframe("whole")
    return _CONTEXT["batch_definition"]
