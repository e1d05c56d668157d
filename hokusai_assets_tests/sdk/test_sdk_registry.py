"""hokusai.core.ModelRegistry's SDK methods, against a real MLflow server and a local SQLite store."""

import math

import pytest

pytest.register_assert_rewrite("hokusai_assets_tests.sdk_fixtures")

from hokusai.core import ModelNotFoundError, ModelRegistry, RegistryError, validate_token_id
from hokusai.rules.delta_one import compute_delta_one
from hokusai.rules.wallets import to_checksum_address
from hokusai_assets_tests.sdk_fixtures import data_hash, five_metrics, random_wallet, tiny_model, unique_token

pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]


def baseline_for(registry, token_id, accuracy=0.80):
    return registry.register_baseline(tiny_model(), "classification", {
        "token_id": token_id, "metrics": {"accuracy": accuracy, "f1": accuracy - 0.02},
        "benchmark_metric": "accuracy", "data_hash": data_hash(token_id),
    })


def logged(version):
    """A version's model by URI: registering it again logs nothing (saves ~0.5 s a time on the server)."""
    return f"runs:/{version['run_id']}/model"


def improve(registry, model_id, wallet, accuracy, seed, model=None):
    return registry.register_improved_model(model_id, model if model is not None else tiny_model(), wallet,
                                            {"data_hash": data_hash(seed), "metrics": {"accuracy": accuracy},
                                             "contributed_samples": 120})


def test_register_baseline_returns_its_model_id_and_becomes_champion(registry):
    token = unique_token("base")
    baseline = baseline_for(registry, token)
    assert baseline["model_id"] == f"hokusai-{token}/1"
    assert (baseline["name"], baseline["version"]) == (f"hokusai-{token}", 1)
    assert len(baseline["run_id"]) == 32
    assert baseline["role"] == "baseline" and baseline["alias"] == "champion"
    assert baseline["token_id"] == token and baseline["benchmark_metric"] == "accuracy"
    assert baseline["benchmark_value"] == 0.80
    assert baseline["weights_commitment"].startswith("0x")
    assert registry.get_alias(baseline["name"], "champion").version == 1
    # the weights commitment recorded for it lets the pipeline's verified loader load it
    loaded = registry.load_verified_model(registry.get_version(baseline["name"], 1))
    assert loaded.predict([[3.0]])[0] == 1


def test_improved_model_is_a_new_version_of_the_same_registered_model(registry):
    token = unique_token("improve")
    baseline = baseline_for(registry, token)
    wallet = random_wallet()
    improved = improve(registry, baseline["model_id"], wallet, 0.83, "improve")
    assert improved["model_name"] == baseline["model_name"] and improved["version"] == 2
    assert improved["model_id"] == f"hokusai-{token}/2"
    assert improved["baseline_model_id"] == baseline["model_id"] and improved["baseline_version"] == 1
    assert improved["contributor_address"] == wallet and improved["data_hash"] == data_hash("improve")
    assert improved["delta_one_bps"] == 300 and improved["delta_one"] == 3.0 and improved["eligible"] is True
    assert improved["alias"] == "champion" and improved["champion_moved"] is True
    # the pipeline's tag names, so the pipeline's readers and the SDK's agree
    tags = improved["tags"]
    assert tags["hokusai_token_id"] == token and tags["benchmark_metric"] == "accuracy"
    assert float(tags["benchmark_value"]) == 0.83 and tags["benchmark_score_bps"] == "8300"
    assert tags["contributor_wallet"] == wallet and tags["delta_one_bps"] == "300" and tags["eligible"] == "true"
    assert registry.client.get_run(improved["run_id"]).data.metrics["model/accuracy"] == 0.83


