"""Unit tests for ``hokusai.rules.canonical`` and the pure parts of ``hokusai.rules.attestation``."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from datetime import datetime, timedelta, timezone

import pytest

from hokusai.claims.mint_request import build_mint_request
from hokusai.rules.attestation import (
    ATTESTATION_SCHEMA,
    attestation_hash,
    build_attestation,
    evaluation_id,
    software_versions,
)
from hokusai.rules.canonical import canonical_hash, canonical_json, sha256_0x, sha256_hex
from hokusai.rules.delta_one import compute_delta_one
from hokusai.claims.eip712 import recover_mint_request_signer, validate_mint_request
from hokusai.settlement.relayer_rules import relayer_problems

KEY = "0x" + "11" * 32
KEY_ADDRESS = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"  # the well-known address of key 0x11..11
CHAIN, CONTRACT = 31337, "0x" + "ab" * 20
NOW = datetime(2026, 6, 11, 12, 0, tzinfo=timezone.utc)


# --- canonical JSON ------------------------------------------------------------------------

def test_canonical_json_sorted_compact_utf8():
    value = {"b": 1, "a": [1, 2, {"d": None, "c": True}], "é": "ü"}
    assert canonical_json(value) == '{"a":[1,2,{"c":true,"d":null}],"b":1,"é":"ü"}'.encode("utf-8")


def test_canonical_json_ignores_insertion_order():
    assert canonical_json({"x": 1, "y": {"b": 2, "a": 1}}) == canonical_json({"y": {"a": 1, "b": 2}, "x": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {"nested": [1, math.nan]}])
def test_canonical_json_rejects_nan_and_infinity(bad):
    with pytest.raises(ValueError):
        canonical_json(bad)


def test_hash_helpers():
    data = b"hokusai"
    digest = hashlib.sha256(data).hexdigest()
    assert sha256_hex(data) == digest
    assert sha256_0x(data) == "0x" + digest
    assert canonical_hash({"b": 2, "a": 1}) == hashlib.sha256(b'{"a":1,"b":2}').hexdigest()


# --- evaluation_id -------------------------------------------------------------------------

def test_evaluation_id_is_stable_and_known():
    eid = evaluation_id("digits-demo", "p-1", 3, "0x" + "aa" * 32)
    expected = hashlib.sha256(f"digits-demo|p-1|3|0x{'aa' * 32}".encode()).hexdigest()[:24]
    assert eid == f"eval-{expected}"
    assert re.fullmatch(r"eval-[0-9a-f]{24}", eid)
    assert evaluation_id("digits-demo", "p-1", 3, "0x" + "aa" * 32) == eid


@pytest.mark.parametrize(
    "args",
    [("other-token", "p-1", 3, "0x" + "aa" * 32), ("digits-demo", "p-2", 3, "0x" + "aa" * 32),
     ("digits-demo", "p-1", 4, "0x" + "aa" * 32), ("digits-demo", "p-1", 3, "0x" + "bb" * 32)],
    ids=["token", "partition", "baseline_version", "baseline_commitment"],
)
def test_evaluation_id_changes_with_each_input(args):
    assert evaluation_id(*args) != evaluation_id("digits-demo", "p-1", 3, "0x" + "aa" * 32)


# --- attestation_hash --------------------------------------------------------------------------

def attestation() -> dict:
    """The fields build_mint_request reads, written by hand."""
    return {
        "schema": ATTESTATION_SCHEMA,
        "eval_id": "eval-0123456789abcdef01234567",
        "token": {"token_id": "digits-demo", "model_name": "hokusai-digits-demo", "model_id_uint": 1001,
                  "metric_family": "proportion"},
        "contribution": {"partition_key": "digits-demo/0xwallet/improving.csv", "sha256": "cd" * 32,
                         "wallet_address": "0x00000000000000000000000000000000000d1617", "clean_rows": 350},
        "data": {"benchmark_spec_id": "digits-demo-benchmark-v1", "benchmark_sample_size": 1000},
        "baseline_model": {"name": "hokusai-digits-demo", "version": 1, "weights_commitment": "0x" + "01" * 32},
        "candidate_model": {"weights_commitment": "0x" + "02" * 32},
        "result": {"metric_name": "accuracy", "baseline_score_bps": 8000, "new_score_bps": 8400,
                   "delta_one_bps": 400, "reason": "accepted", "eligible": True},
    }


def test_attestation_hash_is_sha256_of_canonical_json():
    att = attestation()
    text = json.dumps(att, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert attestation_hash(att) == "0x" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert " " not in text


def test_attestation_hash_ignores_key_order_but_not_values():
    att = attestation()
    reordered = {key: att[key] for key in reversed(list(att))}
    assert attestation_hash(reordered) == attestation_hash(att)
    changed = copy.deepcopy(att)
    changed["result"]["new_score_bps"] += 1
    assert attestation_hash(changed) != attestation_hash(att)


def test_attestation_hash_rejects_nan():
    att = attestation()
    att["result"]["score"] = math.nan
    with pytest.raises(ValueError):
        attestation_hash(att)


def test_build_attestation_is_deterministic_and_carries_the_result():
    metrics = {"accuracy": 0.8, "precision": 0.8, "recall": 0.8, "f1": 0.8, "auroc": 0.9}
    delta = compute_delta_one(
        baseline_metrics=metrics, new_metrics={**metrics, "accuracy": 0.84}, primary_metric="accuracy",
        min_improvement_bps=100, baseline_model={}, new_model={}, contributor={}, evaluation={}, pipeline={},
    )
    att = attestation()
    kwargs = dict(eval_id=att["eval_id"], token=att["token"], contribution=att["contribution"], data=att["data"],
                  baseline_model=att["baseline_model"], candidate_model=att["candidate_model"], delta_one=delta)
    built = build_attestation(**kwargs)
    assert built == build_attestation(**kwargs)
    assert attestation_hash(built) == attestation_hash(build_attestation(**kwargs))
    assert built["schema"] == "hokusai.attestation.v1"
    assert built["result"] == {
        "definition": "hokusai-delta-one-v1", "metric_name": "accuracy", "baseline_score_bps": 8000,
        "new_score_bps": 8400, "delta_one_bps": 400, "eligible": True, "reason": "accepted",
        "min_improvement_bps": 100, "delta_one_sha256": canonical_hash(delta), "statistics": None,
    }
    assert built["software"] == software_versions()
    assert set(built["software"]) == {"scikit-learn", "numpy", "pandas", "pyarrow", "mlflow", "hokusai"}
    canonical_json(built)  # plain JSON throughout


def test_software_versions_in_an_sdk_only_environment(monkeypatch):
    """The SDK alone has mlflow-skinny and no pyarrow: MLflow's version comes from the skinny
    distribution (same code), a package not installed is recorded as None, not a crash."""
    from importlib.metadata import PackageNotFoundError

    import hokusai.rules.attestation as attestation

    installed = {"scikit-learn": "1.9.1", "numpy": "2.4.6", "pandas": "2.3.3", "mlflow-skinny": "3.17.2"}

    def version(name):
        if name not in installed:
            raise PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(attestation, "version", version)
    assert attestation.software_versions() == {"scikit-learn": "1.9.1", "numpy": "2.4.6", "pandas": "2.3.3",
                                               "pyarrow": None, "mlflow": "3.17.2", "hokusai": attestation.__version__}


# --- build_mint_request -----------------------------------------------------------------------

def build(att=None, now=NOW, deadline_seconds=3600):
    return build_mint_request(att or attestation(), chain_id=CHAIN, verifying_contract=CONTRACT,
                              attester_private_key=KEY, deadline_seconds=deadline_seconds, now=now)


def test_mint_request_is_valid_and_signed_by_the_attester():
    wire = build()
    assert validate_mint_request(wire) == []
    assert relayer_problems(wire) == []
    assert len(wire["attester_signatures"]) == 1
    assert recover_mint_request_signer(wire, CHAIN, CONTRACT, wire["attester_signatures"][0]) == KEY_ADDRESS


def test_mint_request_fields_come_from_the_attestation():
    att = attestation()
    wire = build(att)
    att_hash = attestation_hash(att)
    assert wire["attestation_hash"] == att_hash
    bare = att_hash.removeprefix("0x")
    assert wire["idempotency_key"] == "0x" + hashlib.sha256(f"1001:{bare}".encode("ascii")).hexdigest()
    assert wire["model_id"] == "hokusai-digits-demo" and wire["model_id_uint"] == "1001"
    assert wire["eval_id"] == att["eval_id"]
    assert wire["dataset_hash"] == "0x" + "cd" * 32
    assert wire["baseline_commitment"] == "0x" + "01" * 32
    assert wire["candidate_commitment"] == "0x" + "02" * 32
    assert wire["totalSamples"] == 1000 == wire["evaluation"]["sample_size_candidate"]
    assert wire["timestamp"] == NOW.isoformat()
    assert wire["deadline"] == int(NOW.timestamp()) + 3600
    assert wire["evaluation"] == {
        "metric_name": "accuracy", "metric_family": "proportion", "baseline_score_bps": 8000,
        "new_score_bps": 8400, "max_cost_usd_micro": 0, "actual_cost_usd_micro": 0,
        "sample_size_baseline": 1000, "sample_size_candidate": 1000, "statistical_reason": "accepted",
    }
    assert wire["contributors"] == [{"wallet_address": "0x00000000000000000000000000000000000d1617",
                                     "weight_bps": 10000, "submissionId": "digits-demo/0xwallet/improving.csv"}]
    assert att == attestation()  # the attestation is not modified


def test_volatile_fields_do_not_change_the_hash_or_idempotency_key():
    first = build(now=NOW, deadline_seconds=3600)
    second = build(now=NOW + timedelta(days=2), deadline_seconds=60)
    assert first["message_id"] != second["message_id"]
    assert first["timestamp"] != second["timestamp"]
    assert first["deadline"] != second["deadline"]
    assert first["attestation_hash"] == second["attestation_hash"]
    assert first["idempotency_key"] == second["idempotency_key"]
    assert first["attester_signatures"] != second["attester_signatures"]  # the deadline is signed
    assert validate_mint_request(second) == []


def test_total_samples_are_the_benchmark_samples_not_the_contribution_rows():
    """Issue 16: totalSamples was the cleaned rows (350); the relayer dead-lettered every message."""
    att = attestation()
    att["data"]["benchmark_sample_size"] = 777
    wire = build(att)
    assert wire["totalSamples"] == wire["evaluation"]["sample_size_candidate"] == 777
    assert att["contribution"]["clean_rows"] == 350  # the attestation keeps the contribution's rows
    assert relayer_problems(wire) == []


def test_a_message_the_relayer_would_refuse_is_never_returned():
    att = attestation()
    att["data"]["benchmark_sample_size"] = 0
    with pytest.raises(ValueError, match="relayer rule"):
        build(att)


def test_different_model_id_changes_idempotency_key():
    att = attestation()
    att["token"]["model_id_uint"] = 1002
    wire, base = build(att), build()
    assert wire["idempotency_key"] != base["idempotency_key"]
    assert validate_mint_request(wire) == []
