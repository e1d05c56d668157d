"""The models side of an evaluation, step by step, as plain functions.

A contribution is measured against the head of its token's lineage chain
(``hokusai.chain``): the candidate is trained on the head's training set plus the
contribution's new rows, so its DeltaOne is what it adds.

Each function is one asset of the Dagster graph (``hokusai_assets``) and can be
called without Dagster; the values passed between them are the dataclasses here.
The contribution side (reading, scrubbing, cleaning) is ``hokusai.intake.read``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hokusai.chain.ledger import GENESIS, Chain, ChainLink
from hokusai.chain.training_set import base_rows_root, training_set
from hokusai.core.client import RegistryClient
from hokusai.core.entities import ModelVersionRef
from hokusai.core.tags import CHAMPION_ALIAS, COMMITMENT_TAG
from hokusai.evaluation.metrics import benchmark_rows, bootstrap_primary_metric, evaluate_model
from hokusai.intake.read import CleanDataset, frame_sha256
from hokusai.evaluation.benchmark import benchmark_root
from hokusai.tokens.spec import TokenSpec
from hokusai.models.training import merge_training_data, train_model


@dataclass(frozen=True)
class BaselinePin:
    """The champion a contribution is measured against: the chain's head when it was evaluated.

    ``lineage`` is the chain from genesis to that head; its row roots rebuild the
    champion's training set (``hokusai.chain.training_set``).
    """

    model_name: str
    version: int | None  # None: the head's model is logged but not registered yet
    run_id: str | None
    weights_commitment: str
    lineage: tuple[ChainLink, ...] = ()
    trained_now: bool = False
    model_uri: str = ""

    @property
    def position(self) -> int:
        return self.lineage[-1].position if self.lineage else 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.model_name, "version": self.version, "weights_commitment": self.weights_commitment,
                "chain_position": self.position}

    def lineage_pins(self) -> list[dict[str, Any]]:
        """The training set's commitments, in order: the base rows, then each accepted contribution's."""
        return [{"position": link.position, "rows_root": link.rows_root, "rows": link.rows_count,
                 "partition_key": link.partition_key} for link in self.lineage]


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


def ensure_baseline(registry: RegistryClient, chain: Chain, spec: TokenSpec, base: pd.DataFrame,
                    experiment: str) -> BaselinePin:
    """The chain's head; on a token's first use, train its genesis baseline on the base data.

    Two first evaluations racing both train, but the chain takes one genesis; the
    other's version stays registered as an unused baseline.
    """
    head = chain.head(spec.token_id)
    trained_now = False
    if head is None:
        model = train_model(base, spec)
        logged = registry.log_model_run(
            model,
            experiment_name=experiment,
            run_name=f"{spec.token_id}-baseline",
            params=training_params(spec, len(base), "baseline"),
            run_tags={"hokusai_token_id": spec.token_id, "hokusai_role": "baseline"},
        )
        version = registry.register_version(
            logged, spec.model_name, {"hokusai_token_id": spec.token_id, "hokusai_role": "baseline",
                                      "training_data_sha256": frame_sha256(base),
                                      "training_rows_root": base_rows_root(base, spec)},
        )
        genesis = ChainLink(token_id=spec.token_id, position=0, state=GENESIS, commitment=logged.weights_commitment,
                            rows_root=base_rows_root(base, spec), rows_count=len(base), model_uri=logged.model_uri,
                            run_id=logged.run_id, model_version=version.version)
        head, trained_now = chain.start(genesis)
        if trained_now:
            registry.set_alias(spec.model_name, CHAMPION_ALIAS, version.version)
        else:
            registry.set_version_tags(spec.model_name, version.version, {"hokusai_role": "baseline-unused"})
    return pin_for(spec, chain.active_links(spec.token_id, up_to=head.position), trained_now)


def pin_for(spec: TokenSpec, lineage: list[ChainLink], trained_now: bool = False) -> BaselinePin:
    head = lineage[-1]
    return BaselinePin(spec.model_name, head.model_version, head.run_id, head.commitment, tuple(lineage),
                       trained_now, head.model_uri)


def pinned_baseline(chain: Chain, spec: TokenSpec, commitment: str) -> BaselinePin | None:
    """The head a partition was first evaluated against, if it is still in the chain (a re-run reproduces
    its claim); None if that head was rolled back since."""
    try:
        return pin_for(spec, chain.lineage_of(spec.token_id, commitment))
    except LookupError:
        return None


def champion_training_set(pin: BaselinePin, base: pd.DataFrame, spec: TokenSpec) -> pd.DataFrame:
    """The rows the pinned champion was trained on, rebuilt from the chain's commitments."""
    return training_set(list(pin.lineage), base, spec)


def train_candidate(registry: RegistryClient, spec: TokenSpec, champion_training: pd.DataFrame,
                    contribution: CleanDataset, experiment: str) -> CandidateModel:
    """Train on the champion's training set + the contribution's new rows; log the run and model."""
    training = merge_training_data(champion_training, contribution.frame, spec)
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
                          len(training), training_digest(training, spec), summary)


