"""Reading model versions back: one dict shape for every SDK answer, and their runs' metrics.

Every SDK method that returns a version returns ``version_view``: ``model_id``
(``"name/version"``), ``model_name`` (and ``name``), ``version``, ``run_id``,
``model_uri``, the token tags decoded (``token_id``, ``benchmark_metric``,
``benchmark_value``, ``contributor_address``, ``data_hash``, ``delta_one_bps``,
``eligible``, ``baseline_version``, ``data_committed``), ``role``, ``aliases``, ``created_at`` and the raw
``tags``. Versions the pipeline registered read exactly like the SDK's.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hokusai.core.model_ids import format_model_id
from hokusai.core.client import RegistryClient
from hokusai.core.entities import LoggedModelRef
from hokusai.core.tags import (
    BASELINE_VERSION_TAG, BENCHMARK_METRIC_TAG, COMMITMENT_TAG, DATA_COMMITTED_TAG, BENCHMARK_VALUE_TAG, CONTRIBUTOR_WALLET_TAG, DATA_HASH_TAG,
    DELTA_ONE_BPS_TAG, ELIGIBLE_TAG, METRICS_TAG, ROLE_BASELINE, ROLE_IMPROVEMENT, ROLE_TAG, TOKEN_ID_TAG,
    stored_float, stored_int, stored_metrics,
)
from hokusai.rules.metric_names import CATEGORIES, from_mlflow_key

PIPELINE_NEW_PREFIX = "new_"
PIPELINE_BASELINE_PREFIX = "baseline_"  # pipeline runs before the naming convention
BASELINE_METRIC_PREFIX = "model:baseline."  # pipeline runs now: the baseline's score on the same rows


def version_view(version: Any, aliases: list[str] | None = None) -> dict[str, Any]:
    """The SDK's dict for one MLflow model version."""
    tags = dict(version.tags or {})
    eligible = tags.get(ELIGIBLE_TAG)
    return {
        "model_id": format_model_id(version.name, version.version),
        "model_name": version.name,
        "name": version.name,
        "version": int(version.version),
        "run_id": version.run_id or None,
        "model_uri": f"models:/{version.name}/{version.version}",
        "token_id": tags.get(TOKEN_ID_TAG),
        "benchmark_metric": tags.get(BENCHMARK_METRIC_TAG),
        "benchmark_value": stored_float(tags, BENCHMARK_VALUE_TAG),
        "contributor_address": tags.get(CONTRIBUTOR_WALLET_TAG),
        "data_hash": tags.get(DATA_HASH_TAG),
        # false when the contributor gave no SHA-256 of the data (the SDK's data_committed tag)
        "data_committed": (None if CONTRIBUTOR_WALLET_TAG not in tags
                           else tags.get(DATA_COMMITTED_TAG) != "false" and DATA_HASH_TAG in tags),
        "delta_one_bps": stored_int(tags, DELTA_ONE_BPS_TAG),
        "eligible": None if eligible is None else eligible == "true",
        "baseline_version": stored_int(tags, BASELINE_VERSION_TAG),
        "role": role_of(tags),
        "aliases": sorted(aliases if aliases is not None else (getattr(version, "aliases", None) or [])),
        "created_at": _timestamp(version.creation_timestamp),
        "weights_commitment": tags.get(COMMITMENT_TAG),
        "tags": tags,
    }


def is_accepted(view: dict[str, Any]) -> bool:
    """An accepted contribution: eligible, and its data committed (a SHA-256 given), so a claim could reward it."""
    return bool(view["eligible"]) and view["data_committed"] is not False


def role_of(tags: dict[str, str]) -> str:
    """``baseline``, ``improvement`` (pipeline candidates carry no role tag), or ``registered``."""
    if tags.get(ROLE_TAG) in (ROLE_BASELINE, ROLE_IMPROVEMENT):
        return tags[ROLE_TAG]
    if BASELINE_VERSION_TAG in tags or CONTRIBUTOR_WALLET_TAG in tags:
        return ROLE_IMPROVEMENT
    return "registered"


def run_metrics(registry: RegistryClient, run_ids: list[str | None]) -> dict[str, dict[str, float]]:
    """The latest metrics of each run (``RegistryClient.run_metrics``)."""
    return registry.run_metrics(run_ids)


def version_metrics(tags: dict[str, str], run: dict[str, float] | None) -> dict[str, float]:
    """A version's own benchmark metrics: its ``hokusai_metrics`` tag (the SDK writes it, as one
    run may back several versions), else what its run recorded (``own_metrics``)."""
    tagged = stored_metrics(tags)
    return tagged if tagged is not None else own_metrics(run or {})


def needs_run_metrics(tags: dict[str, str]) -> bool:
    return METRICS_TAG not in tags


def own_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """A version's own benchmark metrics from its run.

    Runs store them under the convention's keys (``model/accuracy``; a pipeline
    candidate run also has ``model/baseline.accuracy`` and ``model/delta_one_bps``,
    which are not its own); pipeline runs from before the convention as ``new_accuracy``.
    All are returned under the plain name (``accuracy``); other categories keep their
    prefix (``usage:reply_rate``).
    """
    own = {}
    for key, value in metrics.items():
        name = from_mlflow_key(key)
        if name == "model:delta_one_bps" or name.startswith(BASELINE_METRIC_PREFIX):
            continue  # a comparison, or the baseline's score: not properties of this model
        if name.startswith("model:"):
            own[name[len("model:"):]] = value
        elif ":" in name and name.split(":", 1)[0] in CATEGORIES:
            own[name] = value
        elif key.startswith(PIPELINE_NEW_PREFIX):
            own[key[len(PIPELINE_NEW_PREFIX):]] = value
    return own


def baseline_metrics_measured(metrics: dict[str, float]) -> dict[str, float]:
    """The baseline's metrics as a pipeline candidate run measured them (``model/baseline.accuracy``;
    ``baseline_accuracy`` in runs logged before the naming convention)."""
    measured = {}
    for key, value in metrics.items():
        name = from_mlflow_key(key)
        if name.startswith(BASELINE_METRIC_PREFIX):
            measured[name[len(BASELINE_METRIC_PREFIX):]] = value
        elif key.startswith(PIPELINE_BASELINE_PREFIX):
            measured[key[len(PIPELINE_BASELINE_PREFIX):]] = value
    return measured


def resolve_run_id(registry: RegistryClient, model_uri: str) -> str | None:
    """The run a model URI was logged in (``RegistryClient.resolve_run_id``)."""
    return registry.resolve_run_id(model_uri)


def logged_ref(registry: RegistryClient, model_uri: str) -> LoggedModelRef:
    """A model already logged, by URI (``RegistryClient.logged_ref``)."""
    return registry.logged_ref(model_uri)


def _timestamp(milliseconds: int | None) -> str | None:
    if not milliseconds:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc).isoformat(timespec="seconds")
