"""New rows only: exact copies and near-copies of the champion's rows are found, new rows are kept."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hokusai.chain.new_rows import find_new_rows
from hokusai.settings import REPO_ROOT
from hokusai.tokens.spec import FeatureSpec, load_token_spec, read_token_table
from hokusai_assets_tests.spec_factory import binary_spec

DEMO = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")
BASE = read_token_table(DEMO.base_data_path)
IMPROVING = pd.read_csv(REPO_ROOT / "tokens" / "digits-demo" / "samples" / "improving.csv")
BENCHMARK = read_token_table(DEMO.benchmark_path)


def nudged(frame: pd.DataFrame, step: int, share: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pixels = DEMO.feature_names
    values = frame[pixels].to_numpy()
    out = frame.copy()
    out[pixels] = np.clip(values + rng.choice([-step, step], size=values.shape) * (rng.random(values.shape) < share),
                          0, 16)
    return out


def test_exact_copies_are_counted_as_known_rows():
    found = find_new_rows(pd.concat([BASE.iloc[:20], IMPROVING.iloc[:5]]), BASE, DEMO)
    assert (found.exact_copies, found.near_copies, int(found.keep.sum())) == (20, 0, 5)


@pytest.mark.parametrize("step", [1, 2])
def test_copies_nudged_within_the_tolerance_are_near_copies(step):
    for share in (0.15, 0.5, 1.0):
        found = find_new_rows(nudged(BASE, step, share), BASE, DEMO)
        assert found.keep.sum() == 0 and found.near_copies + found.exact_copies == len(BASE)


def test_a_nudge_beyond_the_tolerance_is_new_by_the_rule():
    found = find_new_rows(nudged(BASE, 3, 1.0), BASE, DEMO)  # every pixel that can move 3 levels, moved
    assert found.keep.sum() > 0.9 * len(BASE)


def test_genuinely_new_images_are_all_kept():
    """The measured margin: a new image of a class is >= 4 levels from its nearest training image."""
    assert find_new_rows(IMPROVING, BASE, DEMO).keep.all()
    assert find_new_rows(BENCHMARK, pd.concat([BASE, IMPROVING]), DEMO).keep.all()


def test_the_label_must_match_for_a_near_copy():
    relabelled = BASE.copy()
    relabelled["digit"] = (relabelled["digit"] + 1) % 10
    assert find_new_rows(relabelled, BASE, DEMO).keep.all()


def test_the_bucketed_search_finds_exactly_what_brute_force_finds():
    rng = np.random.default_rng(7)
    spec = dataclasses.replace(binary_spec(*(FeatureSpec(f"x{i}", "int", 0, 40) for i in range(6))),
                               near_copy_tolerance=0.1)
    training = pd.DataFrame(rng.integers(0, 41, size=(400, 6)), columns=[f"x{i}" for i in range(6)])
    training["y"] = rng.integers(0, 2, size=400)
    rows = training.sample(300, random_state=1, replace=True).reset_index(drop=True)
    rows[[f"x{i}" for i in range(6)]] += rng.integers(-6, 7, size=(300, 6))
    found = find_new_rows(rows, training, spec)
    features = [f"x{i}" for i in range(6)]
    distance = np.abs(rows[features].to_numpy()[:, None, :] - training[features].to_numpy()[None, :, :]).max(axis=2)
    same_label = rows["y"].to_numpy()[:, None] == training["y"].to_numpy()[None, :]
    brute = ((distance <= 0.1 * 40) & same_label).any(axis=1)
    assert 0 < brute.sum() < len(rows)  # the case has both kinds
    np.testing.assert_array_equal(~found.keep, brute)


def test_by_default_only_exact_copies_are_removed():
    spec = binary_spec(FeatureSpec("x", "float", 0, 1))
    training = pd.DataFrame({"x": [0.5], "y": [0]})
    assert find_new_rows(pd.DataFrame({"x": [0.5, 0.5001], "y": [0, 0]}), training, spec).keep.tolist() == [False, True]


def test_category_features_must_be_equal():
    spec = dataclasses.replace(binary_spec(FeatureSpec("x", "float", 0, 1),
                                           FeatureSpec("c", "category", None, None, ("a", "b"))), near_copy_tolerance=0.1)
    training = pd.DataFrame({"x": [0.5, 0.5], "c": ["a", "a"], "y": [0, 1]})
    rows = pd.DataFrame({"x": [0.51, 0.51], "c": ["a", "b"], "y": [0, 0]})
    assert find_new_rows(rows, training, spec).keep.tolist() == [False, True]


# -- the search against brute force -------------------------------------------------------------
# Every case is built from fixed seeds: the frames, hence the expected answer, are the same on every run.
# Each runs on both searches: the compiled one (C, for large uploads) and the numpy one (small uploads).

@pytest.fixture(params=["compiled", "numpy"])
def search_path(request, monkeypatch):
    from hokusai.chain import near_search

    if request.param == "compiled":  # built by scripts/setup: a missing build fails here, not skips
        from hokusai.chain import near_kernel  # noqa: F401

        monkeypatch.setattr(near_search, "_KERNEL_MIN_QUERIES", 0)
    else:
        monkeypatch.setattr(near_search, "_KERNEL_MIN_QUERIES", 1 << 62)
    return request.param


def brute_force_removed(rows: pd.DataFrame, training: pd.DataFrame, spec, tolerance: float) -> np.ndarray:
    """``hokusai-near-copy-v1`` written out pair by pair (exact copies by the rows' fingerprints)."""
    from hokusai.intake.cleaning import row_fingerprints

    exact = row_fingerprints(rows, spec).isin(row_fingerprints(training, spec)).to_numpy()
    numeric = [f for f in spec.features if f.dtype in ("int", "float", "bool")]
    same = [spec.label_column] + [f.name for f in spec.features if f.dtype in ("category", "string")]
    near = np.zeros(len(rows), dtype=bool)
    if tolerance > 0 and len(training):
        train = {f.name: pd.to_numeric(training[f.name], errors="coerce").to_numpy("float64") for f in numeric}
        bounds = {}
        for f in numeric:
            if f.minimum is not None and f.maximum is not None:
                span = float(f.maximum) - float(f.minimum)
            else:
                finite = train[f.name][np.isfinite(train[f.name])]
                span = float(finite.max() - finite.min()) if len(finite) else 0.0
            bounds[f.name] = tolerance * span + 1e-12
        for start in range(0, len(rows), 500):  # 500 rows x all training rows at a time
            part = rows.iloc[start:start + 500]
            ok = np.ones((len(part), len(training)), dtype=bool)
            for name in same:
                ok &= part[name].astype(str).to_numpy()[:, None] == training[name].astype(str).to_numpy()[None, :]
            for f in numeric:
                values = pd.to_numeric(part[f.name], errors="coerce").to_numpy("float64")
                ok &= np.abs(values[:, None] - train[f.name][None, :]) <= bounds[f.name]
            near[start:start + len(part)] = ok.any(axis=1)
    return exact | near


def jittered_case(seed: int, features, rows: int, training_rows: int, step, categories=None, nan_share=0.0):
    """Training rows drawn in each feature's range; rows = training rows moved by multiples of ``step``
    (so many land exactly on the tolerance's boundary) plus fresh draws."""
    rng = np.random.default_rng(seed)
    names = [f.name for f in features]

    def draw(n):
        frame = pd.DataFrame({f.name: (rng.integers(int(f.minimum), int(f.maximum) + 1, n) if f.dtype == "int"
                                       else np.round(rng.uniform(f.minimum, f.maximum, n) / step) * step)
                              for f in features})
        frame["y"] = rng.integers(0, 2, n)
        if categories:
            frame["c"] = rng.choice(categories, n)
        return frame

    training = draw(training_rows)
    moved = training.iloc[rng.integers(0, training_rows, rows - rows // 4)].reset_index(drop=True)
    for f in features:
        moves = rng.integers(-6, 7, len(moved)) * (rng.random(len(moved)) < 0.5)
        moved[f.name] = moved[f.name] + (moves if f.dtype == "int" else moves * step)
    contribution = pd.concat([moved, draw(rows // 4)], ignore_index=True)
    if nan_share:
        for frame in (contribution, training):
            for name in names:
                if frame[name].dtype.kind == "f":
                    frame.loc[rng.random(len(frame)) < nan_share, name] = np.nan
    return contribution, training


INT_FEATURES = tuple(FeatureSpec(f"x{i}", "int", 0, 40) for i in range(6))
CASES = {
    # bound 4 of 0..40: cells of half the bound, differences of exactly 4 are in, 5 out
    "ints, bound 4": (INT_FEATURES, 0.1, 1, None, 0.0),
    # bound 2 (unit cells: the cell test is the rule)
    "ints, unit cells": (tuple(FeatureSpec(f"x{i}", "int", 0, 16) for i in range(8)), 0.125, 1, None, 0.0),
    # negative values, an asymmetric range
    "negative ints": (tuple(FeatureSpec(f"x{i}", "int", -50, 30) for i in range(5)), 0.05, 1, None, 0.0),
    # floats on a grid of 1/16: differences of exactly the bound 0.125 (representable)
    "floats on the boundary": (tuple(FeatureSpec(f"x{i}", "float", -1.0, 1.0) for i in range(4)), 0.0625,
                               1 / 16, None, 0.0),
    # floats on a grid of 0.05 against a bound of 0.1: the float64 rounding of the differences decides
    "floats, rounding": (tuple(FeatureSpec(f"x{i}", "float", 0.0, 1.0) for i in range(4)), 0.1, 0.05, None, 0.0),
    # a category that must be equal, and NaNs that never match
    "category and NaN": ((FeatureSpec("x0", "float", 0.0, 10.0), FeatureSpec("x1", "int", 0, 20),
                          FeatureSpec("c", "category", None, None, ("a", "b", "c"))), 0.1, 0.5, ("a", "b", "c"),
                         0.05),
    # no declared range: the span the training set shows
    "ranges from the training set": (tuple(FeatureSpec(f"x{i}", "float") for i in range(3)), 0.1, 0.25, None, 0.0),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_search_finds_exactly_what_brute_force_finds(case, seed, search_path):
    features, tolerance, step, categories, nan_share = CASES[case]
    spec = dataclasses.replace(binary_spec(*features), near_copy_tolerance=tolerance)
    drawn = tuple(FeatureSpec(f.name, f.dtype, -1.0 if f.minimum is None else f.minimum,
                              1.0 if f.maximum is None else f.maximum) for f in features if f.dtype != "category")
    rows, training = jittered_case(seed, drawn, 1200, 600, step, categories, nan_share)
    found = find_new_rows(rows, training, spec)
    expected = brute_force_removed(rows, training, spec, tolerance)
    assert 0 < expected.sum() < len(rows)  # the case has both kinds
    np.testing.assert_array_equal(~found.keep, expected)
    assert found.exact_copies + found.near_copies == expected.sum()


def assert_brute_force_answer(rows, training, spec, tolerance) -> None:
    """``find_new_rows`` removes exactly the rows the pair-by-pair reference removes, on a case with both kinds."""
    found = find_new_rows(rows, training, spec)
    expected = brute_force_removed(rows, training, spec, tolerance)
    assert 0 < expected.sum() < len(rows)
    np.testing.assert_array_equal(~found.keep, expected)


def test_the_tuned_search_of_many_rows_finds_exactly_what_brute_force_finds(search_path):
    """Past 60,000 rows the index tunes its key length on a sample: the answer must not change."""
    features = tuple(FeatureSpec(f"x{i}", "int", 0, 16) for i in range(10))
    spec = dataclasses.replace(binary_spec(*features), near_copy_tolerance=0.125)
    rows, training = jittered_case(3, features, 64_000, 800, 1)
    assert_brute_force_answer(rows, training, spec, 0.125)


def test_the_answer_does_not_depend_on_the_rows_order(search_path):
    features = tuple(FeatureSpec(f"x{i}", "int", 0, 16) for i in range(8))
    spec = dataclasses.replace(binary_spec(*features), near_copy_tolerance=0.125)
    rows, training = jittered_case(4, features, 3000, 1000, 1)
    order = np.random.default_rng(5).permutation(len(rows))
    found = find_new_rows(rows, training, spec).keep
    shuffled = find_new_rows(rows.iloc[order].reset_index(drop=True), training, spec).keep
    np.testing.assert_array_equal(found[order], shuffled)


def pixels_spec(count: int, tolerance: float = 0.125):
    return dataclasses.replace(binary_spec(*(FeatureSpec(f"x{i}", "int", 0, 16) for i in range(count))),
                               near_copy_tolerance=tolerance)


def test_single_rows_on_both_sides(search_path):
    spec = pixels_spec(3)
    training = pd.DataFrame({"x0": [5], "x1": [0], "x2": [16], "y": [1]})
    rows = pd.DataFrame({"x0": [7, 8, 7, 5], "x1": [2, 0, 0, 0], "x2": [14, 16, 16, 16], "y": [1, 1, 0, 1]})
    for i in range(len(rows)):  # each row alone: within 2 levels in every pixel, one too far, another label, a copy
        found = find_new_rows(rows.iloc[[i]], training, spec)
        assert (~found.keep).tolist() == [[True], [False], [False], [True]][i]
    np.testing.assert_array_equal(~find_new_rows(rows, training, spec).keep, [True, False, False, True])


def test_all_rows_alike(search_path):
    """Every training row the same image (no key bit splits them), copies and nudges of it."""
    spec = pixels_spec(8)
    image = [0, 3, 8, 16, 12, 5, 0, 9]
    training = pd.DataFrame([image] * 500, columns=[f"x{i}" for i in range(8)]).assign(y=1)
    rows = training.iloc[:300].copy()
    rows.iloc[100:200, 2] += 2  # within the bound: near-copies
    rows.iloc[200:, 5] -= 3  # one pixel 3 levels off: new
    found = find_new_rows(rows, training, spec)
    assert (found.exact_copies, found.near_copies, int(found.keep.sum())) == (100, 100, 100)
    np.testing.assert_array_equal(~found.keep, brute_force_removed(rows, training, spec, 0.125))


@pytest.mark.parametrize("seed", [0, 1])
def test_negative_values_exactly_at_the_bound(seed, search_path):
    """Floats of -8..8 on a grid of 0.25 against a bound of 1.0 (0.0625 of 16): differences of exactly
    the bound are near-copies, a grid step more are not, with the sign of either side arbitrary."""
    features = tuple(FeatureSpec(f"x{i}", "float", -8.0, 8.0) for i in range(5))
    spec = dataclasses.replace(binary_spec(*features), near_copy_tolerance=0.0625)
    rng = np.random.default_rng(seed)
    training = pd.DataFrame(np.round(rng.uniform(-8, 8, size=(400, 5)) * 4) / 4,
                            columns=[f.name for f in features]).assign(y=rng.integers(0, 2, 400))
    rows = training.sample(600, replace=True, random_state=seed).reset_index(drop=True)
    moves = rng.choice([-1.25, -1.0, 0.0, 1.0, 1.25], size=(600, 5), p=[0.05, 0.3, 0.3, 0.3, 0.05])
    rows[[f.name for f in features]] += moves
    assert_brute_force_answer(rows, training, spec, 0.0625)


def test_queries_with_many_wildcards_probe_a_shorter_prefix(search_path, monkeypatch):
    """A query with more wildcards than a probe allows searches a shorter key prefix: same answer."""
    from hokusai.chain import near_search

    monkeypatch.setattr(near_search, "_MOST_WILDCARDS", 0)
    features = tuple(FeatureSpec(f"x{i}", "int", 0, 16) for i in range(12))
    spec = dataclasses.replace(binary_spec(*features), near_copy_tolerance=0.125)
    rows, training = jittered_case(8, features, 4000, 3000, 1)
    assert_brute_force_answer(rows, training, spec, 0.125)


def test_nan_in_the_rows_and_the_training_set_never_matches(search_path):
    spec = dataclasses.replace(binary_spec(FeatureSpec("x0", "float", 0.0, 10.0), FeatureSpec("x1", "float", 0.0, 10.0)),
                               near_copy_tolerance=0.1)
    training = pd.DataFrame({"x0": [1.0, np.nan, 5.0], "x1": [np.nan, 2.0, 5.0], "y": [0, 0, 0]})
    rows = pd.DataFrame({"x0": [1.0, 1.5, 4.5, np.nan], "x1": [np.nan, 2.0, 5.5, 5.0], "y": [0, 0, 0, 0]})
    # row 0 is an exact copy of training row 0 (NaN included): removed as a copy, not as a near-copy
    found = find_new_rows(rows, training, spec)
    assert (~found.keep).tolist() == [True, False, True, False]
    assert (found.exact_copies, found.near_copies) == (1, 1)


@pytest.mark.parametrize("prefix", [0, 4, 10, 16])
def test_the_compiled_search_gives_the_same_answer_for_every_prefix(prefix, monkeypatch):
    """Buckets of any prefix, with their tables 8 and 16 bits longer (a query's known bits looked up
    in the deepest one): the answer is brute force's, boundary values, negative values and nudges included."""
    from hokusai.chain import near_search

    monkeypatch.setattr(near_search, "_KERNEL_MIN_QUERIES", 0)
    monkeypatch.setattr(near_search, "_prefix_length", lambda search, sample, longest, *rest: min(prefix, longest))
    features = tuple(FeatureSpec(f"x{i}", "int", -8, 8) for i in range(10))
    spec = dataclasses.replace(binary_spec(*features), near_copy_tolerance=0.125)
    rows, training = jittered_case(9, features, 3000, 2000, 1)
    assert_brute_force_answer(rows, training, spec, 0.125)


CHECK_IN_A_FRESH_PROCESS = (
    "import sys\n"
    "if sys.argv[2] == 'unbuilt': sys.modules['hokusai.chain._near_kernel'] = None  # as if never compiled\n"
    "import pandas as pd\n"
    "from hokusai.chain.new_rows import find_new_rows\n"
    "from hokusai.tokens.spec import load_token_spec\n"
    "from hokusai.settings import REPO_ROOT\n"
    "spec = load_token_spec(REPO_ROOT / 'tokens' / 'digits-demo.yaml')\n"
    "base = pd.read_csv(REPO_ROOT / 'tokens' / 'digits-demo' / 'base.csv')\n"
    "rows = pd.concat([base] * (int(sys.argv[1]) // len(base) + 1)).iloc[:int(sys.argv[1])]\n"
    "rows = rows.assign(pixel_0_0=(rows['pixel_0_0'] + 1) % 17)  # near-copies, not exact copies: searched\n"
    "try:\n"
    "    find_new_rows(rows, base, spec, tolerance=0.125)\n"
    "except RuntimeError as error:\n"
    "    print('error:', error)\n"
    "print('numba' in sys.modules, 'hokusai.chain.near_kernel' in sys.modules)\n"
)


def run_check(rows: int, build: str = "built") -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", CHECK_IN_A_FRESH_PROCESS, str(rows), build], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_a_small_check_never_loads_the_compiled_search_and_no_check_imports_numba():
    """Fewer rows than the compiled search takes: the numpy search alone; from that many on, the compiled
    library, built ahead of time (no JIT compiler imported either way). A fresh interpreter for each."""
    assert run_check(2000) == "False False"
    assert run_check(50_000) == "False True"


def test_a_missing_build_is_a_clear_error_not_a_silent_slow_path():
    lines = run_check(50_000, "unbuilt").splitlines()
    assert lines[0].startswith("error: the near-copy kernel is not built: run scripts/setup"), lines
    assert run_check(2000, "unbuilt") == "False False"  # small checks need no compiled code


@pytest.fixture(scope="module")
def kernel_call():
    """The arguments of one real compiled search (a small case) and the flags it found."""
    from hokusai.chain import near_kernel, near_search

    calls = []
    real = near_kernel.search

    def record(*arguments):
        calls.append(arguments)
        real(*arguments)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(near_search, "_KERNEL_MIN_QUERIES", 0)
        patch.setattr(near_kernel, "search", record)
        features = tuple(FeatureSpec(f"x{i}", "int", 0, 16) for i in range(8))
        rows, training = jittered_case(6, features, 2000, 1000, 1)
        find_new_rows(rows, training, dataclasses.replace(binary_spec(*features), near_copy_tolerance=0.125))
    arguments = list(calls[-1])
    assert arguments[-2].any() and not arguments[-2].all()
    return arguments


def test_the_kernel_repeats_its_answer_on_the_checked_arguments(kernel_call):
    from hokusai.chain import near_kernel

    found, work = np.zeros_like(kernel_call[-2]), np.zeros(3, np.int64)
    near_kernel.search(*kernel_call[:-2], found, work)
    np.testing.assert_array_equal(found, kernel_call[-2])
    assert work[0] > 0


@pytest.mark.parametrize("broken", ["query position", "training cells", "query floats", "found flags", "levels",
                                    "offsets", "slack"])
def test_the_kernel_refuses_malformed_arguments_instead_of_reading_past_a_buffer(broken, kernel_call):
    """Every length the C loop relies on is checked first (or by the loop, for values it indexes with)."""
    from hokusai.chain import near_kernel

    arguments = list(kernel_call[:-2]) + [np.zeros_like(kernel_call[-2]), np.zeros(3, np.int64)]
    m = len(arguments[-2])
    if broken == "query position":
        arguments[0] = np.array([0, m], np.int64)
    elif broken == "training cells":
        arguments[4] = arguments[4][:-1]
    elif broken == "query floats":
        arguments[12] = np.zeros((m, arguments[5].shape[1] + 1))
    elif broken == "found flags":
        arguments[-2] = np.zeros(m, np.int64)
    elif broken == "levels":
        arguments[19] = np.array([arguments[15] + 1] + list(arguments[19][1:]), np.int64)
    elif broken == "offsets":
        arguments[17] = arguments[17] + len(arguments[16])
    elif broken == "slack":
        arguments[13] = arguments[13][:-1]
    with pytest.raises(ValueError, match="near-copy kernel"):
        near_kernel.search(*arguments)


def test_the_histogram_and_key_bits_refuse_values_outside_their_buffers():
    from hokusai.chain import near_kernel

    cells = np.array([[0, 60, -60]], np.int8)
    assert near_kernel.cell_counts(cells, -60, 121)[0, [0, 60, 120]].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="cell outside"):
        near_kernel.cell_counts(np.array([[61]], np.int8), -60, 121)
    one = np.array([1], np.int64)
    key, wild = near_kernel.key_bits(cells, np.array([0], np.int64), one, one, True)
    assert (key >> np.uint64(63)).tolist() == [0, 1, 0] and (wild >> np.uint64(63)).tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="feature outside"):
        near_kernel.key_bits(cells, one, one, one, True)  # feature 1 of a single feature
