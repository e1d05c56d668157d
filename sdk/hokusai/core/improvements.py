"""Baselines and improvements: how the SDK registers a model and the contributions that improve it.

An improvement is a new version **of its baseline's registered model**, tagged with
the pipeline's tags (contributor wallet, data hash, DeltaOne, eligibility, the
baseline version it was measured against), so ``get_model_lineage`` and
``get_contributor_impact`` read SDK and pipeline versions alike. DeltaOne is the
pipeline's ``hokusai-delta-one-v1`` (``hokusai.rules.delta_one``): the primary metric's
``new_bps - baseline_bps``, each score rounded by ``score_bps``; the primary metric is
the baseline's ``benchmark_metric``, else the rule of ``primary_metric_for`` (accuracy
when measured, else the first measured of precision, recall, f1, auroc). Eligibility is
``eligibility_verdict``. The ``champion`` alias follows the lineage head by the
pipeline's own rule, ``hokusai.core.champion``: an eligible gain measured against the
current champion advances it; anything else is ``candidate``, and the result says why.
A contribution without a SHA-256 of its data is registered as **not committed**
(``hokusai.core.contribution``): no ``data_hash`` tag, ``data_committed=false``.
"""

from __future__ import annotations

import re
from typing import Any

from hokusai.core.champion import head_verdict, place_champion
from hokusai.core.client import RegistryClient
from hokusai.core.contribution import DataContribution, read_contribution
from hokusai.core.entities import LoggedModelRef
from hokusai.core.model_ids import parse_model_id, validate_model_name
from hokusai.core.tags import (
    ATTESTATION_HASH_TAG, BASELINE_VERSION_TAG, BENCHMARK_METRIC_TAG, BENCHMARK_SCORE_BPS_TAG, BENCHMARK_VALUE_TAG,
    CHAMPION_ALIAS, CONTRIBUTION_TAG, CONTRIBUTOR_WALLET_TAG, DATA_COMMITTED_TAG, DATA_HASH_TAG, DELTA_ONE_BPS_TAG,
    ELIGIBLE_TAG, METADATA_TAG, METRICS_TAG, MODEL_TYPE_TAG, PARTITION_KEY_TAG, ROLE_BASELINE, ROLE_IMPROVEMENT,
    ROLE_TAG, TOKEN_ID_TAG, TRAINING_DATA_TAG, data_hash_value, integer_value, json_tag_value, metrics_tag_value,
    normalize_tags, stored_float, stored_metrics,
)
from hokusai.core.versions import logged_ref, version_view
from hokusai.rules.delta_one import eligibility_verdict, primary_metric_for, score_bps
from hokusai.rules.token_ids import token_experiment_name, token_model_name, validate_token_id
from hokusai.rules.metric_names import (
    BENCHMARK_METRICS, benchmark_metric_name, metric_value, plain_metric_name, to_mlflow_key, validate_metric_name,
)

DEFAULT_MIN_IMPROVEMENT_BPS = 100  # a token spec's default: one DeltaOne
NOT_MEASURED = "no metrics were given for the improved model: DeltaOne was not measured"
_MODEL_TYPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PROTECTED_TAGS = {ROLE_TAG, BASELINE_VERSION_TAG, CONTRIBUTOR_WALLET_TAG, DELTA_ONE_BPS_TAG, ELIGIBLE_TAG,
                   DATA_COMMITTED_TAG}
_BASELINE_KEYS = {"token_id", "model_name", "metrics", "benchmark_metric", "benchmark_value", "data_hash",
                  "experiment_name", "params", "tags"}
_IMPROVEMENT_KEYS = frozenset({"metrics", "baseline_metrics", "delta_one", "min_improvement_bps", "sample_size",
                               "min_samples", "benchmark_metric", "attestation_hash", "partition_key", "tags"})


def delta_one_bps(baseline_value: float, new_value: float) -> int:
    """DeltaOne in bps of one metric, exactly as ``compute_delta_one`` computes the primary metric's."""
    return score_bps(new_value) - score_bps(baseline_value)