def test_lineage_after_three_improvements(registry):
    token = unique_token("lineage")
    baseline = baseline_for(registry, token)
    alice, bob = random_wallet(), random_wallet()
    first = improve(registry, baseline["model_id"], alice, 0.83, 1)          # +300, champion
    second = improve(registry, first["model_id"], bob, 0.8350, 2, logged(first))   # +50, below the minimum
    third = improve(registry, first["model_id"], alice, 0.86, 3, logged(first))    # +300 over the first
    lineage = registry.get_model_lineage(third["model_id"])
    assert [step["version"] for step in lineage["versions"]] == [1, 2, 3, 4]
    assert lineage["baseline"]["model_id"] == baseline["model_id"]
    assert [s["model_id"] for s in lineage["improvements"]] == [v["model_id"] for v in (first, second, third)]
    assert [s["contributor_address"] for s in lineage["improvements"]] == [alice, bob, alice]
    assert [s["data_hash"] for s in lineage["improvements"]] == [data_hash(1), data_hash(2), data_hash(3)]
    assert [s["delta_one_bps"] for s in lineage["improvements"]] == [300, 50, 300]
    assert [s["eligible"] for s in lineage["improvements"]] == [True, False, True]
    assert [s["baseline_version"] for s in lineage["improvements"]] == [1, 2, 2]
    assert [s["metrics"]["accuracy"] for s in lineage["versions"]] == [0.80, 0.83, 0.835, 0.86]
    assert lineage["baseline"]["metrics"] == {"accuracy": 0.80, "f1": pytest.approx(0.78)}
    assert lineage["champion_version"] == 4 and "champion" in lineage["versions"][3]["aliases"]
    assert "candidate" in lineage["versions"][2]["aliases"]
    assert lineage["contributors"] == sorted([alice, bob])
    assert (lineage["total_improvements"], lineage["accepted_improvements"]) == (3, 2)
    assert lineage["total_delta_one_bps"] == 600
    # any member, or the bare model name (the champion's lineage), reads the same lineage
    for model_id in (baseline["model_id"], second["model_id"], baseline["model_name"]):
        assert [s["version"] for s in registry.get_model_lineage(model_id)["versions"]] == [1, 2, 3, 4]


def test_a_second_baseline_starts_its_own_lineage(registry):
    token = unique_token("rebase")
    first = baseline_for(registry, token)
    improve(registry, first["model_id"], random_wallet(), 0.85, "a", logged(first))
    second = baseline_for(registry, token, accuracy=0.9)
    assert second["version"] == 3 and second["alias"] is None  # the champion stays where it was
    assert [s["version"] for s in registry.get_model_lineage(second["model_id"])["versions"]] == [3]
    assert [s["version"] for s in registry.get_model_lineage(first["model_id"])["versions"]] == [1, 2]


def test_tokenized_registration_is_idempotent_per_run_and_token(registry):
    token = unique_token("tok")
    baseline = baseline_for(registry, token)
    uri = f"runs:/{baseline['run_id']}/model"
    name = f"tokenized-{token}"
    first = registry.register_tokenized_model(uri, name, token, "accuracy", 0.8, {"owner": "team-a"})
    assert first["created"] is True and first["model_id"] == f"{name}/1"
    assert first["tags"]["hokusai_token_id"] == token and first["tags"]["benchmark_metric"] == "accuracy"
    assert first["tags"]["benchmark_value"] == "0.8" and first["tags"]["owner"] == "team-a"
    assert first["run_id"] == baseline["run_id"] and first["weights_commitment"] == baseline["weights_commitment"]
    again = registry.register_tokenized_model(uri, name, token, "accuracy", 0.8)
    assert again["created"] is False and again["version"] == 1
    assert len(registry.search_versions(f"name = '{name}'")) == 1
    other_token = unique_token("tok")
    other = registry.register_tokenized_model(uri, name, other_token, "accuracy", 0.8)
    assert other["created"] is True and other["version"] == 2
    fetched = registry.get_tokenized_model(name, 1)
    assert (fetched["token_id"], fetched["metric_name"], fetched["baseline_value"]) == (token, "accuracy", 0.8)
    listed = registry.list_models_by_token(token)
    assert [m["model_id"] for m in listed] == [baseline["model_id"], f"{name}/1"]
    assert [m["model_id"] for m in registry.list_models_by_token(other_token)] == [f"{name}/2"]
    assert registry.list_models_by_token(unique_token("nobody")) == []


