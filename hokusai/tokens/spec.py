"""Token specs: what a token's model is, how it is trained and how it is judged.

A spec is a YAML file ``tokens/<token_id>.yaml``. It is validated on load, and
every problem is reported at once, with its field path, so a broken spec is fixed
in one pass rather than one error at a time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from hokusai.tokens.dspy_spec import DSPyProgramSpec, parse_dspy_section
from hokusai.rules.token_ids import validate_token_id
from hokusai.rules.metric_names import BENCHMARK_METRICS

TASKS = ("binary_classification", "multiclass_classification")
PRIMARY_METRICS = BENCHMARK_METRICS
MERGE_STRATEGIES = ("append", "replace", "update")
FEATURE_DTYPES = ("int", "float", "category", "string", "bool")
UNKNOWN_COLUMN_POLICIES = ("reject", "drop")
# Estimators are imported by name from the spec; only scikit-learn is allowed so a
# spec file cannot make the platform import arbitrary code.
ALLOWED_ESTIMATOR_PREFIX = "sklearn."
# Seeded fits of each model behind an eligibility verdict: fewer leave the seed part of
# the interval to a handful of draws; more cost one fit each for little (docs/eligibility.md).
DEFAULT_ELIGIBILITY_SEEDS = 10
ELIGIBILITY_SEEDS_RANGE = (5, 100)


class TokenSpecError(ValueError):
    """A token spec file is invalid; the message lists every problem found."""


class UnknownTokenError(LookupError):
    """No spec for this token id: a contribution for it cannot be evaluated."""

    def __init__(self, token_id: str, tokens_dir: Path):
        super().__init__(f"unknown token '{token_id}': no spec {token_id}.yaml in {tokens_dir}")
        self.token_id = token_id


def token_spec_path(tokens_dir: Path, token_id: str) -> Path:
    """The spec file of ``token_id``; ``UnknownTokenError`` when there is none."""
    path = Path(tokens_dir) / f"{token_id}.yaml"
    if not path.is_file():
        raise UnknownTokenError(token_id, Path(tokens_dir))
    return path


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    dtype: str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class TokenSpec:
    token_id: str
    model_name: str
    model_id_uint: int
    task: str
    label_column: str
    label_values: tuple[Any, ...]
    features: tuple[FeatureSpec, ...]
    primary_metric: str
    metric_family: str
    min_improvement_bps: int
    base_data_path: Path
    benchmark_path: Path
    benchmark_spec_id: str
    benchmark_sample_cap: int
    min_benchmark_samples: int
    estimator_class: str
    estimator_params: dict[str, Any]
    seed: int
    merge_strategy: str = "append"
    bootstrap_resamples: int = 1000
    # seeded fits per model for eligibility (hokusai.evaluation.seeded); see docs/eligibility.md
    eligibility_seeds: int = DEFAULT_ELIGIBILITY_SEEDS
    key_column: str | None = None
    unknown_columns: str = "reject"
    positive_label: Any = None
    # A row within this share of every numeric feature's range of a training row (same
    # label, same categories) is a near-copy that adds nothing (hokusai.chain.new_rows).
    # 0: exact copies only. What counts as noise depends on the domain, so a token sets it.
    near_copy_tolerance: float = 0.0
    source_path: Path | None = None
    # a DSPy program as the model (hokusai.tokens.dspy_spec); None: the scikit-learn estimator
    dspy: DSPyProgramSpec | None = None
    spec_sha256: str = field(default="", compare=False)
    # The benchmark's published commitment (its row root, hokusai.evaluation.benchmark): the platform
    # refuses a benchmark file that does not match it, so a benchmark kept private is still pinned.
    benchmark_rows_root: str | None = None

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    @property
    def content_columns(self) -> list[str]:
        """What a row says: its features, then its label (what copies and the benchmark are compared on)."""
        return [*self.feature_names, self.label_column]

    @property
    def compared_columns(self) -> list[str]:
        """What a row tells the model: its model inputs, then its label. Duplicates, benchmark copies and
        the champion's rows are found on these, so a copy with other free text is still a copy: a
        scikit-learn token's ``string`` features are no model input (a DSPy token's text is its input)."""
        if self.dspy is not None:
            return self.content_columns
        return [*(f.name for f in self.features if f.dtype != "string"), self.label_column]

    @property
    def committed_columns(self) -> list[str]:
        """The columns a contribution's row commitment covers: its content, and under ``update`` its key,
        since which earlier row a keyed row replaces is part of what the chain must rebuild."""
        return [*self.content_columns, *([self.key_column] if self.merge_strategy == "update" else [])]


def load_token_spec(path: Path) -> TokenSpec:
    """Load and validate one spec file; raise TokenSpecError listing every problem."""
    path = Path(path)
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as error:
        raise TokenSpecError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise TokenSpecError(f"{path}: expected a mapping at the top level")
    reader = _Reader(raw, path.parent)
    spec = reader.parse()
    if spec.token_id is not None and spec.token_id != path.stem and not reader.token_id_invalid:
        reader.problems.append(f"token_id '{spec.token_id}' must match the file name '{path.stem}'")
    if reader.problems:
        listed = "\n  - ".join(reader.problems)
        raise TokenSpecError(f"{path}: invalid token spec:\n  - {listed}")
    return replace(spec, source_path=path, spec_sha256=hashlib.sha256(raw_bytes).hexdigest())


def read_token_table(path: Path) -> "pd.DataFrame":
    """A token's base or benchmark table (CSV or Parquet)."""
    import pandas as pd

    return pd.read_parquet(path) if Path(path).suffix == ".parquet" else pd.read_csv(path)


