"""Seed-robust eligibility: paired seeded fits, the two-level bootstrap, the placebo, the v2 verdict.

Synthetic scores test the statistic; the demo token tests the rule end to end (the
improving sample is paid, a 50-row slice and the label-noise sample are not).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.rules.delta_one import (REASON_ACCEPTED, REASON_BELOW_THRESHOLD, REASON_NOT_ABOVE_PLACEBO,
                               REASON_NOT_SIGNIFICANT, SEED_ROBUST_ELIGIBILITY_RULE, compute_delta_one, score_bps,
                               seed_robust_verdict)
from hokusai.evaluation.metrics import benchmark_rows, evaluate_model
from hokusai.evaluation.seeded import (METHOD, SeededScores, eligibility_seeds, paired_seeds_bootstrap,
                                         placebo_rows, placebo_scores, seeded_benchmark_scores, seeded_significance)
from hokusai.tokens.spec import load_token_spec, read_token_table
from hokusai.models.training import merge_training_data, train_model
from hokusai.harness.no_information import SAMPLES, improving_slice

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")


def synthetic_scores(correct: np.ndarray) -> SeededScores:
    """Scores of a binary task from a (seeds, rows) matrix of right/wrong answers (truth all 0)."""
    k, n = correct.shape
    return SeededScores(tuple(range(k)), np.zeros(n, dtype=int), np.where(correct, 0, 1), np.zeros((k, n, 2)),
                        tuple(correct.mean(axis=1)))


def accuracy_gain(baseline: np.ndarray, candidate: np.ndarray, **options):
    return paired_seeds_bootstrap("accuracy", synthetic_scores(baseline), synthetic_scores(candidate), [0, 1], None,
                                  False, **options)


def seed_shared_models(rng, k=10, n=1000, gain=0.02):
    """Per seed, a baseline and a candidate that share the seed's luck; the candidate is 2 points better."""
    luck = rng.normal(0, 0.05, size=(k, 1))  # one seed makes both models better or worse together
    skill = rng.random((k, n))
    baseline = skill < 0.80 + luck
    candidate = skill < 0.80 + gain + luck
    return baseline, candidate


# --- the statistic ---------------------------------------------------------------------

def test_reports_method_seeds_per_seed_scores_and_the_seed_mean():
    baseline, candidate = seed_shared_models(np.random.default_rng(1))
    result = accuracy_gain(baseline, candidate, seed=5)
    assert result.method == METHOD == "paired_seeds_bootstrap_v1"
    assert result.seeds == tuple(range(10)) and result.seed == 5 and result.resamples == 1000
    assert result.baseline_scores == pytest.approx(baseline.mean(axis=1))
    assert result.candidate_scores == pytest.approx(candidate.mean(axis=1))
    per_seed = (candidate.mean(axis=1) - baseline.mean(axis=1)) * 10000
    assert result.seed_deltas_bps == pytest.approx(per_seed)
    assert result.delta_bps == pytest.approx(per_seed.mean())
    assert result.registered_delta_bps == pytest.approx(per_seed[0])
    assert result.ci_low_bps < result.delta_bps < result.ci_high_bps


def test_same_inputs_same_result_and_another_bootstrap_seed_differs():
    baseline, candidate = seed_shared_models(np.random.default_rng(2))
    assert accuracy_gain(baseline, candidate, seed=3) == accuracy_gain(baseline, candidate, seed=3)
    assert accuracy_gain(baseline, candidate, seed=3).ci_low_bps != accuracy_gain(baseline, candidate, seed=4).ci_low_bps


def test_pairs_travel_together_so_shared_seed_luck_cancels():
    """Candidate seed k is compared with baseline seed k: breaking the pairs widens the interval."""
    baseline, candidate = seed_shared_models(np.random.default_rng(3))
    paired = accuracy_gain(baseline, candidate)
    unpaired = accuracy_gain(baseline, candidate[np.roll(np.arange(10), 1)])  # seed k vs seed k-1
    assert paired.ci_low_bps > 0
    assert (paired.ci_high_bps - paired.ci_low_bps) * 2 < unpaired.ci_high_bps - unpaired.ci_low_bps


