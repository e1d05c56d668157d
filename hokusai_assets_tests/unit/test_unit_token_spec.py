"""Unit tests for ``hokusai.tokens.spec``: the demo spec, and invalid specs reported in one pass."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
import yaml

from hokusai.tokens.spec import TokenSpecError, load_token_spec, load_token_specs

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SPEC = REPO_ROOT / "tokens" / "digits-demo.yaml"

VALID = {
    "token_id": "unit-token",
    "model_name": "unit-model",
    "model_id_uint": "7",
    "task": "binary_classification",
    "label_column": "y",
    "label_values": [0, 1],
    "primary_metric": "accuracy",
    "min_improvement_bps": 50,
    "base_data": "data/base.csv",
    "benchmark": {"path": "data/bench.csv", "spec_id": "unit-bench-v1"},
    "estimator": {"class": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 3}},
    "seed": 7,
    "features": [
        {"name": "x", "dtype": "int", "min": 0, "max": 16},
        {"name": "z", "dtype": "float"},
    ],
}


def write_spec(tmp_path: Path, raw, name: str = "unit-token", data_files: bool = True) -> Path:
    """Write ``raw`` as ``<name>.yaml`` in tmp_path (with its data files unless told not to)."""
    if data_files:
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "base.csv").write_text("x,z,y\n1,0.5,0\n")
        (tmp_path / "data" / "bench.csv").write_text("x,z,y\n2,1.5,1\n")
    path = tmp_path / f"{name}.yaml"
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def spec_with(**changes) -> dict:
    raw = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is DELETE:
            raw.pop(key)
        else:
            raw[key] = value
    return raw


DELETE = object()


def problems_of(error: TokenSpecError) -> list[str]:
    """The bullet lines of a TokenSpecError message."""
    return [line.strip()[2:] for line in str(error).splitlines()[1:] if line.strip().startswith("- ")]


# --- the demo spec ---------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    return load_token_spec(DEMO_SPEC)


def test_demo_spec_identity_and_task(demo):
    """The shipped spec loads with the documented identity, task and metric."""
    assert demo.token_id == "digits-demo"
    assert demo.model_name == "hokusai-digits-demo"
    assert demo.model_id_uint == 1001 and isinstance(demo.model_id_uint, int)
    assert demo.task == "multiclass_classification"
    assert demo.primary_metric == "accuracy"
    assert demo.metric_family == "proportion"
    assert demo.min_improvement_bps == 100
    assert demo.seed == 42
    assert demo.merge_strategy == "append" and demo.key_column is None
    assert demo.unknown_columns == "reject"


def test_demo_spec_features_and_labels(demo):
    """64 int pixel features in 0..16, label ``digit`` over ten labels."""
    assert len(demo.features) == 64
    assert demo.feature_names == [f"pixel_{i // 8}_{i % 8}" for i in range(64)]
    assert all(f.dtype == "int" and f.minimum == 0 and f.maximum == 16 for f in demo.features)
    assert all(f.categories is None for f in demo.features)
    assert demo.label_column == "digit"
    assert demo.label_values == tuple(range(10))
    assert demo.positive_label == 9  # defaults to the last label


def test_demo_spec_benchmark_estimator_and_paths(demo):
    """Benchmark id and sampling, sklearn estimator, data paths relative to the spec."""
    assert demo.benchmark_spec_id == "digits-demo-benchmark-v1"
    assert demo.benchmark_sample_cap == 20000
    assert demo.min_benchmark_samples == 500
    assert demo.estimator_class == "sklearn.ensemble.RandomForestClassifier"
    assert demo.estimator_params == {"n_estimators": 50, "n_jobs": 1}
    assert demo.base_data_path == DEMO_SPEC.parent / "digits-demo" / "base.csv"
    assert demo.benchmark_path == DEMO_SPEC.parent / "digits-demo" / "benchmark.csv"
    assert demo.base_data_path.is_file() and demo.benchmark_path.is_file()
    assert demo.source_path == DEMO_SPEC


def test_demo_spec_sha256_is_of_the_file_bytes(demo):
    assert demo.spec_sha256 == hashlib.sha256(DEMO_SPEC.read_bytes()).hexdigest()


def test_load_token_specs_keys_by_token_id():
    specs = load_token_specs(DEMO_SPEC.parent)
    assert list(specs) == ["digits-demo", "topics-dspy-demo"]
    assert specs["digits-demo"] == load_token_spec(DEMO_SPEC)


# --- a valid custom spec -------------------------------------------------------------

def test_minimal_valid_spec_and_defaults(tmp_path):
    """Optional fields take their documented defaults."""
    spec = load_token_spec(write_spec(tmp_path, VALID))
    assert spec.model_id_uint == 7
    assert spec.metric_family == "proportion"
    assert spec.merge_strategy == "append"
    assert spec.unknown_columns == "reject"
    assert spec.benchmark_sample_cap == 20000 and spec.min_benchmark_samples == 100
    assert spec.positive_label == 1
    assert spec.features[0].minimum == 0 and spec.features[0].maximum == 16
    assert spec.features[1].minimum is None and spec.features[1].maximum is None
    assert spec.estimator_params == {"max_depth": 3}
    assert spec.eligibility_seeds == 10


def test_eligibility_seeds_are_read_from_the_benchmark_section(tmp_path):
    raw = spec_with(benchmark={"path": "data/bench.csv", "spec_id": "unit-bench-v1", "eligibility_seeds": 20})
    assert load_token_spec(write_spec(tmp_path, raw)).eligibility_seeds == 20


def test_integer_model_id_and_category_feature(tmp_path):
    raw = spec_with(model_id_uint=12, merge_strategy="update", key_column="id", features=[
        {"name": "colour", "dtype": "category", "categories": ["red", "green"]},
    ])
    spec = load_token_spec(write_spec(tmp_path, raw))
    assert spec.model_id_uint == 12
    assert spec.features[0].categories == ("red", "green")
    assert spec.merge_strategy == "update" and spec.key_column == "id"


def test_spec_hash_changes_with_bytes(tmp_path):
    """Two byte-different files with the same content differ only in spec_sha256 (not compared)."""
    first = load_token_spec(write_spec(tmp_path, VALID))
    path = tmp_path / "unit-token.yaml"
    path.write_text(path.read_text() + "# a comment\n")
    second = load_token_spec(path)
    assert first.spec_sha256 != second.spec_sha256
    assert first == second  # spec_sha256 is excluded from equality


# --- invalid specs: each problem, with its field path ----------------------------------

INVALID_CASES = [
    ("bad_token_id", dict(token_id="Bad_Token"), ["token_id: token id 'Bad_Token' must be lowercase"]),
    ("token_id_chars", dict(token_id="bad token"), ["token_id: token id 'bad token' may contain only"]),
    ("unknown_task", dict(task="regression"),
     ["task: must be one of binary_classification, multiclass_classification, got 'regression'"]),
    ("unknown_metric", dict(primary_metric="rmse"),
     ["primary_metric: must be one of accuracy, precision, recall, f1, auroc, got 'rmse'"]),
    ("estimator_outside_sklearn", dict(estimator={"class": "os.system"}),
     ["estimator.class: only scikit-learn estimators are allowed, got 'os.system'"]),
    ("estimator_lookalike_prefix", dict(estimator={"class": "sklearnx.Evil"}),
     ["estimator.class: only scikit-learn estimators are allowed, got 'sklearnx.Evil'"]),
    ("update_without_key", dict(merge_strategy="update"), ["merge_strategy: 'update' needs key_column"]),
    ("unknown_merge", dict(merge_strategy="upsert"), ["merge_strategy: must be one of append, replace, update"]),
    ("unknown_columns_policy", dict(unknown_columns="keep"), ["unknown_columns: must be one of reject, drop"]),
    ("min_greater_than_max", dict(features=[{"name": "x", "dtype": "int", "min": 16, "max": 0}]),
     ["features[0] (x): min 16 is greater than max 0"]),
    ("duplicate_feature", dict(features=[{"name": "x", "dtype": "int"}, {"name": "x", "dtype": "float"}]),
     ["features[1]: duplicate feature 'x'"]),
    ("category_without_categories", dict(features=[{"name": "c", "dtype": "category"}]),
     ["features[0] (c): a category feature needs 'categories'"]),
    ("unknown_dtype", dict(features=[{"name": "x", "dtype": "complex"}]),
     ["features[0] (x): dtype must be one of int, float, category, string, bool, got 'complex'"]),
    ("feature_without_name", dict(features=[{"dtype": "int"}]),
     ["features[0]: expected a mapping with a 'name'", "features: at least one feature is required"]),
    ("no_features", dict(features=[]), ["features: at least one feature is required"]),
    ("binary_with_three_labels", dict(label_values=[0, 1, 2]),
     ["label_values: a binary task needs exactly two labels, got 3"]),
    ("one_label", dict(task="multiclass_classification", label_values=[0]),
     ["label_values: a classification task needs at least two labels"]),
    ("positive_label_outside", dict(positive_label=5), ["positive_label: 5 is not one of label_values"]),
    ("label_is_feature", dict(label_column="x"), ["label_column: 'x' is also listed as a feature"]),
    ("model_id_zero", dict(model_id_uint=0), ["model_id_uint: expected a positive uint256, got 0"]),
    ("model_id_negative", dict(model_id_uint=-3), ["model_id_uint: expected a positive uint256, got -3"]),
    ("model_id_too_big", dict(model_id_uint=str(2**256)), ["model_id_uint: expected a positive uint256"]),
    ("min_bps_out_of_range", dict(min_improvement_bps=10001), ["min_improvement_bps: expected 0..10000, got 10001"]),
    ("too_few_eligibility_seeds", dict(benchmark={"path": "data/bench.csv", "spec_id": "b", "eligibility_seeds": 1}),
     ["benchmark.eligibility_seeds: expected 5..100, got 1"]),
    ("bool_is_not_int", dict(min_improvement_bps=True), ["min_improvement_bps: expected int, got bool True"]),
    ("wrong_type", dict(seed="forty-two"), ["seed: expected int, got str 'forty-two'"]),
    ("missing_required", dict(model_name=DELETE, label_column=DELETE, task=DELETE),
     ["task: required", "label_column: required", "model_name: required"]),
    ("missing_estimator_and_benchmark", dict(estimator=DELETE, benchmark=DELETE),
     ["estimator: required", "benchmark: required"]),
    ("missing_data_files", dict(base_data="data/nope.csv", benchmark={"path": "data/gone.csv", "spec_id": "b"}),
     ["base_data: file not found: ", "benchmark.path: file not found: "]),
]


@pytest.mark.parametrize("changes, expected", [c[1:] for c in INVALID_CASES], ids=[c[0] for c in INVALID_CASES])
def test_invalid_spec_reports_problem_with_field_path(tmp_path, changes, expected):
    path = write_spec(tmp_path, spec_with(**changes))
    with pytest.raises(TokenSpecError) as caught:
        load_token_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid token spec:")
    problems = problems_of(caught.value)
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    assert len(problems) == len(expected), problems


def test_every_problem_is_reported_at_once(tmp_path):
    """A spec broken in many ways lists every problem in one error, one per line."""
    raw = spec_with(
        token_id="Bad_Token",
        task="regression",
        primary_metric="rmse",
        merge_strategy="update",
        estimator={"class": "os.system"},
        model_name=DELETE,
        base_data="data/nope.csv",
        features=[
            {"name": "x", "dtype": "int", "min": 5, "max": 1},
            {"name": "x", "dtype": "int"},
            {"name": "c", "dtype": "category"},
        ],
    )
    with pytest.raises(TokenSpecError) as caught:
        load_token_spec(write_spec(tmp_path, raw))
    problems = problems_of(caught.value)
    expected = [
        "token_id: token id 'Bad_Token' must be lowercase",
        "task: must be one of",
        "primary_metric: must be one of",
        "features[0] (x): min 5 is greater than max 1",
        "features[1]: duplicate feature 'x'",
        "features[2] (c): a category feature needs 'categories'",
        "merge_strategy: 'update' needs key_column",
        "estimator.class: only scikit-learn estimators are allowed, got 'os.system'",
        "base_data: file not found",
        "model_name: required",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_binary_with_three_labels_in_a_multi_problem_spec(tmp_path):
    raw = spec_with(label_values=[0, 1, 2], primary_metric="mse")
    with pytest.raises(TokenSpecError) as caught:
        load_token_spec(write_spec(tmp_path, raw))
    problems = problems_of(caught.value)
    assert any(p.startswith("label_values: a binary task needs exactly two labels, got 3") for p in problems)
    assert any(p.startswith("primary_metric:") for p in problems)


def test_token_id_must_match_file_name(tmp_path):
    path = write_spec(tmp_path, spec_with(token_id="other-token"))
    with pytest.raises(TokenSpecError, match=r"token_id 'other-token' must match the file name"):
        load_token_spec(path)


def test_missing_data_files_without_data_dir(tmp_path):
    path = write_spec(tmp_path, VALID, data_files=False)
    with pytest.raises(TokenSpecError) as caught:
        load_token_spec(path)
    problems = problems_of(caught.value)
    assert problems == [
        f"base_data: file not found: {tmp_path / 'data' / 'base.csv'}",
        f"benchmark.path: file not found: {tmp_path / 'data' / 'bench.csv'}",
    ]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", ""], ids=["list", "scalar", "int", "empty"])
def test_non_mapping_yaml(tmp_path, text):
    path = write_spec(tmp_path, text)
    with pytest.raises(TokenSpecError, match="expected a mapping at the top level"):
        load_token_spec(path)


def test_invalid_yaml(tmp_path):
    path = write_spec(tmp_path, "token_id: [unclosed\n")
    with pytest.raises(TokenSpecError, match="not valid YAML"):
        load_token_spec(path)


# --- problems that once crashed or went unreported ---------------------------------------

BUG_CASES = [
    pytest.param(
        dict(estimator={}), "estimator.class",
        id="empty_estimator_mapping",
    ),
    pytest.param(
        dict(benchmark={}), "benchmark.path",
        id="empty_benchmark_mapping",
    ),
    pytest.param(
        dict(benchmark={"path": "data/bench.csv"}), "benchmark.spec_id: required",
        id="nested_field_path_benchmark",
    ),
    pytest.param(
        dict(estimator={"params": {}}), "estimator.class: required",
        id="nested_field_path_estimator",
    ),
    pytest.param(
        dict(estimator={"class": "sklearn.tree.DecisionTreeClassifier", "params": [1, 2]}), "estimator.params",
        id="estimator_params_list",
    ),
    pytest.param(
        dict(features=[{"name": "x", "dtype": "int", "min": "0", "max": 16}]), "features[0] (x)",
        id="feature_min_is_string",
    ),
    pytest.param(
        dict(features=[{"name": "x", "dtype": "int", "min": "low"}]), "features[0] (x)",
        id="feature_min_is_word",
    ),
    pytest.param(
        dict(features=[{"name": "c", "dtype": "category", "categories": "red"}]), "features[0] (c)",
        id="categories_is_string",
    ),
    pytest.param(
        dict(model_id_uint="²"), "model_id_uint",
        id="model_id_superscript_digit",
    ),
    pytest.param(
        dict(benchmark={"path": "data/bench.csv", "spec_id": "b", "sample_cap": 0}), "sample_cap",
        id="sample_cap_zero",
    ),
]


@pytest.mark.parametrize("changes, fragment", BUG_CASES)
def test_spec_problem_is_reported_as_token_spec_error(tmp_path, changes, fragment):
    path = write_spec(tmp_path, spec_with(**changes))
    with pytest.raises(TokenSpecError) as caught:
        load_token_spec(path)
    assert fragment in str(caught.value)


def test_file_name_mismatch_is_listed_with_other_problems(tmp_path):
    path = write_spec(tmp_path, spec_with(token_id="other-token", task="regression"))
    with pytest.raises(TokenSpecError) as caught:
        load_token_spec(path)
    message = str(caught.value)
    assert "task: must be one of" in message
    assert "must match the file name" in message


def test_an_unknown_token_has_its_own_error_not_a_key_error(tmp_path):
    from hokusai.tokens.spec import UnknownTokenError, token_spec_path

    (tmp_path / "known.yaml").write_text("token_id: known\n")
    assert token_spec_path(tmp_path, "known") == tmp_path / "known.yaml"
    with pytest.raises(UnknownTokenError, match="unknown token 'missing': no spec missing.yaml") as error:
        token_spec_path(tmp_path, "missing")
    assert not isinstance(error.value, KeyError) and error.value.token_id == "missing"


def test_every_field_the_spec_reader_reads_is_in_the_token_reference():
    """docs/tokens.md is the token author's reference: a field added to the reader must be documented."""
    import re

    source = (REPO_ROOT / "hokusai" / "tokens" / "spec.py").read_text()
    read = set(re.findall(r'self\.(?:get|choice|bounded_int|data_file|_fraction)\("([a-z_.]+)"', source))
    read |= set(re.findall(r'self\.raw\.get\("([a-z_]+)"', source)) | {"features"}
    assert {"token_id", "merge_strategy", "key_column", "benchmark.eligibility_seeds", "dspy"} <= read
    reference = (REPO_ROOT / "docs" / "tokens.md").read_text()
    missing = sorted(name for name in read if f"`{name}`" not in reference)
    assert not missing, f"docs/tokens.md does not document {missing}"
