"""Near-copies of the benchmark count as benchmark copies: a test-set row with a pixel nudged is not new data.

Found by an adversarial run: the demo token's benchmark rows with one pixel +1 scored +560 bps (350 rows)
and +910 bps (all 1,000: accuracy 100%) and were paid, while exact copies were rejected as leakage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.intake.read import ContributedDataset, ContributionRejected, clean
from hokusai.tokens.spec import load_token_specs, read_token_table

REPO = Path(__file__).resolve().parents[2]
SPEC = load_token_specs(REPO / "tokens")["digits-demo"]
BENCHMARK = read_token_table(SPEC.benchmark_path)
IMPROVING = pd.read_csv(REPO / "tokens" / "digits-demo" / "samples" / "improving.csv")
PIXELS = [f.name for f in SPEC.features]


def contributed(frame: pd.DataFrame) -> ContributedDataset:
    return ContributedDataset(partition_key="digits-demo/0xabc/f.csv@e", token_id="digits-demo",
                              wallet_address="0x" + "ab" * 20, filename="f.csv", frame=frame, manifest={"sha256": "00" * 32})


def nudged(frame: pd.DataFrame, step: int) -> pd.DataFrame:
    """Each row with its first pixel that has room moved by ``step`` grey levels (within 0..16)."""
    pixels = frame[PIXELS].to_numpy().copy()
    for row in pixels:
        column = int(np.argmax(row <= 16 - step))
        row[column] += step
    out = frame.copy()
    out[PIXELS] = pixels
    return out


@pytest.mark.parametrize("rows", [350, 1000])
def test_benchmark_rows_nudged_by_one_grey_level_are_rejected_as_leakage(rows):
    with pytest.raises(ContributionRejected, match="near-copies of the token's benchmark"):
        clean(contributed(nudged(BENCHMARK.iloc[:rows].reset_index(drop=True), 1)), SPEC, BENCHMARK)


def test_a_few_nudged_benchmark_rows_are_removed_and_counted_not_trained_on():
    mixed = pd.concat([IMPROVING, nudged(BENCHMARK.iloc[:3], 1)], ignore_index=True)
    result = clean(contributed(mixed), SPEC, BENCHMARK)
    assert result.stats["benchmark_rows_removed"] == 3
    assert result.stats["rows_out"] == len(IMPROVING)


def test_the_demo_improving_sample_has_no_benchmark_near_copy():
    result = clean(contributed(IMPROVING), SPEC, BENCHMARK)
    assert result.stats["benchmark_rows_removed"] == 0
    assert result.stats["rows_out"] == len(IMPROVING)