def test_seeds_that_disagree_widen_the_interval():
    """The same seed-mean gain is less certain when the seeds disagree: the interval covers training randomness."""
    skill = np.random.default_rng(4).permutation(1000) / 1000  # exact shares: 800 rows below 0.80
    baseline = np.tile(skill < 0.80, (10, 1))
    agreeing = np.tile(skill < 0.81, (10, 1))  # +100 bps on every seed
    disagreeing = np.stack([skill < (0.84 if s % 2 else 0.78) for s in range(10)])  # +400 / -200 bps
    agree, disagree = accuracy_gain(baseline, agreeing), accuracy_gain(baseline, disagreeing)
    assert agree.delta_bps == disagree.delta_bps == 100
    assert agree.ci_low_bps > 0 >= disagree.ci_low_bps


def test_unpaired_seeds_or_other_benchmark_rows_are_refused():
    baseline, candidate = seed_shared_models(np.random.default_rng(5))
    base, cand = synthetic_scores(baseline), synthetic_scores(candidate)
    with pytest.raises(ValueError, match="paired per seed"):
        paired_seeds_bootstrap("accuracy", base, dataclasses.replace(cand, seeds=tuple(range(1, 11))),
                               [0, 1], None, False)
    with pytest.raises(ValueError, match="same benchmark rows"):
        paired_seeds_bootstrap("accuracy", base, dataclasses.replace(cand, truth=cand.truth + 1), [0, 1], None, False)


def test_seeds_derive_from_the_spec_seed_and_count():
    assert DEMO.eligibility_seeds == 10
    assert eligibility_seeds(DEMO) == tuple(range(42, 52))
    assert eligibility_seeds(dataclasses.replace(DEMO, seed=2**32 - 2), 3) == (2**32 - 2, 2**32 - 1, 0)
    with pytest.raises(ValueError):
        eligibility_seeds(DEMO, 0)


def test_placebo_copies_every_champion_row_as_evenly_as_possible():
    champion = pd.DataFrame({"x": range(150), "y": [0, 1] * 75})
    copies = placebo_rows(champion, 350, seed=9)
    counts = copies["x"].value_counts()
    assert len(copies) == 350 and set(counts.index) == set(range(150)) and set(counts) == {2, 3}
    assert copies.equals(placebo_rows(champion, 350, seed=9))
    assert not copies.equals(placebo_rows(champion, 350, seed=10))
    assert placebo_rows(champion, 50, seed=9)["x"].is_unique


# --- the v2 verdict --------------------------------------------------------------------

def gain(low, placebo_low):
    return {"champion": {"ci_low_bps": low}, "placebo": None if placebo_low is None else {"ci_low_bps": placebo_low}}


@pytest.mark.parametrize("delta, low, placebo_low, expected", [
    (300, 150, 40, (True, REASON_ACCEPTED)),
    (99, 150, 40, (False, REASON_BELOW_THRESHOLD)),  # the registered models' gain is what the chain pays
    (300, 99, 40, (False, REASON_NOT_SIGNIFICANT)),  # above zero is not enough: copies reach +100
    (300, 150, 0, (False, REASON_NOT_ABOVE_PLACEBO)),
    (300, 150, None, (False, REASON_NOT_ABOVE_PLACEBO)),
])
def test_seed_robust_verdict(delta, low, placebo_low, expected):
    assert seed_robust_verdict(delta, 100, gain(low, placebo_low), 1000, 500) == expected


# --- the demo token, end to end --------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    champion = read_token_table(DEMO.base_data_path)
    rows = benchmark_rows(read_token_table(DEMO.benchmark_path), DEMO)
    return champion, rows, seeded_benchmark_scores(champion, rows, DEMO, eligibility_seeds(DEMO))


def judge(demo, contribution):
    champion, rows, baseline = demo
    training = merge_training_data(champion, contribution, DEMO)
    result = seeded_significance(champion, training, rows, DEMO, baseline=baseline)
    delta = score_bps(result.champion.candidate_scores[0]) - score_bps(result.champion.baseline_scores[0])
    return result, delta, seed_robust_verdict(delta, DEMO.min_improvement_bps, result.as_dict(), len(rows),
                                              DEMO.min_benchmark_samples)


