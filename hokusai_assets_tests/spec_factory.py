"""A minimal binary-classification TokenSpec for unit tests that need only its columns."""

from pathlib import Path

from hokusai.tokens.spec import FeatureSpec, TokenSpec


def binary_spec(*features: FeatureSpec, label_column: str = "y") -> TokenSpec:
    """Token ``t`` with the given features and a 0/1 label; paths and estimator are placeholders."""
    return TokenSpec(
        token_id="t", model_name="m", model_id_uint=1, task="binary_classification", label_column=label_column,
        label_values=(0, 1), features=tuple(features), primary_metric="accuracy", metric_family="proportion",
        min_improvement_bps=100, base_data_path=Path("b.csv"), benchmark_path=Path("x.csv"),
        benchmark_spec_id="x", benchmark_sample_cap=10, min_benchmark_samples=1, estimator_class="x",
        estimator_params={}, seed=0)
