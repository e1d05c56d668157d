"""The paired bootstrap: exact metrics under weights, honest coverage, seeded determinism."""

import numpy as np
import pytest
from sklearn import metrics

from hokusai.rules.delta_one import eligibility_verdict
from hokusai.evaluation.significance import paired_bootstrap, weighted_metric

LABELS = [0, 1, 2, 3]


def population_sample(n, rng, p_base=0.80, keep=0.95, rescue=0.30):
    """Rows where the new model is right with probability 0.80*0.95 + 0.20*0.30 = 0.82."""
    base_right = rng.random(n) < p_base
    new_right = np.where(base_right, rng.random(n) < keep, rng.random(n) < rescue)
    truth = np.zeros(n, dtype=int)
    return truth, np.where(base_right, 0, 1), np.where(new_right, 0, 1)


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1", "auroc"])
def test_unit_weights_reproduce_sklearn(metric):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 500)
    scores = rng.dirichlet(np.ones(4), 500)
    scores[np.arange(500), truth] += 0.2
    scores /= scores.sum(axis=1, keepdims=True)
    predicted = scores.argmax(axis=1)
    expected = {
        "accuracy": metrics.accuracy_score(truth, predicted),
        "precision": metrics.precision_score(truth, predicted, average="weighted", zero_division=0),
        "recall": metrics.recall_score(truth, predicted, average="weighted", zero_division=0),
        "f1": metrics.f1_score(truth, predicted, average="weighted", zero_division=0),
        "auroc": metrics.roc_auc_score(truth, scores, multi_class="ovr", average="weighted"),
    }[metric]
    ours = weighted_metric(metric, np.ones((1, 500)), truth, predicted, scores, LABELS, None, False)[0]
    assert ours == pytest.approx(expected, abs=1e-12)


def test_binary_auroc_with_ties_and_weights_matches_sklearn():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300), 1)  # many ties
    weights = rng.integers(0, 4, 300).astype(float)
    ours = weighted_metric("auroc", weights[None, :], truth, (scores > 0.5).astype(int),
                           np.column_stack([1 - scores, scores]), [0, 1], 1, True)[0]
    assert ours == pytest.approx(metrics.roc_auc_score(truth, scores, sample_weight=weights), abs=1e-12)


def test_same_seed_same_interval_and_different_seed_differs():
    truth, base, new = population_sample(800, np.random.default_rng(1))
    run = lambda seed: paired_bootstrap("accuracy", truth, base, new, None, None, [0, 1], None, False, seed=seed)  # noqa: E731
    assert run(7) == run(7)
    assert run(7).ci_low_bps != run(8).ci_low_bps
    assert run(7).resamples == 1000


def test_interval_covers_the_true_delta_about_95_percent_of_the_time():
    """150 seeded trials of 1,000 rows each; the true gain is 200 bps."""
    rng = np.random.default_rng(20261123)
    covered = 0
    trials = 150
    for trial in range(trials):
        truth, base, new = population_sample(1000, rng)
        result = paired_bootstrap("accuracy", truth, base, new, None, None, [0, 1], None, False, seed=trial)
        covered += result.ci_low_bps <= 200 <= result.ci_high_bps
    assert 0.89 <= covered / trials <= 0.99, covered


def test_no_gain_is_rarely_significant_and_p_value_is_uniformish():
    rng = np.random.default_rng(99)
    significant = 0
    for trial in range(100):
        truth, base, _ = population_sample(1000, rng)
        _, new, _ = population_sample(1000, rng)  # an independent model of the same skill
        result = paired_bootstrap("accuracy", truth, base, new, None, None, [0, 1], None, False, seed=trial)
        significant += result.ci_low_bps > 0
    assert significant <= 8  # one-sided 2.5% level: about 2.5 expected


def test_verdict_vocabulary_and_order():
    ok = {"ci_low_bps": 12}
    assert eligibility_verdict(150, 100, ok, 1000, 500) == (True, "accepted")
    assert eligibility_verdict(150, 100, ok, 100, 500) == (False, "insufficient_samples")
    assert eligibility_verdict(99, 100, ok, 1000, 500) == (False, "delta_below_threshold")
    assert eligibility_verdict(150, 100, {"ci_low_bps": 0}, 1000, 500) == (False, "not_significant")
    assert eligibility_verdict(150, 100, {"ci_low_bps": -40}, 1000, 500) == (False, "not_significant")