def load_token_specs(tokens_dir: Path) -> dict[str, TokenSpec]:
    """Every ``*.yaml`` spec in ``tokens_dir``, keyed by token id."""
    return {p.stem: load_token_spec(p) for p in sorted(Path(tokens_dir).glob("*.yaml"))}


_REQUIRED = object()


class _Reader:
    """Reads fields with their dotted paths, collecting problems instead of stopping."""

    def __init__(self, raw: dict[str, Any], base_dir: Path):
        self.raw, self.base_dir, self.problems = raw, base_dir, []
        self.token_id_invalid = False

    def get(self, path: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
        """The value at dotted ``path`` if it has type ``kind``; else record a problem."""
        source: Any = self.raw
        *parents, name = path.split(".")
        for parent in parents:
            source = source.get(parent) if isinstance(source, dict) else None
        if parents and source is None:
            if default is _REQUIRED:
                self._once(f"{'.'.join(parents)}: required")
                return None
            return default
        if parents and not isinstance(source, dict):
            self._once(f"{'.'.join(parents)}: expected a mapping, got {type(source).__name__}")
            return None
        if name not in source or source[name] is None and type(None) not in _as_tuple(kind):
            if default is _REQUIRED:
                self.problems.append(f"{path}: required")
                return None
            return default
        value = source[name]
        kinds = _as_tuple(kind)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            self.problems.append(f"{path}: expected {_kind_name(kind)}, got {type(value).__name__} {value!r}")
            return None
        return value

    def _once(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def choice(self, path: str, allowed: tuple[str, ...], default: Any = _REQUIRED) -> str | None:
        value = self.get(path, str, default)
        if value is not None and value not in allowed:
            self.problems.append(f"{path}: must be one of {', '.join(allowed)}, got '{value}'")
            return None
        return value

    def bounded_int(self, path: str, low: int, high: int | None, default: Any = _REQUIRED) -> int | None:
        value = self.get(path, int, default)
        if value is not None and (value < low or (high is not None and value > high)):
            self.problems.append(f"{path}: expected {low}..{high if high is not None else ''}, got {value}")
            return None
        return value

    def data_file(self, path: str) -> Path | None:
        relative = self.get(path, str)
        if relative is None:
            return None
        if not (self.base_dir / relative).is_file():
            self.problems.append(f"{path}: file not found: {self.base_dir / relative}")
        return self.base_dir / relative

    def parse(self) -> TokenSpec:
        token_id = self.get("token_id", str)
        if token_id is not None:
            try:
                validate_token_id(token_id)
            except ValueError as error:
                self.problems.append(f"token_id: {error}")
                self.token_id_invalid = True
        task = self.choice("task", TASKS)
        merge_strategy = self.choice("merge_strategy", MERGE_STRATEGIES, "append")
        label_values = self.get("label_values", list)
        if label_values is not None and len(label_values) < 2:
            self.problems.append("label_values: a classification task needs at least two labels")
        if task == "binary_classification" and label_values is not None and len(label_values) != 2:
            self.problems.append(f"label_values: a binary task needs exactly two labels, got {len(label_values)}")
        positive_label = self.raw.get("positive_label", label_values[-1] if label_values else None)
        if label_values and positive_label not in label_values:
            self.problems.append(f"positive_label: {positive_label!r} is not one of label_values")
        features = tuple(self._features())
        label_column = self.get("label_column", str)
        key_column = self.get("key_column", (str, type(None)), None)
        names = [f.name for f in features]
        if label_column in names:
            self.problems.append(f"label_column: '{label_column}' is also listed as a feature")
        if key_column is not None and key_column in names + [label_column]:
            self.problems.append(f"key_column: '{key_column}' must not be a feature or the label")
        if merge_strategy == "update" and key_column is None:
            self.problems.append("merge_strategy: 'update' needs key_column")
        program = parse_dspy_section(self.raw.get("dspy"), self.base_dir, self.problems)
        if program is not None:
            self._dspy_features(features, label_values)
        estimator_class = f"dspy:{program.program_ref()}" if program else self.get("estimator.class", str)
        if estimator_class and program is None and not estimator_class.startswith(ALLOWED_ESTIMATOR_PREFIX):
            self.problems.append(f"estimator.class: only scikit-learn estimators are allowed, got '{estimator_class}'")
        return TokenSpec(
            token_id=token_id,
            model_name=self.get("model_name", str),
            model_id_uint=self._model_id_uint(),
            task=task,
            label_column=label_column,
            label_values=tuple(label_values or ()),
            features=features,
            primary_metric=self.choice("primary_metric", PRIMARY_METRICS),
            metric_family=self.get("metric_family", str, "proportion"),
            min_improvement_bps=self.bounded_int("min_improvement_bps", 0, 10000, 100),
            base_data_path=self.data_file("base_data"),
            benchmark_path=self.data_file("benchmark.path"),
            benchmark_spec_id=self.get("benchmark.spec_id", str),
            benchmark_sample_cap=self.bounded_int("benchmark.sample_cap", 1, None, 20000),
            min_benchmark_samples=self.bounded_int("benchmark.min_samples", 1, None, 100),
            bootstrap_resamples=self.bounded_int("benchmark.bootstrap_resamples", 1000, 100_000, 1000),
            eligibility_seeds=self.bounded_int("benchmark.eligibility_seeds", *ELIGIBILITY_SEEDS_RANGE,
                                               DEFAULT_ELIGIBILITY_SEEDS),
            estimator_class=estimator_class,
            estimator_params=dict(self.get("estimator.params", dict, {}) or {}),
            seed=self.bounded_int("seed", 0, 2**32 - 1, 42),
            merge_strategy=merge_strategy,
            key_column=key_column,
            unknown_columns=self.choice("unknown_columns", UNKNOWN_COLUMN_POLICIES, "reject"),
            positive_label=positive_label,
            near_copy_tolerance=self._fraction("near_copy_tolerance", 0.0),
            dspy=program,
            benchmark_rows_root=self._commitment("benchmark.rows_root"),
        )

    def _commitment(self, path: str) -> str | None:
        value = self.get(path, str, None)
        if value is not None and not re.fullmatch(r"0x[0-9a-f]{64}", value):
            self.problems.append(f"{path}: expected 0x and 64 lower-case hex digits, got {value!r}")
            return None
        return value

    def _dspy_features(self, features: tuple[FeatureSpec, ...], label_values: list | None) -> None:
        """A DSPy token's inputs are text (its string features) and its labels text too."""
        not_text = [f.name for f in features if f.dtype != "string"]
        if not_text:
            self.problems.append(f"features: a DSPy token's inputs must be string features, not {not_text}")
        if label_values and not all(isinstance(v, str) and v.strip() for v in label_values):
            self.problems.append("label_values: a DSPy token's labels must be non-empty text")
        elif label_values and list(label_values) != sorted(label_values):
            self.problems.append(f"label_values: list them sorted ({sorted(label_values)}): multiclass AUROC "
                                 f"needs ordered labels")

    def _fraction(self, path: str, default: float) -> float:
        value = self.get(path, (int, float), default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            self.problems.append(f"{path}: expected a number in [0, 1), got {value!r}")
            return default
        return float(value)

    def _model_id_uint(self) -> int | None:
        value = self.get("model_id_uint", (int, str))
        if value is None:
            return None
        text = str(value)
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**256:
            self.problems.append(f"model_id_uint: expected a positive uint256, got {value!r}")
            return None
        return int(text)

    def _features(self) -> list[FeatureSpec]:
        entries = self.get("features", list) or []
        features, seen = [], set()
        for index, entry in enumerate(entries):
            where = f"features[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                self.problems.append(f"{where}: expected a mapping with a 'name'")
                continue
            name, dtype = entry["name"], entry.get("dtype")
            if name in seen:
                self.problems.append(f"{where}: duplicate feature '{name}'")
            where = f"{where} ({name})"
            seen.add(name)
            if dtype not in FEATURE_DTYPES:
                self.problems.append(f"{where}: dtype must be one of {', '.join(FEATURE_DTYPES)}, got {dtype!r}")
            low, high = entry.get("min"), entry.get("max")
            for bound, value in (("min", low), ("max", high)):
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    self.problems.append(f"{where}: {bound} must be a number, got {value!r}")
                    low, high = (None, high) if bound == "min" else (low, None)
            if low is not None and high is not None and low > high:
                self.problems.append(f"{where}: min {low} is greater than max {high}")
            categories = entry.get("categories")
            if categories is not None and not isinstance(categories, list):
                self.problems.append(f"{where}: categories must be a list, got {type(categories).__name__}")
                categories = None
            if dtype == "category" and not categories:
                self.problems.append(f"{where}: a category feature needs 'categories'")
            features.append(FeatureSpec(name, dtype, low, high, tuple(categories) if categories else None))
        if not features:
            self.problems.append("features: at least one feature is required")
        return features


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))
