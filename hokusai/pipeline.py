"""The models side of an evaluation, step by step, as plain functions.

Each function is one asset of the Dagster graph (``hokusai_assets``) and can be
called without Dagster; the values passed between them are the dataclasses here.
The contribution side (reading, scrubbing, cleaning) is ``hokusai.intake``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hokusai.core.registry import CHAMPION_ALIAS, ModelRegistry
from hokusai.evaluation import benchmark_rows, bootstrap_primary_metric, evaluate_model
from hokusai.data_commitments import frame_root
from hokusai.intake import CleanDataset, committed_rows, frame_sha256
from hokusai.token_spec import TokenSpec
from hokusai.training import merge_training_data, train_model


@dataclass(frozen=True)
class BaselinePin:
    """The champion a contribution is measured against, pinned at evaluation time."""

    model_name: str
    version: int
    run_id: str | None
    weights_commitment: str
    trained_now: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.model_name, "version": self.version, "weights_commitment": self.weights_commitment}


@dataclass(frozen=True)
class ContributionSummary:
    """What the claim needs to know about a cleaned contribution (no rows)."""

    partition_key: str
    token_id: str
    wallet_address: str
    raw_sha256: str
    rows_sha256: str
    rows: int
    stats: dict[str, Any]
    rows_root: str = ""


@dataclass
class CandidateModel:
    model: Any = field(repr=False)
    run_id: str
    model_uri: str
    weights_commitment: str
    training_rows: int
    training_sha256: str
    contribution: ContributionSummary

    def as_dict(self) -> dict[str, Any]:
        """The hashed view of the candidate: no run id or model URI (they differ per run)."""
        return {"weights_commitment": self.weights_commitment, "training_rows": self.training_rows,
                "training_sha256": self.training_sha256}


@dataclass
class BenchmarkResult:
    """Both models measured on the same benchmark rows, with what was measured."""

    baseline: BaselinePin
    candidate: dict[str, Any]
    contribution: ContributionSummary
    measured: dict[str, Any]


def ensure_baseline(registry: ModelRegistry, spec: TokenSpec, base: pd.DataFrame, experiment: str) -> BaselinePin:
    """The token's current champion; on first use, train one on the base data and crown it."""
    champion = registry.get_alias(spec.model_name, CHAMPION_ALIAS)
    trained_now = False
    if champion is None:
        model = train_model(base, spec)
        logged = registry.log_model_run(
            model,
            experiment_name=experiment,
            run_name=f"{spec.token_id}-baseline",
            params=training_params(spec, len(base), "baseline"),
            run_tags={"hokusai_token_id": spec.token_id, "hokusai_role": "baseline"},
        )
        champion = registry.register_version(
            logged, spec.model_name, {"hokusai_token_id": spec.token_id, "hokusai_role": "baseline",
                                      "training_data_sha256": frame_sha256(base)},
        )
        registry.set_alias(spec.model_name, CHAMPION_ALIAS, champion.version)
        trained_now = True
    return BaselinePin(spec.model_name, champion.version, champion.run_id, champion.weights_commitment, trained_now)


def pinned_baseline(registry: ModelRegistry, spec: TokenSpec, version: int) -> BaselinePin:
    """The baseline a partition was first evaluated against, so a re-run reproduces its claim."""
    ref = registry.get_version(spec.model_name, version)
    return BaselinePin(spec.model_name, ref.version, ref.run_id, ref.weights_commitment)


def train_candidate(registry: ModelRegistry, spec: TokenSpec, base: pd.DataFrame, contribution: CleanDataset,
                    experiment: str) -> CandidateModel:
    """Train on base + contribution and log the run and model to MLflow."""
    training = merge_training_data(base, contribution.frame, spec)
    model = train_model(training, spec)
    params = training_params(spec, len(training), "candidate") | {
        "contribution_rows": len(contribution.frame),
        "contribution_sha256": contribution.raw_sha256,
        "partition_key": contribution.partition_key,
        "wallet_address": contribution.wallet_address,
    }
    logged = registry.log_model_run(
        model,
        experiment_name=experiment,
        run_name=contribution.partition_key,
        params=params,
        run_tags={"hokusai_token_id": spec.token_id, "hokusai_role": "candidate",
                  "hokusai_partition": contribution.partition_key},
    )
    summary = ContributionSummary(
        partition_key=contribution.partition_key, token_id=contribution.token_id,
        wallet_address=contribution.wallet_address, raw_sha256=contribution.raw_sha256,
        rows_sha256=contribution.rows_sha256, rows=len(contribution.frame), stats=contribution.stats,
        rows_root=contribution.rows_root,
    )
    return CandidateModel(model, logged.run_id, logged.model_uri, logged.weights_commitment,
                          len(training), frame_sha256(training), summary)


def benchmark_root(benchmark: pd.DataFrame, spec: TokenSpec) -> str:
    """The data commitment of the token's whole benchmark, cached per content hash."""
    key = (spec.benchmark_spec_id, frame_sha256(benchmark))
    if key not in _BENCHMARK_ROOTS:
        _BENCHMARK_ROOTS[key] = frame_root(committed_rows(benchmark, spec))
    return _BENCHMARK_ROOTS[key]


_BENCHMARK_ROOTS: dict[tuple[str, str], str] = {}


def training_params(spec: TokenSpec, rows: int, role: str) -> dict[str, Any]:
    return {
        "role": role,
        "estimator": spec.estimator_class,
        **{f"estimator.{k}": v for k, v in sorted(spec.estimator_params.items())},
        "seed": spec.seed,
        "merge_strategy": spec.merge_strategy,
        "training_rows": rows,
        "token_spec_sha256": spec.spec_sha256,
    }


def measure_on_benchmark(registry: ModelRegistry, pin: BaselinePin, candidate: CandidateModel,
                         benchmark: pd.DataFrame, spec: TokenSpec) -> BenchmarkResult:
    """Load the pinned champion (verified against its commitment) and score both models."""
    champion = registry.load_verified_model(registry.get_version(pin.model_name, pin.version))
    rows = benchmark_rows(benchmark, spec)
    baseline, new = evaluate_model(champion, rows, spec), evaluate_model(candidate.model, rows, spec)
    measured = {
        "baseline": baseline,
        "new": new,
        "bootstrap": bootstrap_primary_metric(baseline, new, spec),
        "benchmark_rows": len(benchmark),
        "sample_size": len(rows),
        "benchmark_sha256": frame_sha256(benchmark),
        "benchmark_rows_root": benchmark_root(benchmark, spec),
    }
    return BenchmarkResult(pin, candidate.as_dict(), candidate.contribution, measured)