def test_tokenized_registration_accepts_numeric_strings_and_logged_model_uris(registry):
    token = unique_token("uri")
    baseline = baseline_for(registry, token)
    logged_model_uri = registry.client.get_model_version(baseline["name"], "1").source
    registered = registry.register_tokenized_model(logged_model_uri, f"uri-{token}", token, "model:auroc", "0.91")
    assert registered["created"] is True and registered["benchmark_value"] == 0.91
    assert registered["benchmark_metric"] == "model:auroc"
    again = registry.register_tokenized_model(f"runs:/{baseline['run_id']}/model", f"uri-{token}", token,
                                              "model:auroc", 0.91)
    assert again["created"] is False and again["version"] == registered["version"]


def test_update_model_tags(registry):
    token = unique_token("tags")
    baseline = baseline_for(registry, token)
    updated = registry.update_model_tags(baseline["name"], 1, {"benchmark_value": 0.81, "stage_note": "audited"})
    assert updated["benchmark_value"] == 0.81 and updated["tags"]["stage_note"] == "audited"
    assert registry.get_tokenized_model(baseline["name"], "1")["tags"]["stage_note"] == "audited"
    with pytest.raises(ValueError, match="must be a number"):
        registry.update_model_tags(baseline["name"], 1, {"benchmark_value": "high"})
    with pytest.raises(ValueError, match="token id"):
        registry.update_model_tags(baseline["name"], 1, {"hokusai_token_id": "Not_A_Token"})
    with pytest.raises(ValueError, match="EIP-55"):
        registry.update_model_tags(baseline["name"], 1,
                                   {"contributor_wallet": "0x52908400098527886e0F7030069857D2E4169EE7"})
    assert registry.get_tokenized_model(baseline["name"], 1)["benchmark_value"] == 0.81
    with pytest.raises(ModelNotFoundError):
        registry.update_model_tags(baseline["name"], 99, {"x": "y"})


def test_contributor_impact_across_two_tokens(registry):
    wallet = random_wallet()
    token_a, token_b = unique_token("impact-a"), unique_token("impact-b")
    base_a, base_b = baseline_for(registry, token_a, 0.70), baseline_for(registry, token_b, 0.90)
    improve(registry, base_a["model_id"], wallet, 0.75, "a1", logged(base_a))                       # +500
    improve(registry, base_b["model_id"], to_checksum_address(wallet), 0.92, "b1", logged(base_b))  # +200
    improve(registry, base_b["model_id"], wallet, 0.89, "b2", logged(base_b))                       # -100
    improve(registry, base_b["model_id"], random_wallet(), 0.95, "someone-else", logged(base_b))
    impact = registry.get_contributor_impact(to_checksum_address(wallet))
    assert impact["address"] == wallet and impact["checksum_address"] == to_checksum_address(wallet)
    assert (impact["total_contributions"], impact["accepted_contributions"]) == (3, 2)
    assert impact["total_delta_one_bps"] == 700 and impact["total_delta_one"] == 7.0
    assert impact["net_delta_one_bps"] == 600
    assert impact["total_models_improved"] == 2 and impact["tokens"] == sorted([token_a, token_b])
    per_model = {m["token_id"]: m for m in impact["models"]}
    assert (per_model[token_a]["contributions"], per_model[token_a]["delta_one_bps"]) == (1, 500)
    assert (per_model[token_b]["contributions"], per_model[token_b]["accepted_contributions"]) == (2, 1)
    assert per_model[token_b]["delta_one_bps"] == 200
    assert {c["data_hash"] for c in impact["contributions"]} == {data_hash("a1"), data_hash("b1"), data_hash("b2")}
    assert impact["first_contribution"] <= impact["last_contribution"]
    nobody = registry.get_contributor_impact(random_wallet())
    assert nobody["total_contributions"] == 0 and nobody["models"] == [] and nobody["first_contribution"] is None


