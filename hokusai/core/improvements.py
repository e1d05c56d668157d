"""Baselines and improvements: how the SDK registers a model and the contributions that improve it.

An improvement is a new version **of its baseline's registered model**, tagged with
the pipeline's tags (contributor wallet, data hash, DeltaOne, eligibility, the
baseline version it was measured against), so ``get_model_lineage`` and
``get_contributor_impact`` read SDK and pipeline versions alike. DeltaOne is the
pipeline's ``hokusai-delta-one-v1`` (``hokusai.delta_one``): the benchmark metric's
``new_bps - baseline_bps``, each score rounded by ``score_bps``; eligibility is its
``eligibility_verdict`` (without a bootstrap interval unless the contribution
carries a DeltaOne document that has one). The ``champion`` alias moves as in the
pipeline: only for an eligible gain, and only if the baseline is still champion;
otherwise the new version becomes ``candidate``.
"""

from __future__ import annotations

import re
from typing import Any

from hokusai.core.model_ids import parse_model_id, validate_model_name
from hokusai.core.client import RegistryClient
from hokusai.core.entities import LoggedModelRef
from hokusai.core.tags import (
    ATTESTATION_HASH_TAG, BASELINE_VERSION_TAG, BENCHMARK_METRIC_TAG, BENCHMARK_SCORE_BPS_TAG, BENCHMARK_VALUE_TAG,
    CONTRIBUTOR_WALLET_TAG, DATA_HASH_TAG, DELTA_ONE_BPS_TAG, ELIGIBLE_TAG, MODEL_TYPE_TAG, PARTITION_KEY_TAG,
    METRICS_TAG, ROLE_BASELINE, ROLE_IMPROVEMENT, ROLE_TAG, TOKEN_ID_TAG, TRAINING_DATA_TAG, data_hash_value,
    integer_value, metrics_tag_value, normalize_tags, stored_float,
)
from hokusai.core.versions import logged_ref, version_view
from hokusai.delta_one import eligibility_verdict, score_bps
from hokusai.ids import validate_token_id
from hokusai.metric_names import metric_value, to_mlflow_key, validate_metric_name
from hokusai.wallets import validate_wallet_address

DEFAULT_MIN_IMPROVEMENT_BPS = 100  # a token spec's default: one DeltaOne
_MODEL_TYPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PROTECTED_TAGS = {ROLE_TAG, BASELINE_VERSION_TAG, CONTRIBUTOR_WALLET_TAG, DELTA_ONE_BPS_TAG, ELIGIBLE_TAG}


def delta_one_bps(baseline_value: float, new_value: float) -> int:
    """DeltaOne in bps of one metric, exactly as ``compute_delta_one`` computes the primary metric's."""
    return score_bps(new_value) - score_bps(baseline_value)


