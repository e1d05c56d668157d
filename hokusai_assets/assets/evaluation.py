"""Both models on the benchmark, and the DeltaOne that follows."""

from typing import Any

from dagster import MetadataValue, Output, asset

from hokusai.claims.documents import delta_one_document
from hokusai.rules.delta_one import metric_table_markdown
from hokusai.intake.read import CleanDataset
from hokusai.models.steps import BaselinePin, BenchmarkResult, CandidateModel, champion_training_set, measure_on_benchmark
from hokusai_assets.partitions import contributions
from hokusai_assets.retries import mlflow_step
from resources.model_registry import ModelRegistryResource
from resources.token_specs import TokenSpecsResource

GROUP = "evaluation"


@mlflow_step(partitions_def=contributions, group_name=GROUP, kinds={"scikitlearn"})
def benchmark_metrics(
    baseline_model: BaselinePin,
    new_model: CandidateModel,
    clean_dataset: CleanDataset,
    token_specs: TokenSpecsResource,
    model_registry: ModelRegistryResource,
) -> Output[BenchmarkResult]:
    """Accuracy, precision, recall, F1 and AUROC of the champion and the new model on the same benchmark rows,
    and the seed-robust gain: both refitted with each eligibility seed, and against a same-size placebo."""
    spec = token_specs.get_spec(new_model.contribution.token_id)
    champion_rows = champion_training_set(baseline_model, token_specs.base_data(spec), spec)
    result = measure_on_benchmark(
        model_registry.get_registry(), baseline_model, new_model, token_specs.benchmark(spec), spec,
        champion_rows, clean_dataset.frame,
    )
    baseline, new = result.measured["baseline"]["metrics"], result.measured["new"]["metrics"]
    table = ["| metric | baseline | new |", "|---|---:|---:|"] + [
        f"| {name} | {baseline[name]:.4f} | {new[name]:.4f} |" for name in new
    ]
    return Output(
        result,
        metadata={
            "metrics": MetadataValue.md("\n".join(table)),
            "benchmark_rows": result.measured["benchmark_rows"],
            "sample_size": result.measured["sample_size"],
            "benchmark_sha256": result.measured["benchmark_sha256"],
            f"baseline_{spec.primary_metric}": baseline[spec.primary_metric],
            f"new_{spec.primary_metric}": new[spec.primary_metric],
            **seed_robust_metadata(result.measured["seed_robust"]),
            **dspy_metadata(result.measured.get("dspy")),
        },
    )


def dspy_metadata(record: dict[str, Any] | None) -> dict[str, Any]:
    """A DSPy token's LM and the tokens each model's dev pass used (hokusai.dspy); nothing for other tokens."""
    if record is None:
        return {}
    totals = {role: sum(counts.get("total_tokens", 0) for counts in usage.values())
              for role, usage in record["usage"].items()}
    return {"dspy_lm": record["lm"]["model"], "dspy_program": record["program"]["program"],
            "dspy_tokens_baseline": totals.get("baseline", 0), "dspy_tokens_candidate": totals.get("candidate", 0)}


def seed_robust_metadata(gain: dict[str, Any]) -> dict[str, Any]:
    """The seed-robust gain as a person reads it in the UI: over the champion and over the placebo."""
    champion, placebo = gain["champion"], gain.get("placebo")
    shown = {"seeds": len(champion["seeds"]),
             "seed_mean_gain_bps": champion["delta_bps"],
             "seed_mean_gain_interval_bps": f"[{champion['ci_low_bps']:.0f}, {champion['ci_high_bps']:.0f}]"}
    if placebo is not None:
        shown |= {"gain_over_placebo_bps": placebo["delta_bps"],
                  "gain_over_placebo_interval_bps": f"[{placebo['ci_low_bps']:.0f}, {placebo['ci_high_bps']:.0f}]"}
    return shown


@asset(partitions_def=contributions, group_name=GROUP, kinds={"python"})
def delta_one(benchmark_metrics: BenchmarkResult, token_specs: TokenSpecsResource) -> Output[dict[str, Any]]:
    """The DeltaOne document: the primary metric's gain in bps, every metric's delta, the verdict."""
    spec = token_specs.get_spec(benchmark_metrics.contribution.token_id)
    document = delta_one_document(spec, benchmark_metrics)
    computation, verdict = document["delta_computation"], document["eligibility"]
    return Output(
        document,
        metadata={
            "delta_one_bps": computation["delta_one_bps"],
            "primary_metric": computation["primary_metric"],
            "eligible": verdict["eligible"],
            "reason": verdict["reason"],
            "min_improvement_bps": verdict["min_improvement_bps"],
            "metric_table": MetadataValue.md(metric_table_markdown(document)),
        },
    )
