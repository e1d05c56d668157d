"""Is a gain real once training randomness is counted? Seeded fits, paired per seed.

One fit per model measures one draw of the estimator's randomness: a contribution
with no new information (the champion's rows, jittered or resampled) moves that draw
and can score +140 bps with a bootstrap interval above zero. Here both models are
fitted with each of K seeds (the same seed for both: paired), scored on the same
benchmark rows, and the gain is the mean over seeds of the per-seed gains.

Statistic (``paired_seeds_bootstrap_v1``): delta = mean_k [metric(candidate_k) -
metric(baseline_k)], in bps. Interval: a two-level percentile bootstrap, 95%; each
resample draws benchmark rows (once, for both models and every seed) and seeds
(K with replacement, each pair kept together), so the interval covers benchmark
sampling and training randomness. p-value: one-sided, H0 "no gain",
(1 + #{delta* <= 0}) / (B + 1). The row resampling and the metrics under row weights
are ``hokusai.evaluation.significance``'s.

Placebo: adding rows without information is not free either. Copies of the
champion's own rows raise a bagged model's seed-averaged score (each tree's bootstrap
then sees more distinct rows): +48 bps for 50 copied rows, +106 for 350, +157 for
450 on the demo token (docs/eligibility.md). So the candidate is also compared, the
same way, with a placebo: the champion's training set plus as many rows as the
contribution, copied from the champion's own rows as evenly as possible.

Seeds: ``spec.seed + i`` for i in 0..K-1 (mod 2**32), K = ``spec.eligibility_seeds``;
the first is the spec's seed, the one the registered models are trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hokusai.evaluation.significance import DEFAULT_RESAMPLES, resample_counts, weighted_metric
from hokusai.tokens.spec import TokenSpec

METHOD = "paired_seeds_bootstrap_v1"
SEED_DERIVATION = "spec.seed + i (mod 2**32), i = 0..eligibility_seeds-1"
PLACEBO = "champion_row_copies_v1"
# Below this many training rows over a call's fits, they stay in this process: the demo token's 30
# fits of 150-500 rows cost ~3.5 CPU-s, about what starting two spawned workers costs (imports), and
# an evaluation runs in a fresh process (a run worker, a CLI call), so a pool would cost more CPU than
# it saves (measured: bench/RESULTS.md, "Eligibility's seeded fits: cost").
FIT_POOL_MIN_ROWS = 200_000


def eligibility_seeds(spec: TokenSpec, count: int | None = None) -> tuple[int, ...]:
    """The seeds both models are fitted with: the spec's seed first, then the next ``count - 1``."""
    count = spec.eligibility_seeds if count is None else count
    if count < 1:
        raise ValueError(f"at least one seed is needed, got {count}")
    return tuple((spec.seed + i) % 2**32 for i in range(count))


@dataclass(frozen=True)
class SeededScores:
    """One training set's models, one per seed, scored on the benchmark rows.

    A function of (training rows, spec, seeds, benchmark rows) only, so the champion's
    can be computed once and reused for every contribution measured against it.
    """

    seeds: tuple[int, ...]
    truth: np.ndarray  # (rows,)
    predicted: np.ndarray  # (seeds, rows)
    probabilities: np.ndarray  # (seeds, rows, labels)
    primary: tuple[float, ...]  # the primary metric of each seed's model

    def for_seeds(self, seeds: tuple[int, ...]) -> "SeededScores":
        """The scores of ``seeds`` (a subset of these), in that order."""
        missing = [seed for seed in seeds if seed not in self.seeds]
        if missing:
            raise ValueError(f"no scores for seeds {missing}")
        index = [self.seeds.index(seed) for seed in seeds]
        return SeededScores(tuple(seeds), self.truth, self.predicted[index], self.probabilities[index],
                            tuple(self.primary[i] for i in index))


