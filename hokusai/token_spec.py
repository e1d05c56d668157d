"""Token specs: what a token's model is, how it is trained and how it is judged.

A spec is a YAML file ``tokens/<token_id>.yaml``. It is validated on load, and
every problem is reported at once, with its field path, so a broken spec is fixed
in one pass rather than one error at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hokusai.ids import validate_token_id

TASKS = ("binary_classification", "multiclass_classification")
PRIMARY_METRICS = ("accuracy", "precision", "recall", "f1", "auroc")
MERGE_STRATEGIES = ("append", "replace", "update")
FEATURE_DTYPES = ("int", "float", "category", "string", "bool")
UNKNOWN_COLUMN_POLICIES = ("reject", "drop")
# Estimators are imported by name from the spec; only scikit-learn is allowed so a
# spec file cannot make the platform import arbitrary code.
ALLOWED_ESTIMATOR_PREFIX = "sklearn."


class TokenSpecError(ValueError):
    """A token spec file is invalid; the message lists every problem found."""


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
    key_column: str | None = None
    unknown_columns: str = "reject"
    positive_label: Any = None
    source_path: Path | None = None
    spec_sha256: str = field(default="", compare=False)

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]


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
    problems: list[str] = []
    spec = _parse(raw, path.parent, problems)
    if problems:
        listed = "\n  - ".join(problems)
        raise TokenSpecError(f"{path}: invalid token spec:\n  - {listed}")
    if spec.token_id != path.stem:
        raise TokenSpecError(f"{path}: token_id '{spec.token_id}' must match the file name")
    return _replace(spec, source_path=path, spec_sha256=hashlib.sha256(raw_bytes).hexdigest())


def load_token_specs(tokens_dir: Path) -> dict[str, TokenSpec]:
    """Every ``*.yaml`` spec in ``tokens_dir``, keyed by token id."""
    return {p.stem: load_token_spec(p) for p in sorted(Path(tokens_dir).glob("*.yaml"))}


def _replace(spec: TokenSpec, **changes: Any) -> TokenSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def _parse(raw: dict[str, Any], base_dir: Path, problems: list[str]) -> TokenSpec:
    def get(name: str, kind: type | tuple[type, ...], default: Any = ..., *, where: dict | None = None) -> Any:
        source = raw if where is None else where
        if name not in source:
            if default is ...:
                problems.append(f"{name}: required")
                return None
            return default
        value = source[name]
        if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
            problems.append(f"{name}: expected {_kind_name(kind)}, got {type(value).__name__} {value!r}")
            return None
        return value

    token_id = get("token_id", str)
    if token_id is not None:
        try:
            validate_token_id(token_id)
        except ValueError as error:
            problems.append(f"token_id: {error}")
    task = _choice(get("task", str), "task", TASKS, problems)
    primary_metric = _choice(get("primary_metric", str), "primary_metric", PRIMARY_METRICS, problems)
    merge_strategy = _choice(get("merge_strategy", str, "append"), "merge_strategy", MERGE_STRATEGIES, problems)
    unknown_columns = _choice(
        get("unknown_columns", str, "reject"), "unknown_columns", UNKNOWN_COLUMN_POLICIES, problems
    )
    model_id_uint = get("model_id_uint", (int, str))
    if model_id_uint is not None:
        if not str(model_id_uint).isdigit() or int(model_id_uint) <= 0 or int(model_id_uint) >= 2**256:
            problems.append(f"model_id_uint: expected a positive uint256, got {model_id_uint!r}")
            model_id_uint = None
        else:
            model_id_uint = int(model_id_uint)
    min_bps = get("min_improvement_bps", int, 100)
    if min_bps is not None and not 0 <= min_bps <= 10000:
        problems.append(f"min_improvement_bps: expected 0..10000, got {min_bps}")

    label_values = get("label_values", list)
    if label_values is not None and len(label_values) < 2:
        problems.append("label_values: a classification task needs at least two labels")
    if task == "binary_classification" and label_values is not None and len(label_values) != 2:
        problems.append(f"label_values: a binary task needs exactly two labels, got {len(label_values)}")
    positive_label = raw.get("positive_label", label_values[-1] if label_values else None)
    if label_values and positive_label not in label_values:
        problems.append(f"positive_label: {positive_label!r} is not one of label_values")

    features = tuple(_parse_features(get("features", list) or [], problems))
    label_column = get("label_column", str)
    key_column = get("key_column", (str, type(None)), None)
    names = [f.name for f in features]
    if label_column in names:
        problems.append(f"label_column: '{label_column}' is also listed as a feature")
    if merge_strategy == "update" and key_column is None:
        problems.append("merge_strategy: 'update' needs key_column")

    benchmark = get("benchmark", dict) or {}
    estimator = get("estimator", dict) or {}
    estimator_class = get("class", str, where=estimator) if estimator else None
    if estimator_class and not estimator_class.startswith(ALLOWED_ESTIMATOR_PREFIX):
        problems.append(f"estimator.class: only scikit-learn estimators are allowed, got '{estimator_class}'")
    base_data = get("base_data", str)
    benchmark_path = get("path", str, where=benchmark) if benchmark else None
    for label, relative in (("base_data", base_data), ("benchmark.path", benchmark_path)):
        if relative and not (base_dir / relative).is_file():
            problems.append(f"{label}: file not found: {base_dir / relative}")

    return TokenSpec(
        token_id=token_id,
        model_name=get("model_name", str),
        model_id_uint=model_id_uint,
        task=task,
        label_column=label_column,
        label_values=tuple(label_values or ()),
        features=features,
        primary_metric=primary_metric,
        metric_family=get("metric_family", str, "proportion"),
        min_improvement_bps=min_bps,
        base_data_path=base_dir / (base_data or ""),
        benchmark_path=base_dir / (benchmark_path or ""),
        benchmark_spec_id=get("spec_id", str, where=benchmark) if benchmark else None,
        benchmark_sample_cap=get("sample_cap", int, 20000, where=benchmark),
        min_benchmark_samples=get("min_samples", int, 100, where=benchmark),
        estimator_class=estimator_class,
        estimator_params=dict(estimator.get("params") or {}),
        seed=get("seed", int, 42),
        merge_strategy=merge_strategy,
        key_column=key_column,
        unknown_columns=unknown_columns,
        positive_label=positive_label,
    )


def _parse_features(entries: list[Any], problems: list[str]) -> list[FeatureSpec]:
    features, seen = [], set()
    for index, entry in enumerate(entries):
        where = f"features[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{where}: expected a mapping with a 'name'")
            continue
        name, dtype = entry["name"], entry.get("dtype")
        if name in seen:
            problems.append(f"{where}: duplicate feature '{name}'")
        seen.add(name)
        if dtype not in FEATURE_DTYPES:
            problems.append(f"{where} ({name}): dtype must be one of {', '.join(FEATURE_DTYPES)}, got {dtype!r}")
        low, high = entry.get("min"), entry.get("max")
        if low is not None and high is not None and low > high:
            problems.append(f"{where} ({name}): min {low} is greater than max {high}")
        categories = entry.get("categories")
        if dtype == "category" and not categories:
            problems.append(f"{where} ({name}): a category feature needs 'categories'")
        features.append(
            FeatureSpec(name, dtype, low, high, tuple(categories) if categories else None)
        )
    if not features:
        problems.append("features: at least one feature is required")
    return features


def _choice(value: str | None, name: str, allowed: tuple[str, ...], problems: list[str]) -> str | None:
    if value is not None and value not in allowed:
        problems.append(f"{name}: must be one of {', '.join(allowed)}, got '{value}'")
        return None
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))