def register_baseline(registry: RegistryClient, model: Any, model_type: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Log and register a baseline; it becomes ``champion`` if its model has none yet.

    ``metadata`` (all optional): ``token_id``; ``model_name`` (default
    ``hokusai-{token_id}``, else ``hokusai-{model_type}``); ``metrics`` (its benchmark
    metrics, logged on the run; benchmark metrics given at the top level, e.g.
    ``{"accuracy": 0.85}``, count too); ``benchmark_metric`` (default: by the primary
    metric rule over those metrics) and ``benchmark_value`` (default: that metric's
    value); ``data_hash`` (SHA-256 of its training data); ``experiment_name``;
    ``params`` (logged on the run); ``tags`` (extra version tags). Any other key (e.g.
    ``dataset``) is kept as metadata: a run param and the ``hokusai_metadata`` tag.
    """
    if not isinstance(model_type, str) or not _MODEL_TYPE.fullmatch(model_type):
        raise ValueError(f"model_type {model_type!r} must be 1-64 lowercase letters, digits, '_' or '-'")
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    token_id = metadata.get("token_id")
    if token_id is not None:
        validate_token_id(token_id)
    name = validate_model_name(metadata.get("model_name") or token_model_name(token_id or model_type))
    top_level = {key: value for key, value in metadata.items()
                 if key not in _BASELINE_KEYS and benchmark_metric_name(key) is not None}
    others = {key: value for key, value in metadata.items() if key not in _BASELINE_KEYS and key not in top_level}
    metrics = _model_metrics({**top_level, **(metadata.get("metrics") or {})})
    benchmark_metric = metadata.get("benchmark_metric")
    benchmark_value = metadata.get("benchmark_value")
    if benchmark_metric is None and benchmark_value is None:
        measured = [m for m in BENCHMARK_METRICS if m in metrics]
        benchmark_metric = primary_metric_for(measured) if measured else None
    if benchmark_metric is not None and benchmark_value is None:
        benchmark_value = metrics.get(plain_metric_name(validate_metric_name(benchmark_metric)))
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
    if others:
        tags[METADATA_TAG] = json_tag_value(others)
    tags = normalize_tags(tags)
    experiment = metadata.get("experiment_name") or (token_experiment_name(token_id) if token_id else name)
    run_tags = {ROLE_TAG: ROLE_BASELINE, **({TOKEN_ID_TAG: token_id} if token_id else {})}
    params = {**others, "model_type": model_type, "role": ROLE_BASELINE, **(metadata.get("params") or {})}
    logged = _logged(registry, model, experiment, f"{name}-baseline", params, run_tags)
    if metrics and not isinstance(model, str):  # a model given by URI: its run is not ours to write to
        registry.log_run_metrics(logged.run_id, _metric_keys(metrics))
    registered = registry.register_version(logged, name, tags)
    alias = None
    if registry.get_alias(name, CHAMPION_ALIAS) is None:  # a model's first version is its lineage's head
        place_champion(registry, name, registered.version, True, "the first baseline of its model")
        alias = CHAMPION_ALIAS
    return {**version_view(registry.require_version(name, registered.version)), "alias": alias, "metrics": metrics}


def register_improved_model(registry: RegistryClient, baseline_model_id: str, improved_model: Any,
                            contributor_address: str, data_contribution: dict[str, Any] | None) -> dict[str, Any]:
    """Register ``improved_model`` as the next version of the baseline's model, with its DeltaOne.

    ``data_contribution``: the contribution (``hokusai.core.contribution``: ``data_hash``,
    ``samples``, ``quality_score``, ``contributor``, anything else as metadata) and how it
    was measured: ``metrics`` (the improved model's benchmark metrics; the baseline's
    come from ``baseline_metrics`` if given, else from its recorded metrics) or
    ``delta_one`` (the DeltaOne document ``PerformanceTracker`` returned). Without
    either, the version is registered with DeltaOne not measured (``candidate``).
    Optional: ``min_improvement_bps`` (default 100), ``sample_size`` and
    ``min_samples`` (the benchmark rows measured and the token's minimum),
    ``benchmark_metric`` (when the baseline has none), ``attestation_hash``,
    ``partition_key``, ``tags``.
    """
    name, version = parse_model_id(baseline_model_id)
    baseline = registry.require_version(name, version)
    contribution = read_contribution(data_contribution, contributor_address=contributor_address,
                                     consumed=_IMPROVEMENT_KEYS)
    data = dict(data_contribution or {})
    wallet = contribution.wallet
    baseline_tags = dict(baseline.tags or {})
    token_id = baseline_tags.get(TOKEN_ID_TAG)
    measured = _measured_improvement(baseline_tags, contribution, data)
    extra = dict(data.get("tags") or {})
    if set(extra) & _PROTECTED_TAGS:
        raise ValueError(f"data_contribution tags must not set {sorted(set(extra) & _PROTECTED_TAGS)}")
    tags = {
        **extra,
        **({TOKEN_ID_TAG: token_id} if token_id else {}),
        ROLE_TAG: ROLE_IMPROVEMENT,
        CONTRIBUTOR_WALLET_TAG: wallet,
        DATA_COMMITTED_TAG: str(contribution.committed).lower(),
        ELIGIBLE_TAG: str(measured["eligible"]).lower(),
        BASELINE_VERSION_TAG: int(baseline.version),
        METRICS_TAG: metrics_tag_value(measured["metrics"]),
        **{tag: data[key] for key, tag in (("attestation_hash", ATTESTATION_HASH_TAG),
                                           ("partition_key", PARTITION_KEY_TAG)) if data.get(key) is not None},
    }
    if contribution.committed:
        tags[DATA_HASH_TAG] = contribution.data_hash
    if measured["metric"] is not None:
        tags[BENCHMARK_METRIC_TAG] = measured["metric"]
    if measured["delta_one_bps"] is not None:
        tags.update({BENCHMARK_VALUE_TAG: measured["new_value"], BENCHMARK_SCORE_BPS_TAG: score_bps(measured["new_value"]),
                     DELTA_ONE_BPS_TAG: measured["delta_one_bps"]})
    described = _described(contribution)
    if described:
        tags[CONTRIBUTION_TAG] = json_tag_value(described)
    tags = normalize_tags(tags)
    params = {"baseline_model_id": f"{name}/{baseline.version}", "contributor_address": wallet,
              "data_hash": contribution.data_hash or "not committed",
              "contributed_samples": "" if contribution.samples is None else contribution.samples}
    run_tags = {ROLE_TAG: "candidate", **({TOKEN_ID_TAG: token_id} if token_id else {})}
    experiment = None if isinstance(improved_model, str) else _experiment_of(registry, baseline, token_id)
    logged = _logged(registry, improved_model, experiment, f"{name}-improvement-{wallet[:10]}", params, run_tags)
    if not isinstance(improved_model, str):  # a model given by URI: its run is not ours to write to
        run_metrics = _metric_keys(measured["metrics"])
        if measured["delta_one_bps"] is not None:
            run_metrics[to_mlflow_key("model:delta_one_bps")] = measured["delta_one_bps"]
        if run_metrics:
            registry.log_run_metrics(logged.run_id, run_metrics)
    registered = registry.register_version(logged, name, tags)
    head = registry.get_alias(name, CHAMPION_ALIAS)
    head_version = head.version if head is not None else None
    is_head, why = head_verdict(measured["eligible"], measured["reason"], int(baseline.version), head_version,
                                contribution.committed)
    placement = place_champion(registry, name, registered.version, is_head, why, expected_head=head_version)
    return {
        **version_view(registry.require_version(name, registered.version)),
        "baseline_model_id": f"{name}/{baseline.version}",
        "alias": placement.alias,
        "champion_moved": placement.champion_moved,
        "champion_reason": placement.reason,
        "eligibility_reason": measured["reason"],
        "metrics": measured["metrics"],
        "delta_one_metric": measured["metric"],
        "delta_one": None if measured["delta_one_bps"] is None else measured["delta_one_bps"] / 100,
        "data_commitment": contribution.commitment(),
    }


def _described(contribution: DataContribution) -> dict[str, Any]:
    """What the contributor said about the data beyond its hash: the ``hokusai_contribution`` tag."""
    described = {key: value for key, value in (("samples", contribution.samples),
                                               ("quality_score", contribution.quality_score)) if value is not None}
    if contribution.metadata:
        described["metadata"] = contribution.metadata
    if not contribution.committed:
        described["data_commitment"] = contribution.commitment()
    return described


def _measured_improvement(baseline_tags: dict[str, str], contribution: DataContribution,
                          data: dict[str, Any]) -> dict[str, Any]:
    """Primary metric, values, DeltaOne and verdict of an improvement: from a DeltaOne document,
    from metrics, or not measured at all (no metrics given)."""
    document = data.get("delta_one")
    if document is not None:
        computation, attribution = document["delta_computation"], document["contributor_attribution"]
        if attribution["wallet_address"] != contribution.wallet or attribution["data_hash"] != contribution.data_hash:
            raise ValueError("the DeltaOne document names another contributor or data hash than this registration")
        metric = computation["primary_metric"]
        return {"metric": metric, "new_value": computation["metric_deltas"][metric]["new_value"],
                "metrics": {m: row["new_value"] for m, row in computation["metric_deltas"].items()},
                "delta_one_bps": computation["delta_one_bps"], "eligible": document["eligibility"]["eligible"],
                "reason": document["eligibility"]["reason"]}
    metrics = _model_metrics(data.get("metrics") or {})
    named = baseline_tags.get(BENCHMARK_METRIC_TAG) or data.get("benchmark_metric")
    if not metrics:
        return {"metric": named, "new_value": None, "metrics": {}, "delta_one_bps": None, "eligible": False,
                "reason": NOT_MEASURED}
    baseline_known = {**(stored_metrics(baseline_tags) or {}), **_model_metrics(data.get("baseline_metrics") or {})}
    if named is not None:
        metric = benchmark_metric_name(named) or plain_metric_name(validate_metric_name(named))
        if metric not in metrics:
            raise ValueError(f"data_contribution['metrics'] must include the benchmark metric {named!r} "
                             "(or pass 'delta_one' from PerformanceTracker.track_improvement)")
        baseline_value = baseline_known.get(metric, stored_float(baseline_tags, BENCHMARK_VALUE_TAG))
    else:
        measured = [m for m in BENCHMARK_METRICS if m in metrics and m in baseline_known]
        if not measured:
            raise ValueError("the baseline has no benchmark metric that data_contribution['metrics'] also gives: pass "
                             "data_contribution['baseline_metrics'] or 'benchmark_metric'")
        metric = named = primary_metric_for(measured)
        baseline_value = baseline_known[metric]
    if baseline_value is None:
        raise ValueError(f"the baseline has no benchmark_value for {named!r}: "
                         "pass data_contribution['baseline_metrics']")
    minimum = integer_value(data.get("min_improvement_bps", DEFAULT_MIN_IMPROVEMENT_BPS), "min_improvement_bps")
    delta = delta_one_bps(baseline_value, metrics[metric])
    eligible, reason = eligibility_verdict(delta, minimum, None, data.get("sample_size"), data.get("min_samples"))
    return {"metric": named, "new_value": metrics[metric], "metrics": metrics, "delta_one_bps": delta,
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
        return registry.experiment_name_of_run(baseline.run_id)
    return token_experiment_name(token_id) if token_id else baseline.name


def _model_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Metrics by plain name, benchmark metrics under DeltaOne's (``model:f1_score``, ``f1_score`` -> ``f1``)."""
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a dict, got {type(metrics).__name__}")
    return {benchmark_metric_name(name) or plain_metric_name(validate_metric_name(name)): metric_value(name, value)
            for name, value in metrics.items()}


def _metric_keys(metrics: dict[str, float]) -> dict[str, float]:
    """MLflow keys for a version's metrics: plain names are model metrics (``model/accuracy``)."""
    return {to_mlflow_key(name if ":" in name else f"model:{name}"): value for name, value in metrics.items()}
