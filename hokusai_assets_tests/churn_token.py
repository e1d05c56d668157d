"""A small synthetic token with numeric, category and free-text columns, for intake tests.

The demo token has only pixel columns; this one exercises encodings, text, PII and
categories. Its data is generated with a fixed seed into a temporary tokens folder.
"""

from pathlib import Path

import numpy as np
import pandas as pd

TOKEN_ID = "churn-test"
PLANS = ["basic", "pro", "team"]
SPEC = """\
token_id: churn-test
model_name: hokusai-churn-test
model_id_uint: "2002"
task: binary_classification
label_column: churned
label_values: [0, 1]
positive_label: 1
unknown_columns: reject
primary_metric: f1
metric_family: proportion
min_improvement_bps: 100
base_data: churn-test/base.csv
benchmark:
  path: churn-test/benchmark.csv
  spec_id: churn-test-benchmark-v1
  sample_cap: 5000
  min_samples: 100
estimator:
  class: sklearn.linear_model.LogisticRegression
  params: {max_iter: 500}
seed: 7
features:
  - {name: age, dtype: int, min: 18, max: 100}
  - {name: plan, dtype: category, categories: [basic, pro, team]}
  - {name: monthly_spend, dtype: float, min: 0, max: 10000}
  - {name: comment, dtype: string}
"""


def churn_rows(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    plan = rng.choice(PLANS, rows)
    spend = np.round(rng.gamma(2.0, 40.0, rows), 2)
    risk = 0.03 * (60 - age) + (plan == "basic") * 0.8 - spend / 200
    churned = (risk + rng.normal(0, 0.5, rows) > 0).astype(int)
    comment = rng.choice(["great service", "too expensive", "slow support", "love it", ""], rows)
    return pd.DataFrame({"age": age, "plan": plan, "monthly_spend": spend, "comment": comment, "churned": churned})


def write_churn_token(tokens_dir: Path) -> Path:
    """Write the spec and its data under ``tokens_dir``; returns the spec path."""
    data = Path(tokens_dir) / TOKEN_ID
    data.mkdir(parents=True, exist_ok=True)
    churn_rows(400, seed=1).to_csv(data / "base.csv", index=False)
    churn_rows(1000, seed=2).to_csv(data / "benchmark.csv", index=False)
    spec = Path(tokens_dir) / f"{TOKEN_ID}.yaml"
    spec.write_text(SPEC)
    return spec


TX_TOKEN_ID = "churn-tx"


def with_tx_hashes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add a public ``tx_hash`` column: 0x + 64 hex digits, the shape of a private key too."""
    rng = np.random.default_rng(seed)
    return frame.assign(tx_hash=["0x" + rng.bytes(32).hex() for _ in range(len(frame))])


def write_churn_tx_token(tokens_dir: Path) -> Path:
    """The churn token plus a ``tx_hash`` string feature (a public hash column kept on purpose)."""
    data = Path(tokens_dir) / TX_TOKEN_ID
    data.mkdir(parents=True, exist_ok=True)
    with_tx_hashes(churn_rows(400, seed=1), seed=1).to_csv(data / "base.csv", index=False)
    with_tx_hashes(churn_rows(1000, seed=2), seed=2).to_csv(data / "benchmark.csv", index=False)
    spec = (SPEC.replace(TOKEN_ID, TX_TOKEN_ID).replace('model_id_uint: "2002"', 'model_id_uint: "2003"')
            + "  - {name: tx_hash, dtype: string}\n")
    path = Path(tokens_dir) / f"{TX_TOKEN_ID}.yaml"
    path.write_text(spec)
    return path
