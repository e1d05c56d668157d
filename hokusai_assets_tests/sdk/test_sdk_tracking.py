"""hokusai.tracking: ExperimentManager and PerformanceTracker, on the real server and a local store."""

import pytest

pytest.register_assert_rewrite("hokusai_assets_tests.sdk_fixtures")

from hokusai.rules.attestation import attestation_hash
from hokusai.core import ModelNotFoundError
from hokusai.rules.delta_one import DELTA_ONE_DEFINITION, compute_delta_one
from hokusai.settings import REPO_ROOT
from hokusai.tracking import (
    ExperimentManager, PerformanceTracker, from_mlflow_key, log_model_metrics, log_pipeline_metrics,
    log_usage_metrics,
)
from hokusai_assets_tests.sdk_fixtures import data_hash, five_metrics, random_wallet, tiny_model, unique_token

pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]


def test_start_experiment_is_an_mlflow_run_that_metric_helpers_log_to(registry):
    manager = ExperimentManager(registry)
    experiment = unique_token("exp")
    with manager.start_experiment(experiment, run_name="trial", tags={"team": "a"}) as run:
        keys = log_model_metrics({"accuracy": 0.91, "f1": 0.88})
        log_pipeline_metrics({"duration": 12.5})
        log_usage_metrics({"reply_rate": 0.31})
    assert keys == {"model:accuracy": "model/accuracy", "model:f1_score": "model/f1_score"}
    stored = registry.client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED" and stored.info.run_name == "trial"
    assert registry.client.get_experiment(stored.info.experiment_id).name == experiment
    assert stored.data.tags["team"] == "a"
    assert {from_mlflow_key(k): v for k, v in stored.data.metrics.items()} == {
        "model:accuracy": 0.91, "model:f1_score": 0.88, "pipeline:duration_seconds": 12.5, "usage:reply_rate": 0.31}


def test_metric_helpers_need_a_run_and_finite_values(registry):
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        log_model_metrics({"accuracy": 0.5})
    with ExperimentManager(registry).start_experiment(unique_token("exp")) as run:
        with pytest.raises(ValueError, match="must be finite"):
            log_model_metrics({"accuracy": float("nan")})
    assert registry.client.get_run(run.info.run_id).data.metrics == {}


def test_create_improvement_experiment_records_the_attempt(registry):
    token = unique_token("attempt")
    baseline = registry.register_baseline(tiny_model(), "classification", {"token_id": token})
    wallet = random_wallet()
    manager = ExperimentManager(registry)
    run_id = manager.create_improvement_experiment(
        baseline["model_id"], {"contributor_address": wallet, "data_hash": data_hash("attempt"),
                               "contributed_samples": 42})
    run = registry.client.get_run(run_id)
    assert registry.client.get_experiment(run.info.experiment_id).name == f"hokusai-{token}"
    assert run.data.tags["baseline_model_id"] == baseline["model_id"]
    assert run.data.tags["contributor_wallet"] == wallet and run.data.tags["data_hash"] == data_hash("attempt")
    assert run.data.params["contributed_samples"] == "42"
    with pytest.raises(ModelNotFoundError):
        manager.create_improvement_experiment("no-such-model/1", {})
    with pytest.raises(ValueError, match="wallet address"):
        manager.create_improvement_experiment(baseline["model_id"], {"contributor_address": "0xnope"})


def test_compare_registered_versions_by_model_id(registry):
    token = unique_token("compare")
    baseline = registry.register_baseline(tiny_model(), "classification", {
        "token_id": token, "metrics": {"accuracy": 0.80, "f1": 0.79}, "benchmark_metric": "accuracy"})
    logged_model = f"runs:/{baseline['run_id']}/model"
    better = registry.register_improved_model(baseline["model_id"], logged_model, random_wallet(), {
        "data_hash": data_hash("better"), "metrics": {"accuracy": 0.84, "f1": 0.60}})
    result = ExperimentManager(registry).compare_models(baseline["model_id"], better["model_id"])
    assert result["primary_metric"] == "accuracy" and result["delta_one_bps"] == 400
    assert result["recommendation"] == "review"
    assert result["reasons"] == ["accuracy improved by +400 bps (minimum 100 bps)",
                                 "f1 fell by 1900 bps (tolerance 100 bps)"]


@pytest.mark.parametrize("candidate,expected,reason", [
    ({"accuracy": 0.83, "f1": 0.80}, "accept", "accuracy improved by +300 bps (minimum 100 bps)"),
    ({"accuracy": 0.805, "f1": 0.80}, "review", "accuracy improved by +50 bps, below the minimum of 100 bps"),
    ({"accuracy": 0.83, "f1": 0.70}, "review", "f1 fell by 1000 bps (tolerance 100 bps)"),
    ({"accuracy": 0.80, "f1": 0.90}, "reject", "accuracy did not improve (+0 bps)"),
    ({"accuracy": 0.70, "f1": 0.80}, "reject", "accuracy did not improve (-1000 bps)"),
])
def test_compare_models_recommends_with_reasons(candidate, expected, reason):
    manager = ExperimentManager.__new__(ExperimentManager)  # metric dicts need no registry
    result = manager.compare_models({"accuracy": 0.80, "f1": 0.80, "model:latency_ms": 30}, candidate)
    assert result["recommendation"] == expected
    assert reason in result["reasons"]
    assert result["not_compared"] == ["latency_ms"]


