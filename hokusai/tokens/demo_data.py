"""The demo token's data, built from scikit-learn's bundled handwritten-digits set.

The UCI optical-recognition digits (1,797 images, 8x8 pixels of 0-16, ten classes)
ship inside scikit-learn, so nothing is downloaded. One seeded, stratified split
gives a fixed benchmark (1,000 rows), a small base training set (so a contribution
can matter) and sample contributions: one of clean new images that improves the
model, and one whose labels are noise, which does not.

Run ``python -m hokusai.tokens.demo_data`` to rebuild; the output is byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TOKEN_ID = "digits-demo"
LABEL_COLUMN = "digit"
SPLIT_SEED = 20260611
BENCHMARK_ROWS = 1000
BASE_ROWS = 150
IMPROVING_ROWS = 350


def digits_frame() -> pd.DataFrame:
    """All 1,797 digits as a frame: ``pixel_<row>_<col>`` ints and the ``digit`` label."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    columns = [f"pixel_{i // 8}_{i % 8}" for i in range(64)]
    frame = pd.DataFrame(digits.data.astype("int64"), columns=columns)
    frame[LABEL_COLUMN] = digits.target.astype("int64")
    return frame


def split_demo_data(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Seeded stratified split into benchmark, base, improving and label-noise parts."""
    from sklearn.model_selection import train_test_split

    labels = frame[LABEL_COLUMN]
    benchmark, rest = train_test_split(
        frame, train_size=BENCHMARK_ROWS, stratify=labels, random_state=SPLIT_SEED
    )
    base, rest = train_test_split(
        rest, train_size=BASE_ROWS, stratify=rest[LABEL_COLUMN], random_state=SPLIT_SEED
    )
    improving, noise_pool = train_test_split(
        rest, train_size=IMPROVING_ROWS, stratify=rest[LABEL_COLUMN], random_state=SPLIT_SEED
    )
    rng = np.random.default_rng(SPLIT_SEED)
    label_noise = noise_pool.copy()
    label_noise[LABEL_COLUMN] = rng.integers(0, 10, size=len(label_noise))
    return {
        "benchmark": benchmark,
        "base": base,
        "improving": improving,
        "label-noise": label_noise,
    }


def mock_contribution(improving: pd.DataFrame, seed: int, rows: int = 200) -> pd.DataFrame:
    """A deterministic mock contribution for dry runs: sampled digits with pixel jitter.

    Real-looking data through all the real logic; the same seed gives the same bytes.
    """
    rng = np.random.default_rng(seed)
    sample = improving.sample(n=min(rows, len(improving)), random_state=seed).reset_index(drop=True)
    pixels = sample.columns.drop(LABEL_COLUMN)
    jitter = rng.integers(-1, 2, size=(len(sample), len(pixels)))
    sample[pixels] = np.clip(sample[pixels].to_numpy() + jitter * (sample[pixels].to_numpy() > 0), 0, 16)
    return sample


def write_demo_token(tokens_dir: Path) -> list[Path]:
    """Write the demo token's data files under ``tokens_dir/digits-demo``."""
    parts = split_demo_data(digits_frame())
    data_dir = Path(tokens_dir) / TOKEN_ID
    written = []
    for name, relative in (
        ("base", "base.csv"),
        ("benchmark", "benchmark.csv"),
        ("improving", "samples/improving.csv"),
        ("label-noise", "samples/label-noise.csv"),
    ):
        path = data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        parts[name].to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_demo_token(Path(__file__).resolve().parents[1] / "tokens"):
        print(written_path)