def register_baseline(registry: RegistryClient, model: Any, model_type: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Log and register a baseline; it becomes ``champion`` if its model has none yet.

    ``metadata`` (all optional): ``token_id``; ``model_name`` (default
    ``hokusai-{token_id}``, else ``hokusai-{model_type}``); ``metrics`` (its benchmark
    metrics, logged on the run); ``benchmark_metric`` and ``benchmark_value`` (default:
    that metric in ``metrics``); ``data_hash`` (SHA-256 of its training data);
    ``experiment_name``; ``params`` (logged on the run); ``tags`` (extra version tags).
    """
    if not isinstance(model_type, str) or not _MODEL_TYPE.fullmatch(model_type):
        raise ValueError(f"model_type {model_type!r} must be 1-64 lowercase letters, digits, '_' or '-'")
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    token_id = metadata.get("token_id")
    if token_id is not None:
        validate_token_id(token_id)
    name = validate_model_name(metadata.get("model_name") or f"hokusai-{token_id or model_type}")
    metrics = _model_metrics(metadata.get("metrics") or {})
    benchmark_metric = metadata.get("benchmark_metric")
    benchmark_value = metadata.get("benchmark_value")
    if benchmark_metric is not None and benchmark_value is None:
        benchmark_value = metrics.get(_plain(validate_metric_name(benchmark_metric)))
    if benchmark_value is not None and benchmark_metric is None:
        raise ValueError("benchmark_value needs benchmark_metric: which metric is it?")
    extra = dict(metadata.get("tags") or {})
    if set(extra) & _PROTECTED_TAGS:
        raise ValueError(f"metadata tags must not set {sorted(set(extra) & _PROTECTED_TAGS)}")
    tags = {**extra, ROLE_TAG: ROLE_BASELINE, MODEL_TYPE_TAG: model_type}
    tags.update({key: value for key, value in ((TOKEN_ID_TAG, token_id), (BENCHMARK_METRIC_TAG, benchmark_metric),
                                                (BENCHMARK_VALUE_TAG, benchmark_value)) if value is not None})
    if metadata.get("data_hash") is not None:
        tags[TRAINING_DATA_TAG] = data_hash_value(metadata["data_hash"])
    if metrics:
        tags[METRICS_TAG] = metrics_tag_value(metrics)
    tags = normalize_tags(tags)
    experiment = metadata.get("experiment_name") or (f"hokusai-{token_id}" if token_id else name)
    run_tags = {ROLE_TAG: ROLE_BASELINE, **({TOKEN_ID_TAG: token_id} if token_id else {})}
    params = {"model_type": model_type, "role": ROLE_BASELINE, **(metadata.get("params") or {})}
    logged = _logged(registry, model, experiment, f"{name}-baseline", params, run_tags)
    if metrics and not isinstance(model, str):  # a model given by URI: its run is not ours to write to
        registry.log_run_metrics(logged.run_id, _metric_keys(metrics))
    registered = registry.register_version(logged, name, tags)
    alias = None
    if registry.get_alias(name, CHAMPION_ALIAS) is None:
        registry.set_alias(name, CHAMPION_ALIAS, registered.version)
        alias = CHAMPION_ALIAS
    return {**version_view(registry.require_version(name, registered.version)), "alias": alias, "metrics": metrics}


def register_improved_model(registry: RegistryClient, baseline_model_id: str, improved_model: Any,
                            contributor_address: str, data_contribution: dict[str, Any]) -> dict[str, Any]:
    """Register ``improved_model`` as the next version of the baseline's model, with its DeltaOne.

    ``data_contribution``: ``data_hash`` (SHA-256 of the contributed data, required)
    and either ``metrics`` (the improved model's benchmark metrics; the baseline's
    value comes from ``baseline_metrics`` if given, else from its ``benchmark_value``
    tag) or ``delta_one`` (the DeltaOne document ``PerformanceTracker`` returned).
    Optional: ``min_improvement_bps`` (default 100), ``sample_size`` and
    ``min_samples`` (the benchmark rows measured and the token's minimum),
    ``benchmark_metric`` (when the baseline has none), ``contributed_samples``,
    ``attestation_hash``, ``partition_key``, ``tags``.
    """
    name, version = parse_model_id(baseline_model_id)
    baseline = registry.require_version(name, version)
    wallet = validate_wallet_address(contributor_address)
    if not isinstance(data_contribution, dict):
        raise ValueError(f"data_contribution must be a dict, got {type(data_contribution).__name__}")
    data_hash = data_hash_value(data_contribution.get("data_hash"))
    baseline_tags = dict(baseline.tags or {})
    token_id = baseline_tags.get(TOKEN_ID_TAG)
    measured = _measured_improvement(baseline_tags, wallet, data_hash, data_contribution)
    extra = dict(data_contribution.get("tags") or {})
    if set(extra) & _PROTECTED_TAGS:
        raise ValueError(f"data_contribution tags must not set {sorted(set(extra) & _PROTECTED_TAGS)}")
    tags = normalize_tags({
        **extra,
        **({TOKEN_ID_TAG: token_id} if token_id else {}),
        ROLE_TAG: ROLE_IMPROVEMENT,
        BENCHMARK_METRIC_TAG: measured["metric"],
        BENCHMARK_VALUE_TAG: measured["new_value"],
        BENCHMARK_SCORE_BPS_TAG: score_bps(measured["new_value"]),
        CONTRIBUTOR_WALLET_TAG: wallet,
        DATA_HASH_TAG: data_hash,
        DELTA_ONE_BPS_TAG: measured["delta_one_bps"],
        ELIGIBLE_TAG: str(measured["eligible"]).lower(),
        BASELINE_VERSION_TAG: int(baseline.version),
        METRICS_TAG: metrics_tag_value(measured["metrics"]),
        **{tag: data_contribution[key] for key, tag in (("attestation_hash", ATTESTATION_HASH_TAG),
                                                         ("partition_key", PARTITION_KEY_TAG))
           if data_contribution.get(key) is not None},
    })
    params = {"baseline_model_id": f"{name}/{baseline.version}", "contributor_address": wallet,
              "data_hash": data_hash, "contributed_samples": data_contribution.get("contributed_samples", "")}
    run_tags = {ROLE_TAG: "candidate", **({TOKEN_ID_TAG: token_id} if token_id else {})}
    experiment = None if isinstance(improved_model, str) else _experiment_of(registry, baseline, token_id)
    logged = _logged(registry, improved_model, experiment, f"{name}-improvement-{wallet[:10]}", params, run_tags)
    if not isinstance(improved_model, str):  # a model given by URI: its run is not ours to write to
        registry.log_run_metrics(logged.run_id, {**_metric_keys(measured["metrics"]),
                                                 to_mlflow_key("model:delta_one_bps"): measured["delta_one_bps"]})
    registered = registry.register_version(logged, name, tags)
    moved = measured["eligible"] and registry.move_champion_if_unchanged(name, registered.version,
                                                                        int(baseline.version))
    if not moved:
        registry.set_alias(name, CANDIDATE_ALIAS, registered.version)
    return {
        **version_view(registry.require_version(name, registered.version)),
        "baseline_model_id": f"{name}/{baseline.version}",
        "alias": CHAMPION_ALIAS if moved else CANDIDATE_ALIAS,
        "champion_moved": bool(moved),
        "eligibility_reason": measured["reason"],
        "metrics": measured["metrics"],
        "delta_one": measured["delta_one_bps"] / 100,
    }


def _measured_improvement(baseline_tags: dict[str, str], wallet: str, data_hash: str,
                          contribution: dict[str, Any]) -> dict[str, Any]:
    """Benchmark metric, values, DeltaOne and verdict of an improvement, from metrics or a DeltaOne document."""
    document = contribution.get("delta_one")
    if document is not None:
        computation, attribution = document["delta_computation"], document["contributor_attribution"]
        if attribution["wallet_address"] != wallet or attribution["data_hash"] != data_hash:
            raise ValueError("the DeltaOne document names another contributor or data hash than this registration")
        metric = computation["primary_metric"]
        return {"metric": metric, "new_value": computation["metric_deltas"][metric]["new_value"],
                "metrics": {m: row["new_value"] for m, row in computation["metric_deltas"].items()},
                "delta_one_bps": computation["delta_one_bps"], "eligible": document["eligibility"]["eligible"],
                "reason": document["eligibility"]["reason"]}
    metric = baseline_tags.get(BENCHMARK_METRIC_TAG) or contribution.get("benchmark_metric")
    if metric is None:
        raise ValueError("the baseline has no benchmark_metric tag: pass data_contribution['benchmark_metric']")
    metrics = _model_metrics(contribution.get("metrics") or {})
    plain = _plain(validate_metric_name(metric))
    if plain not in metrics:
        raise ValueError(f"data_contribution['metrics'] must include the benchmark metric {metric!r} "
                         "(or pass 'delta_one' from PerformanceTracker.track_improvement)")
    baseline_metrics = _model_metrics(contribution.get("baseline_metrics") or {})
    baseline_value = baseline_metrics.get(plain, stored_float(baseline_tags, BENCHMARK_VALUE_TAG))
    if baseline_value is None:
        raise ValueError(f"the baseline has no benchmark_value for {metric!r}: "
                         "pass data_contribution['baseline_metrics']")
    minimum = integer_value(contribution.get("min_improvement_bps", DEFAULT_MIN_IMPROVEMENT_BPS), "min_improvement_bps")
    delta = delta_one_bps(baseline_value, metrics[plain])
    eligible, reason = eligibility_verdict(delta, minimum, None, contribution.get("sample_size"),
                                           contribution.get("min_samples"))
    return {"metric": metric, "new_value": metrics[plain], "metrics": metrics, "delta_one_bps": delta,
            "eligible": eligible, "reason": reason}


def _logged(registry: RegistryClient, model: Any, experiment: str | None, run_name: str, params: dict[str, Any],
            run_tags: dict[str, str]) -> LoggedModelRef:
    """A model object is logged in a new run; a string is the URI of a model already logged."""
    if isinstance(model, str):
        return logged_ref(registry, model)
    if model is None:
        raise ValueError("model is required: a fitted model, or the URI of a logged one")
    return registry.log_model_run(model, experiment_name=experiment, run_name=run_name, params=params,
                                  run_tags=run_tags)


def _experiment_of(registry: RegistryClient, baseline: Any, token_id: str | None) -> str:
    """The baseline run's experiment, so a lineage's runs sit together."""
    if baseline.run_id:
        run = registry.client.get_run(baseline.run_id)
        return registry.client.get_experiment(run.info.experiment_id).name
    return f"hokusai-{token_id or baseline.name}"


def _model_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Benchmark metrics by plain name (``model:accuracy`` and ``accuracy`` are the same), values checked."""
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a dict, got {type(metrics).__name__}")
    return {_plain(validate_metric_name(name)): metric_value(name, value) for name, value in metrics.items()}


def _plain(name: str) -> str:
    return name[len("model:"):] if name.startswith("model:") else name


def _metric_keys(metrics: dict[str, float]) -> dict[str, float]:
    """MLflow keys for a version's metrics: plain names are model metrics (``model/accuracy``)."""
    return {to_mlflow_key(name if ":" in name else f"model:{name}"): value for name, value in metrics.items()}