def seeded_benchmark_scores(training: pd.DataFrame | list[pd.DataFrame], rows: pd.DataFrame, spec: TokenSpec,
                            seeds: tuple[int, ...], fitted: dict[int, Any] | None = None) -> SeededScores:
    """Fit the spec's estimator once per seed and score each fit on ``rows``.

    ``training`` is one frame for every seed, or one frame per seed (the placebo's
    copied rows are drawn with the seed they are fitted with). ``fitted``: models already
    fitted on that training set with those seeds (the registered champion and candidate
    are the spec's seed's fit: refitting them gives the same model, at a fit's cost).
    The other fits run in the worker pool (``hokusai.workers``) when they hold at least
    ``FIT_POOL_MIN_ROWS`` rows in all and a pool is allowed: each is independent and
    deterministic, so where it runs changes no number. Only the
    primary metric is computed per fit (``evaluate_model``'s five cost as much as a small fit).
    """
    from hokusai.evaluation.metrics import class_probabilities
    from hokusai.models.training import features_and_labels
    from hokusai.workers import Task, pool_for

    frames = training if isinstance(training, list) else [training] * len(seeds)
    if len(frames) != len(seeds):
        raise ValueError(f"{len(frames)} training frames for {len(seeds)} seeds")
    fitted = fitted or {}
    features, truth = features_and_labels(rows, spec)
    labels, binary = list(spec.label_values), spec.task == "binary_classification"
    fit_rows = sum(len(frame) for frame, seed in zip(frames, seeds) if seed not in fitted)
    # DSPy programs call a language model: they are compiled here, one at a time
    pool = pool_for(fit_rows, min_rows=FIT_POOL_MIN_ROWS) if spec.dspy is None else None
    tasks = {seed: Task(pool, fit_and_score, frame, spec, seed, features, labels)
             for frame, seed in zip(frames, seeds) if seed not in fitted}
    scored = {seed: (model.predict(features), class_probabilities(model, features, labels))
              for seed, model in fitted.items() if seed in seeds}
    scored |= {seed: task.result() for seed, task in tasks.items()}
    predicted = np.stack([scored[seed][0] for seed in seeds])
    probabilities = np.stack([scored[seed][1] for seed in seeds])
    primary = tuple(float(weighted_metric(spec.primary_metric, np.ones((1, len(truth))), truth, predicted[s],
                                          probabilities[s], labels, spec.positive_label, binary)[0])
                    for s in range(len(seeds)))
    return SeededScores(tuple(seeds), truth, predicted, probabilities, primary)


def fit_and_score(frame: pd.DataFrame, spec: TokenSpec, seed: int, features: np.ndarray,
                  labels: list) -> tuple[np.ndarray, np.ndarray]:
    """One seed's fit and its predictions on the benchmark features (a worker's task)."""
    from hokusai.evaluation.metrics import class_probabilities
    from hokusai.models.training import train_model

    model = train_model(frame, spec, seed=seed)
    return model.predict(features), class_probabilities(model, features, labels)