def test_compare_models_errors():
    manager = ExperimentManager.__new__(ExperimentManager)
    with pytest.raises(ValueError, match="primary metric 'auroc'"):
        manager.compare_models({"accuracy": 0.8}, {"accuracy": 0.9}, primary_metric="auroc")
    with pytest.raises(ValueError, match="must be finite"):
        manager.compare_models({"accuracy": float("inf")}, {"accuracy": 0.9})


def test_track_improvement_is_the_pipelines_delta_one_and_attestation():
    """Same evaluation in, same documents out: the SDK and hokusai.claims.documents share one definition."""
    from hokusai.rules.attestation import attestation_document
    from hokusai.tokens.spec import load_token_spec

    spec = load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml")
    wallet = random_wallet()
    contribution = {
        "token_id": spec.token_id, "contributor_address": wallet, "data_hash": data_hash("digits"),
        "model_name": spec.model_name, "model_id_uint": spec.model_id_uint, "metric_family": spec.metric_family,
        "primary_metric": spec.primary_metric, "min_improvement_bps": spec.min_improvement_bps,
        "spec_sha256": spec.spec_sha256, "seed": spec.seed, "merge_strategy": spec.merge_strategy,
        "baseline_model": {"name": spec.model_name, "version": 1, "weights_commitment": "0x" + "11" * 32},
        "candidate_weights_commitment": "0x" + "22" * 32, "contributed_samples": 350, "total_samples": 500,
        "training_sha256": data_hash("training"), "clean_rows_sha256": data_hash("rows"),
        "partition_key": f"{spec.token_id}/{wallet}/improving.csv@etag", "task": spec.task,
        "benchmark_spec_id": spec.benchmark_spec_id, "benchmark_sha256": data_hash("benchmark"),
        "benchmark_rows": 1000, "sample_size": 1000,
    }
    before = five_metrics(0.80)
    after = {**five_metrics(0.84), "f1": five_metrics(0.84)["f1"]}
    delta, attestation = PerformanceTracker().track_improvement(before, after, contribution)
    assert delta["delta_computation"]["computation_method"] == DELTA_ONE_DEFINITION
    assert delta["delta_computation"]["delta_one_bps"] == 400 and delta["eligibility"]["eligible"] is True
    expected_delta = compute_delta_one(
        baseline_metrics=before, new_metrics=after, primary_metric="accuracy", min_improvement_bps=100,
        baseline_model=delta["baseline_model"], new_model=delta["new_model"],
        contributor=delta["contributor_attribution"], evaluation=delta["evaluation_metadata"],
        pipeline=delta["pipeline_metadata"])
    assert delta == expected_delta
    assert attestation == attestation_document(spec, delta)
    assert attestation_hash(attestation).startswith("0x") and len(attestation_hash(attestation)) == 66


def test_track_improvement_accepts_convention_names_and_logs_to_the_active_run(registry):
    contribution = {"token_id": "demo-token", "contributor_address": random_wallet(), "data_hash": data_hash(5)}
    convention = {f"model:{'f1_score' if k == 'f1' else k}": v for k, v in five_metrics(0.9).items()}
    with ExperimentManager(registry).start_experiment(unique_token("track")) as run:
        delta, attestation = PerformanceTracker().track_improvement(five_metrics(0.8), convention, contribution)
    assert delta["delta_computation"]["delta_one_bps"] == 1000
    stored = registry.client.get_run(run.info.run_id)
    assert stored.data.metrics["model/delta_one_bps"] == 1000
    assert stored.data.tags["attestation_hash"] == attestation_hash(attestation)
    artifacts = {a.path for a in registry.client.list_artifacts(run.info.run_id, "hokusai")}
    assert artifacts == {"hokusai/delta_one.json", "hokusai/attestation.json"}


@pytest.mark.parametrize("change,message", [
    ({"contributor_address": "0x12"}, "wallet address"),
    ({"contributor": "0x" + "ab" * 20}, "more than one contributor"),
    ({"token_id": "Bad Token"}, "token id"),
    ({"primary_metric": "latency"}, "primary_metric"),
])
def test_track_improvement_input_errors(change, message):
    contribution = {"token_id": "demo-token", "contributor_address": random_wallet(), "data_hash": data_hash(6),
                    **change}
    with pytest.raises(ValueError, match=message):
        PerformanceTracker().track_improvement(five_metrics(0.8), five_metrics(0.9), contribution)


def test_track_improvement_is_computed_over_the_benchmark_metrics_both_sets_give():
    contribution = {"token_id": "demo-token", "contributor_address": random_wallet(), "data_hash": data_hash(7)}
    delta, _ = PerformanceTracker().track_improvement(five_metrics(0.8), {"accuracy": 0.9}, contribution)
    assert delta["delta_computation"]["metrics_included"] == ["accuracy"]
    assert list(delta["delta_computation"]["metric_deltas"]) == ["accuracy"]
    with pytest.raises(ValueError, match=r"no benchmark metric in both"):
        PerformanceTracker().track_improvement(five_metrics(0.8), {"latency_ms": 3.0}, contribution)
