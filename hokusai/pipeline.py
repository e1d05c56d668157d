"""The evaluation of one contribution, step by step, as plain functions.

Each function is one asset of the Dagster graph (``hokusai_assets``) and can be
called without Dagster; the values passed between them are the dataclasses here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hokusai.cleaning import clean_contribution
from hokusai.contribution_store import ContributionStore, resolve_partition
from hokusai.core.registry import CHAMPION_ALIAS, ModelRegistry
from hokusai.drops import parse_drop_key
from hokusai.evaluation import benchmark_rows, evaluate_model
from hokusai.loading import load_contribution
from hokusai.token_spec import TokenSpec
from hokusai.training import merge_training_data, train_model
from hokusai.validation import SchemaReport, validate_contribution


@dataclass
class ContributedDataset:
    partition_key: str
    token_id: str
    wallet_address: str
    filename: str
    frame: pd.DataFrame
    manifest: dict[str, Any]


@dataclass
class CleanDataset:
    partition_key: str
    token_id: str
    wallet_address: str
    frame: pd.DataFrame
    stats: dict[str, Any]
    rows_sha256: str
    raw_sha256: str


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


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame's rows and column names (order-sensitive)."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_contribution(store: ContributionStore, partition_key: str) -> ContributedDataset:
    """Resolve a partition to its dropped object and parse it (raises with a reason if unusable)."""
    stored = resolve_partition(store, partition_key)
    drop = parse_drop_key(stored.key)
    loaded = load_contribution(store.read_bytes(stored.key), drop.filename, store.uri(stored.key), stored.etag)
    return ContributedDataset(
        partition_key=partition_key,
        token_id=drop.token_id,
        wallet_address=drop.wallet_address,
        filename=drop.filename,
        frame=loaded.frame,
        manifest=loaded.manifest,
    )


def check_schema(contributed: ContributedDataset, spec: TokenSpec) -> SchemaReport:
    return validate_contribution(contributed.frame, spec)


class ContributionRejected(ValueError):
    """The contribution cannot be used; the message is for the contributor."""


def clean(contributed: ContributedDataset, spec: TokenSpec, benchmark: pd.DataFrame) -> CleanDataset:
    """Validate, coerce and de-duplicate; reject if nothing usable is left."""
    report = check_schema(contributed, spec)
    if not report.passed:
        raise ContributionRejected(report.summary())
    result = clean_contribution(report.frame, spec, benchmark)
    if result.frame.empty:
        raise ContributionRejected("no rows left after removing duplicates and benchmark copies")
    return CleanDataset(
        partition_key=contributed.partition_key,
        token_id=contributed.token_id,
        wallet_address=contributed.wallet_address,
        frame=result.frame,
        stats={**result.stats, "dropped_columns": report.dropped_columns},
        rows_sha256=frame_sha256(result.frame),
        raw_sha256=contributed.manifest["sha256"],
    )


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
    )
    return CandidateModel(model, logged.run_id, logged.model_uri, logged.weights_commitment,
                          len(training), frame_sha256(training), summary)


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
    measured = {
        "baseline": evaluate_model(champion, rows, spec),
        "new": evaluate_model(candidate.model, rows, spec),
        "benchmark_rows": len(benchmark),
        "sample_size": len(rows),
        "benchmark_sha256": frame_sha256(benchmark),
    }
    return BenchmarkResult(pin, candidate.as_dict(), candidate.contribution, measured)
