"""The specification's own SDK calls, written keyword for keyword as it writes them (issue 15),
against a real MLflow server; each result is checked.

The specification's example wallet fails its EIP-55 checksum and is refused (a payment
system must not guess which address was meant); the calls use its valid EIP-55 form.
"""

import hashlib

import pytest

pytest.register_assert_rewrite("hokusai_assets_tests.sdk_fixtures")

from hokusai.core import ModelRegistry
from hokusai.tracking import (
    ExperimentManager, PerformanceTracker, log_model_metrics, log_pipeline_metrics, log_usage_metrics,
    migrate_metric_name,
)
from hokusai.rules.wallets import validate_wallet_address
from hokusai_assets_tests.sdk_fixtures import data_hash, tiny_model, unique_token

pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]

SPEC_WALLET = "0x742d35Cc6634C0532925a3b844Bc9e7595f62341"  # as the specification prints it
W = "0x742D35cc6634C0532925A3B844BC9E7595f62341"  # its EIP-55 form
W_STORED = W.lower()


@pytest.fixture(scope="module")
def spec_env(mlflow_server):
    """``MLFLOW_TRACKING_URI`` pointing at the server, as the specification's no-argument calls expect."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        yield mlflow_server


@pytest.fixture(scope="module")
def registry(spec_env):
    return ModelRegistry()


@pytest.fixture(scope="module")
def baseline(registry):
    """A baseline registered as the specification does, with its metrics at the top of metadata."""
    return registry.register_baseline(model=tiny_model(), model_type=unique_token("spec"),
                                      metadata={"accuracy": 0.85})


def test_the_specifications_example_wallet_is_refused_with_its_corrected_form():
    with pytest.raises(ValueError, match=f"fails its EIP-55 checksum .*exactly {W}"):
        validate_wallet_address(SPEC_WALLET)
    assert validate_wallet_address(W) == W_STORED


def test_track_improvement_over_the_metrics_given_with_an_uncommitted_data_hash():
    tracker = PerformanceTracker()
    delta, attestation = tracker.track_improvement(
        baseline_metrics={"accuracy": 0.85, "f1": 0.83},
        improved_metrics={"accuracy": 0.88, "f1": 0.86},
        data_contribution={"contributor_address": W, "data_hash": "abc123", "samples": 1000},
    )
    computation = delta["delta_computation"]
    assert computation["metrics_included"] == ["accuracy", "f1"] and computation["primary_metric"] == "accuracy"
    assert computation["delta_one_bps"] == 300 and computation["metric_deltas"]["f1"]["delta_bps"] == 300
    assert delta["eligibility"]["eligible"] is True
    attribution = delta["contributor_attribution"]
    assert attribution["wallet_address"] == W_STORED and attribution["contributed_samples"] == 1000
    assert attribution["data_hash"] is None and attribution["data_committed"] is False
    # both documents say plainly that nothing here is an attestable claim
    for document in (delta, attestation):
        assert document["data_commitment"]["committed"] is False
        assert document["data_commitment"]["claimable"] is False
        assert document["data_commitment"]["given_data_hash"] == "abc123"
        assert "not committed" in document["data_commitment"]["reason"]
    assert attestation["contribution"]["sha256"] is None
    assert attestation["result"]["delta_one_bps"] == 300


def test_track_improvement_as_the_integration_guide_calls_it():
    delta, attestation = PerformanceTracker().track_improvement(
        baseline_metrics={"accuracy": 0.85},
        improved_metrics={"accuracy": 0.88},
        data_contribution={"contributor": W, "data_hash": data_hash("guide"), "samples": 1000},
    )
    assert delta["delta_computation"]["metrics_included"] == ["accuracy"]
    assert delta["delta_computation"]["delta_one_bps"] == 300
    assert delta["contributor_attribution"]["wallet_address"] == W_STORED
    assert delta["contributor_attribution"]["data_hash"] == data_hash("guide")
    assert "data_commitment" not in delta and "data_commitment" not in attestation  # committed: a claim's shape
    assert attestation["contribution"]["sha256"] == data_hash("guide")


def test_the_primary_metric_rule_and_aliases():
    delta, _ = PerformanceTracker().track_improvement(
        baseline_metrics={"auc": 0.70, "f1_score": 0.60, "latency_ms": 12},
        improved_metrics={"auc": 0.75, "f1_score": 0.62},
        data_contribution={"contributor_address": W, "data_hash": data_hash("rule")},
    )
    computation = delta["delta_computation"]
    assert computation["metrics_included"] == ["f1", "auroc"]  # the fixed order, aliases resolved
    assert computation["primary_metric"] == "f1" and computation["delta_one_bps"] == 200  # no accuracy: the first
    with pytest.raises(ValueError, match="no benchmark metric in both"):
        PerformanceTracker().track_improvement(
            baseline_metrics={"latency_ms": 12}, improved_metrics={"reply_rate": 0.3},
            data_contribution={"contributor_address": W, "data_hash": data_hash("none")})


def test_register_baseline_with_the_specifications_metadata(registry, baseline):
    assert baseline["alias"] == "champion" and baseline["role"] == "baseline"
    assert baseline["benchmark_metric"] == "accuracy" and baseline["benchmark_value"] == 0.85
    assert baseline["metrics"] == {"accuracy": 0.85}
    with_dataset = registry.register_baseline(model=tiny_model(), model_type=unique_token("spec"),
                                              metadata={"dataset": "customer_reviews_v1"})
    assert with_dataset["alias"] == "champion"
    assert with_dataset["tags"]["hokusai_metadata"] == '{"dataset":"customer_reviews_v1"}'
    both = registry.register_baseline(model=f"runs:/{with_dataset['run_id']}/model", model_type=unique_token("spec"),
                                      metadata={"dataset": "customer_reviews_v1", "metrics": {"accuracy": 0.8}})
    assert both["benchmark_value"] == 0.8 and both["metrics"] == {"accuracy": 0.8}
    assert registry.get_model_lineage(baseline["model_id"])["baseline"]["model_id"] == baseline["model_id"]


def test_register_improved_model_without_metrics_or_data_hash(registry, baseline):
    improved = registry.register_improved_model(
        baseline_model_id=baseline["model_id"],
        improved_model=tiny_model(),
        contributor_address=W,
        data_contribution={"samples": 1000, "quality_score": 0.95},
    )
    assert improved["model_name"] == baseline["model_name"] and improved["baseline_version"] == baseline["version"]
    assert improved["contributor_address"] == W_STORED and improved["data_hash"] is None
    assert improved["data_committed"] is False and improved["data_commitment"]["claimable"] is False
    assert improved["tags"]["data_committed"] == "false" and "data_hash" not in improved["tags"]
    assert '"quality_score":0.95' in improved["tags"]["hokusai_contribution"]
    assert '"samples":1000' in improved["tags"]["hokusai_contribution"]
    assert improved["delta_one"] is None and improved["eligible"] is False
    assert improved["alias"] == "candidate" and improved["champion_moved"] is False
    assert improved["champion_reason"] == ("not eligible: no metrics were given for the improved model: "
                                           "DeltaOne was not measured")
    impact = registry.get_contributor_impact(W)
    assert improved["model_id"] in {c["model_id"] for c in impact["contributions"]}
    assert impact["accepted_contributions"] == 0  # not committed: nothing to claim


def test_champion_follows_the_lineage_head_by_the_pipelines_rule(registry):
    import hokusai.core.improvements
    import hokusai.models.registration
    from hokusai.core.champion import place_champion

    assert hokusai.models.registration.place_champion is place_champion is hokusai.core.improvements.place_champion
    root = registry.register_baseline(model=tiny_model(), model_type=unique_token("head"),
                                      metadata={"metrics": {"accuracy": 0.80, "f1": 0.78}})
    logged = f"runs:/{root['run_id']}/model"
    first = registry.register_improved_model(
        baseline_model_id=root["model_id"], improved_model=logged, contributor_address=W,
        data_contribution={"data_hash": data_hash("head-1"), "samples": 10, "metrics": {"accuracy": 0.83}})
    assert first["alias"] == "champion" and first["champion_moved"] is True and first["delta_one"] == 3.0
    assert first["champion_reason"].startswith("eligible (") and "the head (version 1)" in first["champion_reason"]
    late = registry.register_improved_model(  # measured against version 1, which is no longer the head
        baseline_model_id=root["model_id"], improved_model=logged, contributor_address=W,
        data_contribution={"data_hash": data_hash("head-2"), "metrics": {"accuracy": 0.86}})
    assert late["alias"] == "candidate" and late["eligible"] is True
    assert "but the head is version 2" in late["champion_reason"]
    uncommitted = registry.register_improved_model(  # a real gain on the head, but no SHA-256 of its data
        baseline_model_id=first["model_id"], improved_model=logged, contributor_address=W,
        data_contribution={"data_hash": "abc123", "metrics": {"accuracy": 0.90}})
    assert uncommitted["alias"] == "candidate" and uncommitted["eligible"] is True
    assert "data is not committed" in uncommitted["champion_reason"]
    assert registry.get_alias(root["model_name"], "champion").version == first["version"]
    lineage = registry.get_model_lineage(root["model_id"])
    assert lineage["total_improvements"] == 3 and lineage["accepted_improvements"] == 2  # not the uncommitted one


def test_experiment_manager_from_the_environment_creates_and_compares(spec_env, registry, baseline, tmp_path):
    manager = ExperimentManager()
    assert manager.registry.tracking_uri == spec_env.url
    experiment_id = manager.create_improvement_experiment(
        baseline_model_id=baseline["model_id"],
        contributor_address=W,
        data_path="/path/to/contributed_data.csv",
    )
    experiment = registry.client.get_experiment(experiment_id)
    [attempt] = registry.client.search_runs([experiment_id])
    assert attempt.data.tags["contributor_wallet"] == W_STORED
    assert attempt.data.params["data_path"] == "/path/to/contributed_data.csv"
    assert attempt.data.tags["data_committed"] == "false" and "data_hash" not in attempt.data.tags
    assert attempt.data.tags["baseline_model_id"] == baseline["model_id"]
    assert experiment.name.endswith(f"-{W_STORED}-{hashlib.sha256(b'/path/to/contributed_data.csv').hexdigest()[:12]}")

    data = tmp_path / "contributed_data.csv"
    data.write_bytes(b"text,label\nhello,1\n")
    with_file = manager.create_improvement_experiment(baseline_model_id=baseline["model_id"], contributor_address=W,
                                                      data_path=str(data))
    [recorded] = registry.client.search_runs([with_file])
    assert recorded.data.tags["data_hash"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert recorded.data.params["data_bytes"] == str(len(data.read_bytes()))

    improved = registry.register_improved_model(
        baseline_model_id=baseline["model_id"], improved_model=f"runs:/{baseline['run_id']}/model",
        contributor_address=W, data_contribution={"data_hash": hashlib.sha256(data.read_bytes()).hexdigest(),
                                                  "metrics": {"accuracy": 0.88}})
    comparison = manager.compare_models(
        experiment_id=experiment_id,
        baseline_model_id=baseline["model_id"],
        improved_model_id=improved["model_id"],
    )
    assert comparison["metrics"]["accuracy"]["baseline"] == 0.85
    assert comparison["metrics"]["accuracy"]["improved"] == 0.88
    assert comparison["metrics"]["accuracy"]["delta"] == pytest.approx(0.03)
    assert comparison["metrics"]["accuracy"]["delta_bps"] == 300 and comparison["recommendation"] == "accept"
    run = registry.client.get_run(comparison["run_id"])
    assert run.info.experiment_id == experiment_id
    assert run.data.metrics["model/accuracy"] == 0.88 and run.data.metrics["model/baseline.accuracy"] == 0.85
    assert run.data.metrics["model/delta_one_bps"] == 300
    # the original forms still work
    run_id = manager.create_improvement_experiment(baseline["model_id"], {"contributor_address": W})
    assert registry.client.get_run(run_id).data.tags["contributor_wallet"] == W_STORED
    assert ExperimentManager(registry).compare_models({"accuracy": 0.8}, {"accuracy": 0.9})["delta_one_bps"] == 1000
    assert ExperimentManager(spec_env.url).registry.tracking_uri == spec_env.url


def test_tokenized_models_and_metric_logging_as_specified(registry, baseline):
    model_uri = f"runs:/{baseline['run_id']}/model"
    registered = registry.register_tokenized_model(model_uri=model_uri, model_name="MSG-AI", token_id="msg-ai",
                                                   metric_name="reply_rate", baseline_value=0.1337)
    assert registered["token_id"] == "msg-ai" and registered["metric_name"] == "reply_rate"
    found = registry.get_tokenized_model(model_name="MSG-AI", version=registered["version"])
    assert found["baseline_value"] == 0.1337
    assert registered["model_id"] in {v["model_id"] for v in registry.list_models_by_token(token_id="msg-ai")}
    updated = registry.update_model_tags(model_name="MSG-AI", version=registered["version"],
                                         tags={"benchmark_value": "0.15", "team": "messaging"})
    assert updated["benchmark_value"] == 0.15 and updated["tags"]["team"] == "messaging"

    with ExperimentManager().start_experiment(unique_token("spec-metrics")) as run:
        log_model_metrics({"accuracy": 0.91})
        log_pipeline_metrics({"duration": 12.5})
        log_usage_metrics({"reply_rate": 0.31})
    assert registry.client.get_run(run.info.run_id).data.metrics == {
        "model/accuracy": 0.91, "pipeline/duration_seconds": 12.5, "usage/reply_rate": 0.31}
    assert migrate_metric_name("f1") == "model:f1_score" and migrate_metric_name("reply_rate") == "usage:reply_rate"