def test_the_improving_sample_is_eligible_and_its_first_seed_is_the_registered_pair(demo):
    champion, rows, _ = demo
    improving = pd.read_csv(SAMPLES / "improving.csv")
    result, delta, verdict = judge(demo, improving)
    assert verdict == (True, REASON_ACCEPTED)
    assert result.champion.seeds == eligibility_seeds(DEMO) and result.placebo.seeds == result.champion.seeds
    assert result.placebo_rows == 350 and result.placebo.baseline_scores != result.champion.baseline_scores
    # seed 0 is the spec's seed: the models the registry holds and the mint request scores
    trained = {"baseline": champion, "candidate": merge_training_data(champion, improving, DEMO)}
    registered = {name: evaluate_model(train_model(frame, DEMO), rows, DEMO)["metrics"]["accuracy"]
                  for name, frame in trained.items()}
    assert result.champion.baseline_scores[0] == pytest.approx(registered["baseline"])
    assert result.champion.candidate_scores[0] == pytest.approx(registered["candidate"])
    assert result.champion.ci_low_bps >= 100 and result.placebo.ci_low_bps > 0
    document = compute_delta_one(
        baseline_metrics=dict.fromkeys(("accuracy", "precision", "recall", "f1", "auroc"), registered["baseline"]),
        new_metrics=dict.fromkeys(("accuracy", "precision", "recall", "f1", "auroc"), registered["candidate"]),
        primary_metric="accuracy", min_improvement_bps=100, baseline_model={}, new_model={}, contributor={},
        evaluation={"sample_size": len(rows)}, pipeline={}, min_samples=500, seed_robust=result.as_dict())
    assert document["delta_computation"]["delta_one_bps"] == delta
    assert document["eligibility"]["rule"] == SEED_ROBUST_ELIGIBILITY_RULE and document["eligibility"]["eligible"]
    assert document["eligibility"]["seed_robust"]["seeds"] == list(eligibility_seeds(DEMO))


@pytest.mark.parametrize("name", ["improving[246-295]", "label-noise"])
def test_a_slice_that_only_clears_zero_and_the_label_noise_sample_are_not_eligible(demo, name):
    improving = pd.read_csv(SAMPLES / "improving.csv")
    contribution = improving_slice(improving, 246, 295) if name != "label-noise" else pd.read_csv(
        SAMPLES / "label-noise.csv")
    result, _, verdict = judge(demo, contribution)
    assert verdict[0] is False
    if name == "label-noise":
        assert verdict[1] == REASON_BELOW_THRESHOLD
    else:  # a real gain, but its interval does not clear one DeltaOne
        assert result.champion.ci_low_bps > 0 and verdict[1] == REASON_NOT_SIGNIFICANT


def test_cached_champion_and_placebo_scores_give_the_same_result(demo):
    champion, rows, baseline = demo
    contribution = improving_slice(pd.read_csv(SAMPLES / "improving.csv"), 1, 50)
    training = merge_training_data(champion, contribution, DEMO)
    seeds = eligibility_seeds(DEMO, 5)
    cold = seeded_significance(champion, training, rows, DEMO, seeds)
    warm = seeded_significance(champion, training, rows, DEMO, seeds, baseline=baseline,
                               placebo=placebo_scores(champion, 50, rows, DEMO, seeds))
    assert cold == warm
    with pytest.raises(ValueError, match="no scores for seeds"):
        baseline.for_seeds((7,))


def assert_same_scores(a: SeededScores, b: SeededScores) -> None:
    assert a.seeds == b.seeds and a.primary == b.primary
    assert np.array_equal(a.truth, b.truth) and np.array_equal(a.predicted, b.predicted)
    assert np.array_equal(a.probabilities, b.probabilities)


