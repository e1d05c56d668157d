"""A token's benchmark is held to its published commitment (``benchmark.rows_root``).

A published benchmark can be copied (docs/reward-path.md, section 2), so a token may keep it
private and publish only its row root; the platform must then refuse any other file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from hokusai.evaluation.benchmark import BenchmarkMismatch, benchmark_root, load_benchmark
from hokusai.harness.topology import token_copies
from hokusai.tokens.spec import TokenSpecError, load_token_spec, load_token_specs
from resources.token_specs import TokenSpecsResource

REPO = Path(__file__).resolve().parents[2]
# the demo benchmark's row root, as every demo attestation records it (data.benchmark_rows_root)
DEMO_BENCHMARK_ROOT = "0xbc339a550b2a8a1776fa1921295748db73480a93f56eeb3a55b0dba7a02d601a"


def pinned_tokens(tmp_path: Path, rows_root: str) -> Path:
    return token_copies(tmp_path, ["digits-pinned"], overrides={"digits-pinned": {"benchmark": {
        "path": "digits-demo/benchmark.csv", "spec_id": "digits-demo-benchmark-v1", "min_samples": 500,
        "rows_root": rows_root}}})


def test_the_demo_benchmarks_root_is_the_attested_one():
    spec = load_token_specs(REPO / "tokens")["digits-demo"]
    assert spec.benchmark_rows_root is None  # the demo's benchmark is public: nothing to pin
    assert benchmark_root(load_benchmark(spec), spec) == DEMO_BENCHMARK_ROOT


def test_a_benchmark_that_matches_its_commitment_loads(tmp_path):
    spec = load_token_spec(pinned_tokens(tmp_path, DEMO_BENCHMARK_ROOT) / "digits-pinned.yaml")
    assert spec.benchmark_rows_root == DEMO_BENCHMARK_ROOT
    assert len(load_benchmark(spec)) == 1000


@pytest.mark.parametrize("edit", ["one row removed", "one value changed", "rows reordered"])
def test_a_benchmark_file_other_than_the_committed_one_is_refused(tmp_path, edit):
    tokens = pinned_tokens(tmp_path, DEMO_BENCHMARK_ROOT)
    path = tokens / "digits-demo" / "benchmark.csv"
    frame = pd.read_csv(path)
    frame = {"one row removed": frame.iloc[1:], "one value changed": frame.assign(pixel_3_3=frame.pixel_3_3.where(
        frame.index != 5, 16 - frame.pixel_3_3)), "rows reordered": frame.iloc[::-1]}[edit]
    frame.to_csv(path, index=False)
    spec = load_token_spec(tokens / "digits-pinned.yaml")  # the root commits to the rows in their order too
    with pytest.raises(BenchmarkMismatch, match=r"its published commitment \(benchmark.rows_root 0xbc339a55"):
        load_benchmark(spec)
    with pytest.raises(BenchmarkMismatch, match="did not publish"):  # the pipeline's resource refuses it too
        TokenSpecsResource(tokens_dir=str(tokens)).benchmark(spec)


def test_a_malformed_commitment_is_a_spec_problem(tmp_path):
    tokens = pinned_tokens(tmp_path, "0xBC339A55")
    with pytest.raises(TokenSpecError, match="benchmark.rows_root: expected 0x and 64 lower-case hex digits"):
        load_token_spec(tokens / "digits-pinned.yaml")
    raw = yaml.safe_load((tokens / "digits-pinned.yaml").read_text())
    assert raw["benchmark"]["rows_root"] == "0xBC339A55"