def placebo_rows(champion_training: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """``size`` rows copied from the champion's training set, each row ``size // n`` or one more times.

    Even copies gain more than resamples with replacement (which leave a third of the
    rows out) and about as much as jittered copies (docs/eligibility.md).
    """
    rng = np.random.default_rng(seed)
    n = len(champion_training)
    index = np.concatenate([rng.permutation(n) for _ in range(size // n + 1)])[:size]
    return champion_training.iloc[index].reset_index(drop=True)


def placebo_scores(champion_training: pd.DataFrame, size: int, rows: pd.DataFrame, spec: TokenSpec,
                   seeds: tuple[int, ...]) -> SeededScores:
    """The placebo's models per seed: champion rows plus ``size`` copies drawn with that seed."""
    frames = [pd.concat([champion_training, placebo_rows(champion_training, size, seed)], ignore_index=True)
              for seed in seeds]
    return seeded_benchmark_scores(frames, rows, spec, seeds)


@dataclass(frozen=True)
class SeededBootstrapResult:
    """The seed-robust gain of one model pair and what an eligibility verdict needs from it."""

    method: str
    metric: str
    seeds: tuple[int, ...]
    seed_derivation: str
    resamples: int
    seed: int  # of the bootstrap's random generator
    sample_size: int
    baseline_scores: tuple[float, ...]  # primary metric per seed
    candidate_scores: tuple[float, ...]
    seed_deltas_bps: tuple[float, ...]  # candidate - baseline per seed
    delta_bps: float  # mean of seed_deltas_bps
    ci_low_bps: float
    ci_high_bps: float
    p_value: float
    registered_delta_bps: float  # the first seed's (the spec's) gain: the registered models'
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seeds": list(self.seeds), "baseline_scores": list(self.baseline_scores),
                "candidate_scores": list(self.candidate_scores), "seed_deltas_bps": list(self.seed_deltas_bps)}


def paired_seeds_bootstrap(metric: str, baseline: SeededScores, candidate: SeededScores, labels: list,
                           positive_label, binary: bool, *, resamples: int = DEFAULT_RESAMPLES,
                           seed: int = 0) -> SeededBootstrapResult:
    """The two-level (rows x seeds) paired bootstrap of the seed-mean gain, in bps."""
    if baseline.seeds != candidate.seeds:
        raise ValueError(f"models must be paired per seed: {baseline.seeds} vs {candidate.seeds}")
    if not np.array_equal(baseline.truth, candidate.truth):
        raise ValueError("both models must be scored on the same benchmark rows")
    truth, k, n = np.asarray(baseline.truth), len(baseline.seeds), len(baseline.truth)
    rng = np.random.default_rng(seed)

    def seed_deltas(weights: np.ndarray) -> np.ndarray:
        """(resamples, seeds): each seed's gain under each row resample, in bps."""
        columns = []
        for s in range(k):
            before = weighted_metric(metric, weights, truth, baseline.predicted[s], baseline.probabilities[s],
                                     labels, positive_label, binary)
            after = weighted_metric(metric, weights, truth, candidate.predicted[s], candidate.probabilities[s],
                                    labels, positive_label, binary)
            columns.append((after - before) * 10000)
        return np.column_stack(columns)

    observed = seed_deltas(np.ones((1, n)))[0]
    row_resampled = np.concatenate([seed_deltas(counts) for counts in resample_counts(n, resamples, rng)])
    # seeds drawn with replacement, as counts per resample: a pair's two models always travel together
    seed_counts = np.concatenate(list(resample_counts(k, resamples, rng)))
    deltas = (row_resampled * seed_counts).sum(axis=1) / k
    low, high = np.percentile(deltas, [2.5, 97.5])
    p_value = (1 + int((deltas <= 0).sum())) / (resamples + 1)
    return SeededBootstrapResult(
        METHOD, metric, tuple(baseline.seeds), SEED_DERIVATION, resamples, seed, n,
        tuple(round(float(v), 6) for v in baseline.primary), tuple(round(float(v), 6) for v in candidate.primary),
        tuple(round(float(v), 4) for v in observed), round(float(observed.mean()), 4),
        round(float(low), 4), round(float(high), 4), round(p_value, 6), round(float(observed[0]), 4),
    )


@dataclass(frozen=True)
class SeedRobustGain:
    """The candidate against the champion and against a same-size placebo, both seed-robust."""

    champion: SeededBootstrapResult
    placebo: SeededBootstrapResult | None
    placebo_rows: int
    placebo_method: str = PLACEBO
    # the candidate's per-seed predictions; its first seed's model is the one the registry holds
    candidate: SeededScores | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"champion": self.champion.as_dict(), "placebo": self.placebo and self.placebo.as_dict(),
                "placebo_rows": self.placebo_rows, "placebo_method": self.placebo_method}


def seeded_significance(champion_training: pd.DataFrame, candidate_training: pd.DataFrame,
                        rows: pd.DataFrame, spec: TokenSpec, seeds: tuple[int, ...] | None = None, *,
                        contribution_rows: int | None = None, baseline: SeededScores | None = None,
                        placebo: SeededScores | None = None, with_placebo: bool = True,
                        fitted_candidate: dict[int, Any] | None = None) -> SeedRobustGain:
    """Fit champion, candidate and placebo with every seed (paired), score them on ``rows``, bootstrap.

    ``rows``: the benchmark rows both are scored on (``benchmark_rows``). ``seeds``:
    ``eligibility_seeds(spec)`` by default. ``contribution_rows``: the placebo's size
    (by default the candidate's extra rows). ``baseline`` / ``placebo``: the champion's
    ``seeded_benchmark_scores`` / ``placebo_scores`` on the same rows, if already
    computed for this champion (they do not depend on the contribution's content).
    ``fitted_candidate``: the candidate's models already fitted, by seed (its registered one).
    """
    seeds = eligibility_seeds(spec) if seeds is None else tuple(seeds)
    size = len(candidate_training) - len(champion_training) if contribution_rows is None else contribution_rows
    baseline = (seeded_benchmark_scores(champion_training, rows, spec, seeds) if baseline is None
                else baseline.for_seeds(seeds))
    candidate = seeded_benchmark_scores(candidate_training, rows, spec, seeds, fitted_candidate)
    compare = dict(metric=spec.primary_metric, labels=list(spec.label_values), positive_label=spec.positive_label,
                   binary=spec.task == "binary_classification", resamples=spec.bootstrap_resamples, seed=spec.seed)
    against_champion = paired_seeds_bootstrap(baseline=baseline, candidate=candidate, **compare)
    against_placebo = None
    if with_placebo and size > 0:
        placebo = (placebo_scores(champion_training, size, rows, spec, seeds) if placebo is None
                   else placebo.for_seeds(seeds))
        against_placebo = paired_seeds_bootstrap(baseline=placebo, candidate=candidate, **compare)
    return SeedRobustGain(against_champion, against_placebo, max(size, 0), candidate=candidate)
