"""Token specs and their fixed data (base training set, benchmark), loaded once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from hokusai.evaluation.benchmark import check_benchmark
from hokusai.tokens.spec import TokenSpec, load_token_spec, read_token_table, token_spec_path


class TokenSpecsResource(ConfigurableResource):
    """The folder of ``<token_id>.yaml`` specs."""

    tokens_dir: str

    def get_spec(self, token_id: str) -> TokenSpec:
        path = token_spec_path(Path(self.tokens_dir), token_id)
        return _load_spec(path, path.stat().st_mtime_ns)

    def base_data(self, spec: TokenSpec) -> pd.DataFrame:
        return _read_table(spec.base_data_path, spec.base_data_path.stat().st_mtime_ns)

    def benchmark(self, spec: TokenSpec) -> pd.DataFrame:
        """The token's benchmark; refused when it does not match the spec's ``benchmark.rows_root``."""
        benchmark = _read_table(spec.benchmark_path, spec.benchmark_path.stat().st_mtime_ns)
        check_benchmark(benchmark, spec)
        return benchmark


@lru_cache(maxsize=64)
def _load_spec(path: Path, _mtime_ns: int) -> TokenSpec:
    return load_token_spec(path)


@lru_cache(maxsize=16)
def _read_table(path: Path, _mtime_ns: int) -> pd.DataFrame:
    """A token's fixed table; cached by path and mtime (callers must not mutate it)."""
    return read_token_table(path)