def test_improvement_from_a_delta_one_document_and_a_logged_model_uri(registry):
    from hokusai.rules.attestation import attestation_hash
    from hokusai.tracking import PerformanceTracker

    token = unique_token("doc")
    baseline = baseline_for(registry, token)
    wallet = random_wallet()
    delta, attestation = PerformanceTracker().track_improvement(
        five_metrics(0.80), five_metrics(0.84),
        {"token_id": token, "contributor_address": wallet, "data_hash": data_hash("doc")})
    improved = registry.register_improved_model(
        baseline["model_id"], f"runs:/{baseline['run_id']}/model", wallet,
        {"data_hash": data_hash("doc"), "delta_one": delta, "attestation_hash": attestation_hash(attestation)})
    assert improved["delta_one_bps"] == delta["delta_computation"]["delta_one_bps"] == 400
    assert improved["tags"]["attestation_hash"] == attestation_hash(attestation)
    assert improved["metrics"]["f1"] == five_metrics(0.84)["f1"]


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("token_id", ["", "UPPER", "-lead", "trail-", "a" * 65, "under_score", "sp ace", None])
def test_bad_token_ids_are_refused(registry, token_id):
    with pytest.raises(ValueError, match="token id"):
        registry.register_tokenized_model("runs:/0123/model", "some-model", token_id, "accuracy", 0.5)
    if token_id is not None:
        with pytest.raises(ValueError, match="token id"):
            registry.list_models_by_token(token_id)


def test_validate_token_id_is_public_and_the_one_rule():
    import hokusai.rules.token_ids

    assert validate_token_id is hokusai.rules.token_ids.validate_token_id is ModelRegistry.validate_token_id
    assert validate_token_id("a" * 64) == "a" * 64


@pytest.mark.parametrize("address", [
    "0x123", "52908400098527886e0f7030069857d2e4169ee7", "0xZZ08400098527886e0f7030069857d2e4169ee7",
    "0x52908400098527886e0F7030069857D2E4169EE7",  # mixed case with a wrong checksum (one letter)
    "0x" + "a" * 41, 1234,
])
def test_bad_contributor_addresses_are_refused(registry, address):
    with pytest.raises(ValueError, match="wallet address"):
        registry.get_contributor_impact(address)
    with pytest.raises(ValueError, match="wallet address"):
        registry.register_improved_model(_shared_baseline(registry), tiny_model(), address,
                                         {"data_hash": data_hash(0), "metrics": {"accuracy": 0.9}})


_BASELINES = {}


def _shared_baseline(registry):
    if registry.tracking_uri not in _BASELINES:
        _BASELINES[registry.tracking_uri] = baseline_for(registry, unique_token("shared"))["model_id"]
    return _BASELINES[registry.tracking_uri]


@pytest.mark.parametrize("value", ["high", "", None, True, math.nan, math.inf, [0.5], {"v": 1}])
def test_non_numeric_baseline_values_are_refused(registry, value):
    with pytest.raises(ValueError, match="baseline_value must be a"):
        registry.register_tokenized_model("runs:/0123/model", "some-model", "good-token", "accuracy", value)


def test_unknown_models_raise_model_not_found(registry):
    model_id = _shared_baseline(registry)
    name = model_id.split("/")[0]
    with pytest.raises(ModelNotFoundError):
        registry.get_tokenized_model("no-such-model", 1)
    with pytest.raises(ModelNotFoundError):
        registry.get_tokenized_model(name, 999)
    with pytest.raises(ModelNotFoundError):
        registry.get_model_lineage("no-such-model/1")
    with pytest.raises(ModelNotFoundError):
        registry.get_model_lineage(f"{name}/999")
    with pytest.raises(ModelNotFoundError):
        registry.register_improved_model("no-such-model/1", tiny_model(), random_wallet(), {"data_hash": data_hash(1)})
    with pytest.raises(ModelNotFoundError):
        registry.register_tokenized_model("runs:/0123456789abcdef0123456789abcdef/model", "m", "good-token",
                                          "accuracy", 0.5)
    with pytest.raises(ModelNotFoundError):
        registry.register_tokenized_model("models:/no-such-model/1", "m", "good-token", "accuracy", 0.5)
    assert issubclass(ModelNotFoundError, LookupError) and issubclass(ModelNotFoundError, RegistryError)