def training_digest(training: pd.DataFrame, spec: TokenSpec) -> str:
    """SHA-256 of the training rows in the order the model was fitted in (a property of the rows)."""
    from hokusai.models.training import canonical_order, features_and_labels

    features, labels = features_and_labels(training, spec)
    return frame_sha256(training.iloc[canonical_order(features, labels, spec)])


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


def load_champion(registry: RegistryClient, pin: BaselinePin) -> Any:
    """The pinned champion's model, loaded only after its files match the chain's commitment."""
    ref = ModelVersionRef(pin.model_name, pin.version or 0, pin.run_id, pin.model_uri,
                          {COMMITMENT_TAG: pin.weights_commitment})
    return registry.load_verified_model(ref)


def measure_on_benchmark(registry: RegistryClient, pin: BaselinePin, candidate: CandidateModel,
                         benchmark: pd.DataFrame, spec: TokenSpec, champion_training: pd.DataFrame,
                         new_rows: pd.DataFrame) -> BenchmarkResult:
    """Load the pinned champion (verified against its commitment) and score both models; then the
    seed-robust gain (``hokusai.evaluation.seeded``) that eligibility v2 decides on."""
    champion = load_champion(registry, pin)
    rows = benchmark_rows(benchmark, spec)
    baseline, new = evaluate_model(champion, rows, spec), evaluate_model(candidate.model, rows, spec)
    measured = {
        "baseline": baseline,
        "new": new,
        "bootstrap": bootstrap_primary_metric(baseline, new, spec),
        "seed_robust": seed_robust_gain(pin, champion_training, new_rows, rows, benchmark, spec,
                                        champion=champion, candidate=candidate.model),
        "benchmark_rows": len(benchmark),
        "sample_size": len(rows),
        "benchmark_sha256": frame_sha256(benchmark),
        "benchmark_rows_root": benchmark_root(benchmark, spec),
    }
    if spec.dspy is not None:  # the LM, its settings and both dev passes' token usage, attested
        from hokusai.dspy.token_model import evaluation_record

        measured["dspy"] = evaluation_record(champion, candidate.model)
    return BenchmarkResult(pin, candidate.as_dict(), candidate.contribution, measured)


def seed_robust_gain(pin: BaselinePin, champion_training: pd.DataFrame, new_rows: pd.DataFrame,
                     rows: pd.DataFrame, benchmark: pd.DataFrame, spec: TokenSpec, *, champion: Any = None,
                     candidate: Any = None) -> dict[str, Any]:
    """The candidate's gain over the champion and over a same-size placebo, paired over the spec's seeds.

    The champion's seeded scores depend only on its training set (its lineage), the spec and
    the benchmark, and a placebo's also on the contribution's size: both are kept per process,
    so a warm process fits only the candidate's seeds. ``champion`` / ``candidate``: the
    registered models, fitted with the spec's seed (the first), so that seed is not refitted;
    a DSPy program is compiled again (its language model's answers are not a pure function).
    """
    from hokusai.evaluation.seeded import eligibility_seeds, placebo_scores, seeded_benchmark_scores, \
        seeded_significance

    seeds = eligibility_seeds(spec)
    key = (spec.token_id, spec.spec_sha256, tuple(link.rows_root for link in pin.lineage), seeds,
           frame_sha256(benchmark))
    if key not in _CHAMPION_SCORES:
        if len(_CHAMPION_SCORES) >= 4:
            _CHAMPION_SCORES.pop(next(iter(_CHAMPION_SCORES)))
        _CHAMPION_SCORES[key] = seeded_benchmark_scores(champion_training, rows, spec, seeds,
                                                        _registered(champion, spec))
    placebo_key = (*key, len(new_rows))
    if placebo_key not in _PLACEBO_SCORES:
        if len(_PLACEBO_SCORES) >= 16:
            _PLACEBO_SCORES.pop(next(iter(_PLACEBO_SCORES)))
        _PLACEBO_SCORES[placebo_key] = placebo_scores(champion_training, len(new_rows), rows, spec, seeds)
    candidate_training = merge_training_data(champion_training, new_rows, spec)
    gain = seeded_significance(champion_training, candidate_training, rows, spec, seeds,
                               contribution_rows=len(new_rows), baseline=_CHAMPION_SCORES[key],
                               placebo=_PLACEBO_SCORES[placebo_key],
                               fitted_candidate=_registered(candidate, spec))
    return gain.as_dict()


def _registered(model: Any, spec: TokenSpec) -> dict[int, Any] | None:
    """The registered model as the spec's seed's fit: ``train_model``'s default seed, unless the spec's
    estimator params fix another ``random_state``."""
    same_seed = spec.estimator_params.get("random_state", spec.seed) == spec.seed
    return {spec.seed: model} if model is not None and spec.dspy is None and same_seed else None


_CHAMPION_SCORES: dict[tuple, Any] = {}
_PLACEBO_SCORES: dict[tuple, Any] = {}
