"""The data-copying test (``hokusai.intake.benchmark_copying``) on the demo token's real files.

Copies of benchmark rows edited past the near-copy rule were paid (measured on the demo token:
+910 bps for the benchmark with one pixel set to 16, +660 / +700 bps for the 91 rows the champion
gets wrong with 3 / 8 pixels moved by 8 grey levels). Genuine rows must pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.intake.benchmark_copying import MIN_REFERENCE_ROWS, benchmark_copying, rows_to_test
from hokusai.intake.read import ContributedDataset, ContributionRejected, clean
from hokusai.models.training import features_and_labels, train_model
from hokusai.tokens.spec import load_token_specs

REPO = Path(__file__).resolve().parents[2]
SPEC = load_token_specs(REPO / "tokens")["digits-demo"]
BENCHMARK = pd.read_csv(REPO / "tokens" / "digits-demo" / "benchmark.csv")
BASE = pd.read_csv(REPO / "tokens" / "digits-demo" / "base.csv")
IMPROVING = pd.read_csv(REPO / "tokens" / "digits-demo" / "samples" / "improving.csv")
LABEL_NOISE = pd.read_csv(REPO / "tokens" / "digits-demo" / "samples" / "label-noise.csv")
PIXELS = [c for c in BENCHMARK.columns if c.startswith("pixel_")]


def edited(rows: pd.DataFrame, pixels: int, seed: int = 7) -> pd.DataFrame:
    """Each row with ``pixels`` of its pixels moved by 8 grey levels (mod 17): far past the near-copy rule."""
    rng = np.random.default_rng(seed)
    values = rows[PIXELS].to_numpy().copy()
    for row in values:
        where = rng.choice(len(PIXELS), pixels, replace=False)
        row[where] = (row[where] + 8) % 17
    return rows.assign(**{name: values[:, i] for i, name in enumerate(PIXELS)})


def targeted() -> pd.DataFrame:
    """The benchmark rows the champion (trained on the base rows) gets wrong: the copies that pay most."""
    features, labels = features_and_labels(BENCHMARK, SPEC)
    return BENCHMARK[train_model(BASE, SPEC).predict(features) != labels]


TARGETED = targeted()


@pytest.mark.parametrize("name, rows", [
    ("the demo's improving sample", IMPROVING), ("the label-noise sample", LABEL_NOISE),
    *((f"{n} improving rows", IMPROVING.sample(n, random_state=seed)) for n in (20, 40, 100, 250) for seed in range(5)),
])
def test_genuine_rows_are_not_called_copies(name, rows):
    verdict = benchmark_copying(rows, BENCHMARK, SPEC, BASE)
    assert verdict.compared_with == "training rows"
    assert not verdict.derived, (name, verdict)


@pytest.mark.parametrize("name, rows", [
    ("one pixel set to 16", BENCHMARK.assign(pixel_0_0=16)),
    ("3 pixels of every row moved", edited(BENCHMARK, 3)),
    ("8 pixels of every row moved", edited(BENCHMARK, 8)),
    ("the rows the champion gets wrong, 3 pixels moved", edited(TARGETED, 3)),
    ("the rows the champion gets wrong, 8 pixels moved", edited(TARGETED, 8)),
    ("the improving sample with the rows the champion gets wrong, 3 pixels moved",
     pd.concat([IMPROVING, edited(TARGETED, 3)])),
    ("the improving sample with the rows the champion gets wrong, 8 pixels moved",
     pd.concat([IMPROVING, edited(TARGETED, 8)])),
])
def test_copies_edited_past_the_near_copy_rule_are_found(name, rows):
    verdict = benchmark_copying(rows, BENCHMARK, SPEC, BASE)
    assert verdict.derived, (name, verdict)
    assert "than the champion's training rows are" in verdict.reason()
    assert "rejected as copies made from the benchmark" in verdict.reason()


def test_the_champions_grown_training_set_still_passes_genuine_rows():
    """After the improving sample is accepted, the label-noise sample's pixels are still fresh rows."""
    training = pd.concat([BASE, IMPROVING], ignore_index=True)
    assert not benchmark_copying(LABEL_NOISE, BENCHMARK, SPEC, training).derived
    assert benchmark_copying(edited(TARGETED, 3), BENCHMARK, SPEC, training).derived


@pytest.mark.parametrize("rows, derived", [
    (IMPROVING, False), (BENCHMARK.assign(pixel_0_0=16), True), (edited(BENCHMARK, 3), True),
])
def test_without_reference_rows_the_benchmark_stands_in(rows, derived):
    verdict = benchmark_copying(rows, BENCHMARK, SPEC)
    assert verdict.compared_with == "benchmark rows"
    assert verdict.derived is derived, verdict
    assert benchmark_copying(rows, BENCHMARK, SPEC, BASE.iloc[:MIN_REFERENCE_ROWS - 1]) == verdict


def test_the_verdict_is_a_property_of_the_rows():
    rows = edited(TARGETED, 8)
    assert benchmark_copying(rows, BENCHMARK, SPEC, BASE) == benchmark_copying(rows.iloc[::-1], BENCHMARK, SPEC, BASE)


def test_a_large_upload_is_tested_on_an_even_spread_of_its_rows():
    """Copies last in the upload are tested in their share: a spread, not the first rows."""
    assert rows_to_test(len(BENCHMARK)) == 12_500 and rows_to_test(5_000) == 2_500 and rows_to_test(10**6) == 1_000
    genuine = pd.concat([IMPROVING] * 40)  # 14,000 rows
    copies = pd.concat([edited(BENCHMARK, 3, seed) for seed in range(3)])  # 3,000 rows, after them
    verdict = benchmark_copying(pd.concat([genuine, copies]), BENCHMARK, SPEC, BASE)
    assert verdict.rows_tested == 8_500 and verdict.derived, verdict
    assert not benchmark_copying(genuine, BENCHMARK, SPEC, BASE).derived


def test_a_text_token_is_not_tested():
    spec = load_token_specs(REPO / "tokens")["topics-dspy-demo"]
    bench = pd.read_csv(REPO / "tokens" / "topics-dspy-demo" / "benchmark.csv")
    verdict = benchmark_copying(bench, bench, spec)
    assert not verdict.derived and verdict.rows_tested == 0


def _upload(frame: pd.DataFrame) -> ContributedDataset:
    return ContributedDataset("digits-demo/0x" + "ab" * 20 + "/x.csv@1", "digits-demo", "0x" + "ab" * 20,
                              "x.csv", frame, {"sha256": "0" * 64, "rows": len(frame)})


def test_clean_refuses_copies_with_the_reason():
    with pytest.raises(ContributionRejected, match="rejected as copies made from the benchmark"):
        clean(_upload(edited(TARGETED, 3)), SPEC, BENCHMARK, training=BASE)


def test_clean_keeps_the_improving_sample():
    assert len(clean(_upload(IMPROVING), SPEC, BENCHMARK, training=BASE).frame) == len(IMPROVING)