def test_other_input_errors_say_what_to_fix(registry):
    model_id = _shared_baseline(registry)
    wallet = random_wallet()
    # (a data hash that is no SHA-256 is not an error: the version says its data is not committed,
    # test_sdk_specification.py)
    with pytest.raises(ValueError, match="must include the benchmark metric"):
        registry.register_improved_model(model_id, tiny_model(), wallet,
                                         {"data_hash": data_hash(1), "metrics": {"f1": 0.9}})
    with pytest.raises(ValueError, match="more than one contributor"):
        registry.register_improved_model(model_id, tiny_model(), wallet,
                                         {"contributor": random_wallet(), "metrics": {"accuracy": 0.9}})
    with pytest.raises(ValueError, match="must be finite"):
        registry.register_improved_model(model_id, tiny_model(), wallet,
                                         {"data_hash": data_hash(1), "metrics": {"accuracy": math.nan}})
    with pytest.raises(ValueError, match="no version"):
        registry.register_improved_model(model_id.split("/")[0], tiny_model(), wallet, {"data_hash": data_hash(1)})
    with pytest.raises(ValueError, match="metric name"):
        registry.register_tokenized_model("runs:/0123/model", "some-model", "good-token", "Accuracy!", 0.5)
    with pytest.raises(ValueError, match="must not set"):
        registry.register_tokenized_model("runs:/0123/model", "some-model", "good-token", "accuracy", 0.5,
                                          {"benchmark_value": 0.7})
    with pytest.raises(ValueError, match="model name"):
        registry.register_tokenized_model("runs:/0123/model", "bad/name", "good-token", "accuracy", 0.5)
    with pytest.raises(ValueError, match="model_type"):
        registry.register_baseline(tiny_model(), "Not A Type", {})
    with pytest.raises(ValueError, match="must not set"):
        registry.register_baseline(tiny_model(), "classification", {"tags": {"baseline_version": 1}})
    with pytest.raises(ValueError, match="positive integer"):
        registry.get_tokenized_model(model_id.split("/")[0], "latest")
    plain = registry.register_baseline(tiny_model(), "untokenized", {"model_name": unique_token("plain")})
    with pytest.raises(RegistryError, match="not a tokenized model"):
        registry.get_tokenized_model(plain["name"], plain["version"])


# -- local stores and the DeltaOne definition (no backend needed) ------------------------------
def test_a_bare_db_path_is_a_local_sqlite_store_with_artifacts_beside_it(tmp_path, local_store):
    registry = ModelRegistry(str(tmp_path / "store" / "mlflow.db"), cache_dir=local_store.cache_dir)
    assert registry.tracking_uri == f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    assert registry.artifact_root == (tmp_path / "store" / "artifacts").as_uri()
    baseline = registry.register_baseline(tiny_model(), "classification", {"token_id": "local-token"})
    assert baseline["model_id"] == "hokusai-local-token/1"
    assert any((tmp_path / "store" / "artifacts").rglob("model.pkl"))


@pytest.mark.parametrize("before,after", [(0.8, 0.83), (0.81234, 0.81236), (0.5, 0.49995), (0.91, 0.91)])
def test_sdk_delta_one_is_the_pipeline_definition(before, after):
    from hokusai.core.improvements import delta_one_bps

    document = compute_delta_one(
        baseline_metrics={m: before for m in ("accuracy", "precision", "recall", "f1", "auroc")},
        new_metrics={m: after for m in ("accuracy", "precision", "recall", "f1", "auroc")},
        primary_metric="accuracy", min_improvement_bps=100, baseline_model={}, new_model={}, contributor={},
        evaluation={}, pipeline={})
    assert delta_one_bps(before, after) == document["delta_computation"]["delta_one_bps"]
