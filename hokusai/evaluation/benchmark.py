"""A token's benchmark, loaded and held to its published commitment.

The benchmark decides every reward, and a published benchmark can be copied: rows made from
it score as if the model had learnt something (docs/reward-path.md, section 2). A token can
keep its benchmark private and publish only its row root (``benchmark.rows_root`` in the
spec): the platform then refuses a benchmark file that does not match it, and every
attestation's ``benchmark_rows_root`` can be checked against the published value.
"""

from __future__ import annotations

import pandas as pd

from hokusai.commitments.rows import frame_root
from hokusai.intake.read import frame_sha256
from hokusai.tokens.spec import TokenSpec, read_token_table


class BenchmarkMismatch(ValueError):
    """The benchmark file is not the one the token's spec commits to."""


def benchmark_root(benchmark: pd.DataFrame, spec: TokenSpec) -> str:
    """The data commitment of the token's whole benchmark, cached per content hash."""
    key = (spec.benchmark_spec_id, frame_sha256(benchmark))
    if key not in _ROOTS:
        _ROOTS[key] = frame_root(benchmark[spec.content_columns])
    return _ROOTS[key]


_ROOTS: dict[tuple[str, str], str] = {}


def check_benchmark(benchmark: pd.DataFrame, spec: TokenSpec) -> None:
    """Raise ``BenchmarkMismatch`` when the spec commits to a benchmark and this is not it."""
    if spec.benchmark_rows_root is None:
        return
    found = benchmark_root(benchmark, spec)
    if found != spec.benchmark_rows_root:
        raise BenchmarkMismatch(
            f"the benchmark of token {spec.token_id} does not match its published commitment "
            f"(benchmark.rows_root {spec.benchmark_rows_root}): {spec.benchmark_path} has row root {found}; "
            f"nothing is evaluated against a benchmark the token did not publish")


def load_benchmark(spec: TokenSpec) -> pd.DataFrame:
    """The token's benchmark table, checked against its commitment."""
    benchmark = read_token_table(spec.benchmark_path)
    check_benchmark(benchmark, spec)
    return benchmark
