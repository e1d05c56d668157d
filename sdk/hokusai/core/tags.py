"""The tags a Hokusai model version carries, and the rules their values follow.

The names are the ones the pipeline writes (``hokusai.models.registration.token_tags``),
so versions registered by the SDK and by the pipeline are read the same way:
lineage, contributor impact and token listings work on both. MLflow stores every
tag as a string; ``normalize_tags`` checks a value against its tag's rule and
returns the string form that is stored.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from numbers import Real
from typing import Any

from hokusai.rules.token_ids import validate_token_id
from hokusai.rules.metric_names import validate_metric_name
from hokusai.rules.wallets import validate_wallet_address

CHAMPION_ALIAS = "champion"  # the lineage head: what the next contribution is trained on and measured against
CANDIDATE_ALIAS = "candidate"  # the newest version that is not the head

TOKEN_ID_TAG = "hokusai_token_id"
BENCHMARK_METRIC_TAG = "benchmark_metric"
BENCHMARK_VALUE_TAG = "benchmark_value"
BENCHMARK_SCORE_BPS_TAG = "benchmark_score_bps"
CONTRIBUTOR_WALLET_TAG = "contributor_wallet"
DATA_HASH_TAG = "data_hash"
DELTA_ONE_BPS_TAG = "delta_one_bps"
ELIGIBLE_TAG = "eligible"
ATTESTATION_HASH_TAG = "attestation_hash"
PARTITION_KEY_TAG = "partition_key"
BASELINE_VERSION_TAG = "baseline_version"
ROLE_TAG = "hokusai_role"
MODEL_TYPE_TAG = "hokusai_model_type"
TRAINING_DATA_TAG = "training_data_sha256"
DATA_COMMITTED_TAG = "data_committed"  # "false": no SHA-256 of the data was given, so nothing here is attestable
CONTRIBUTION_TAG = "hokusai_contribution"  # what else the contributor said about the data (samples, quality), JSON
METADATA_TAG = "hokusai_metadata"  # a baseline's other metadata (e.g. its dataset), JSON
COMMITMENT_TAG = "weights_commitment"  # the model files' sha256-merkle-v1 root, written at registration
METRICS_TAG = "hokusai_metrics"  # the version's own benchmark metrics, as JSON (SDK-registered versions)

REQUIRED_TOKEN_TAGS = (TOKEN_ID_TAG, BENCHMARK_METRIC_TAG, BENCHMARK_VALUE_TAG)
ROLE_BASELINE = "baseline"
ROLE_IMPROVEMENT = "improvement"

_SHA256_HEX = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_TAG_LIMIT = 5000


def numeric_value(value: Any, what: str) -> float:
    """``value`` as a finite float; a clear ValueError for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, (Real, Decimal, str)):
        raise ValueError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def integer_value(value: Any, what: str) -> int:
    """``value`` as an int (ints, integral floats and digit strings); ValueError otherwise."""
    number = numeric_value(value, what)
    if number != int(number):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(number)


def data_hash_value(value: Any) -> str:
    """A SHA-256 as stored: bare lowercase hex (a ``0x`` prefix is accepted and dropped)."""
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise ValueError(f"data hash must be a SHA-256 in hex (64 characters), got {value!r}")
    return value[-64:].lower()


def _boolean_value(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"'{ELIGIBLE_TAG}' must be true or false, got {value!r}")
    return text


_RULES = {
    TOKEN_ID_TAG: validate_token_id,
    BENCHMARK_METRIC_TAG: validate_metric_name,
    BENCHMARK_VALUE_TAG: lambda v: repr(numeric_value(v, f"'{BENCHMARK_VALUE_TAG}'")),
    BENCHMARK_SCORE_BPS_TAG: lambda v: str(integer_value(v, f"'{BENCHMARK_SCORE_BPS_TAG}'")),
    CONTRIBUTOR_WALLET_TAG: validate_wallet_address,
    DATA_HASH_TAG: data_hash_value,
    DELTA_ONE_BPS_TAG: lambda v: str(integer_value(v, f"'{DELTA_ONE_BPS_TAG}'")),
    ELIGIBLE_TAG: _boolean_value,
    DATA_COMMITTED_TAG: _boolean_value,
    BASELINE_VERSION_TAG: lambda v: str(integer_value(v, f"'{BASELINE_VERSION_TAG}'")),
}


def normalize_tags(tags: dict[str, Any]) -> dict[str, str]:
    """Check each known tag against its rule; every value becomes the string MLflow stores."""
    if not isinstance(tags, dict):
        raise ValueError(f"tags must be a dict, got {type(tags).__name__}")
    normalized = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"tag names must be non-empty strings, got {key!r}")
        if value is None:
            raise ValueError(f"tag {key!r} has no value")
        rule = _RULES.get(key)
        normalized[key] = rule(value) if rule else str(value)
    return normalized


def is_sha256(value: Any) -> bool:
    """Whether ``value`` is a SHA-256 in hex (64 hex digits, ``0x`` optional)."""
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def json_tag_value(values: dict[str, Any]) -> str:
    """A dict as a tag: sorted-key JSON (non-JSON values as their text), cut to MLflow's tag limit."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= _TAG_LIMIT else text[:_TAG_LIMIT - 3] + "..."


def metrics_tag_value(metrics: dict[str, float]) -> str:
    """The ``hokusai_metrics`` tag: sorted-key JSON of plain metric names to values."""
    return json.dumps(metrics, sort_keys=True, separators=(",", ":"), allow_nan=False)


def stored_metrics(tags: dict[str, str]) -> dict[str, float] | None:
    """The ``hokusai_metrics`` tag read back, or None when absent or unreadable."""
    try:
        metrics = json.loads(tags[METRICS_TAG])
    except (KeyError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


def stored_float(tags: dict[str, str], key: str) -> float | None:
    """A numeric tag read back, or None when absent or unreadable (old or hand-made versions)."""
    try:
        return float(tags[key])
    except (KeyError, ValueError):
        return None


def stored_int(tags: dict[str, str], key: str) -> int | None:
    value = stored_float(tags, key)
    return int(value) if value is not None and value == int(value) else None