def test_the_registered_fit_and_the_worker_pool_change_no_score(demo, monkeypatch):
    """The seed-0 fit reused (the registered model) and the other fits run in worker processes give
    the very scores of fitting every seed here: the attestation signs the same numbers."""
    from hokusai import workers

    champion, rows, baseline = demo
    seeds = eligibility_seeds(DEMO, 4)
    registered = train_model(champion, DEMO)  # what the registry holds: the spec's seed
    assert seeds[0] == DEMO.seed
    saved = workers._count
    workers.configure(1)  # no pool: every seed fitted in this process
    try:
        here = seeded_benchmark_scores(champion, rows, DEMO, seeds)
        reused = seeded_benchmark_scores(champion, rows, DEMO, seeds, {DEMO.seed: registered})
        workers.configure(2)
        monkeypatch.setattr("hokusai.evaluation.seeded.FIT_POOL_MIN_ROWS", 0)
        pooled = seeded_benchmark_scores(champion, rows, DEMO, seeds, {DEMO.seed: registered})
        assert workers._pools.get(2) is not None  # the fits did run in the pool
    finally:
        workers._count = saved
    assert_same_scores(here, baseline.for_seeds(seeds))
    assert_same_scores(reused, here)
    assert_same_scores(pooled, here)
    other = train_model(champion, DEMO, seed=DEMO.seed + 7)  # a model that is not that seed's fit shows
    assert not np.array_equal(seeded_benchmark_scores(champion, rows, DEMO, seeds, {DEMO.seed: other}).predicted,
                              here.predicted)


# --- no-information contributions are not paid ---------------------------------------

# Ten of the standard set, nine of which today's rule (one fit, row bootstrap) pays:
# every kind and size, the largest v1 gains (+250, +300) and the largest seed-mean gain (+154).
HARDEST_NO_INFORMATION = (
    "jitter-x1-1002", "jitter-x1-1009", "jitter-x1-1014", "jitter-x3-1019", "reorder-150-1020",
    "resample-150-1034", "resample-350-1037", "jittered-resample-150-1042", "jittered-resample-150-1044",
    "jittered-resample-350-1054",
)


def test_no_information_contributions_that_today_s_rule_pays_are_not_eligible(demo):
    from hokusai.rules.delta_one import eligibility_verdict
    from hokusai.evaluation.significance import paired_bootstrap
    from hokusai.harness.no_information import no_information_cases

    champion, rows, baseline = demo
    cases = {case.name: case for case in no_information_cases(champion, DEMO)}
    placebos, paid_today, paid_now = {}, [], []
    for name in HARDEST_NO_INFORMATION:
        contribution = cases[name].rows
        size = len(contribution)
        placebos.setdefault(size, placebo_scores(champion, size, rows, DEMO, eligibility_seeds(DEMO)))
        training = merge_training_data(champion, contribution, DEMO)
        result = seeded_significance(champion, training, rows, DEMO, baseline=baseline, placebo=placebos[size])
        champ = result.champion
        delta = score_bps(champ.candidate_scores[0]) - score_bps(champ.baseline_scores[0])
        single = paired_bootstrap("accuracy", baseline.truth, baseline.predicted[0], result.candidate.predicted[0],
                                  None, None, list(DEMO.label_values), None, False, seed=DEMO.seed)
        if eligibility_verdict(delta, 100, single.as_dict(), len(rows), 500)[0]:
            paid_today.append(name)
        if seed_robust_verdict(delta, 100, result.as_dict(), len(rows), 500)[0]:
            paid_now.append(name)
    assert len(paid_today) >= 8, paid_today  # the subset is one that fools hokusai-eligibility-v1
    assert paid_now == []


@pytest.mark.parametrize("metric", ["f1", "auroc"])
def test_a_binary_token_s_primary_metric_per_seed_is_evaluate_model_s(tmp_path, metric):
    """The churn token (binary, f1 on label 1), with a seeded forest so the seeds differ."""
    from hokusai_assets_tests.churn_token import churn_rows, write_churn_token

    spec = dataclasses.replace(load_token_spec(write_churn_token(tmp_path)), primary_metric=metric,
                               estimator_class="sklearn.ensemble.RandomForestClassifier",
                               estimator_params={"n_estimators": 10, "max_depth": 4})
    champion, rows = read_token_table(spec.base_data_path), read_token_table(spec.benchmark_path)
    training = merge_training_data(champion, churn_rows(300, seed=3), spec)
    seeds = eligibility_seeds(spec, 5)
    result = seeded_significance(champion, training, rows, spec, seeds)
    for index, seed in enumerate(seeds):
        expected = evaluate_model(train_model(training, spec, seed=seed), rows, spec)["metrics"][metric]
        assert result.champion.candidate_scores[index] == pytest.approx(expected, abs=1e-6)
    assert len(set(result.champion.candidate_scores)) > 1
    assert result.champion.ci_low_bps <= result.champion.delta_bps <= result.champion.ci_high_bps
