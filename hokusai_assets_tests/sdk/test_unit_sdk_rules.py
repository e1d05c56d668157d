"""The SDK's business rules as plain functions: the champion rule, the primary metric, a contribution."""

import pytest

from hokusai.core.champion import head_verdict
from hokusai.core.contribution import read_contribution
from hokusai.rules.delta_one import primary_metric_for, shared_benchmark_metrics
from hokusai.rules.metric_names import BENCHMARK_METRICS, benchmark_metric_name

WALLET = "0x742D35cc6634C0532925A3B844BC9E7595f62341"
SHA = "ab" * 32


def test_a_version_whose_data_is_not_committed_does_not_become_the_head():
    is_head, reason = head_verdict(True, "accepted", 3, 3, data_committed=False)
    assert not is_head and "data is not committed" in reason


def test_an_accepted_contribution_is_eligible_and_committed():
    from hokusai.core.versions import is_accepted

    assert is_accepted({"eligible": True, "data_committed": True})
    assert is_accepted({"eligible": True, "data_committed": None})  # a version that is no SDK contribution
    assert not is_accepted({"eligible": True, "data_committed": False})
    assert not is_accepted({"eligible": False, "data_committed": True})


@pytest.mark.parametrize("eligible,measured_against,head,is_head,reason", [
    (True, 3, 3, True, "eligible (accepted) and measured against the head (version 3)"),
    (False, 3, 3, False, "not eligible: below"),
    (True, 2, 3, False, "eligible against version 2, but the head is version 3: measure it against the head"),
    (True, 1, None, False, "no head"),
])
def test_a_version_becomes_the_head_only_when_eligible_and_measured_against_the_head(
        eligible, measured_against, head, is_head, reason):
    verdict = head_verdict(eligible, "accepted" if eligible else "below", measured_against, head)
    assert verdict[0] is is_head and reason in verdict[1]


@pytest.mark.parametrize("given,requested,primary", [
    (("accuracy", "f1"), None, "accuracy"),
    (("precision", "auroc"), None, "precision"),
    (("auroc",), None, "auroc"),
    (("accuracy", "f1"), "f1", "f1"),
])
def test_the_primary_metric_is_the_requested_one_else_accuracy_else_the_first_in_order(given, requested, primary):
    assert primary_metric_for(given, requested) == primary


def test_the_primary_metric_errors_say_what_is_missing():
    with pytest.raises(ValueError, match="no benchmark metric"):
        primary_metric_for(())
    with pytest.raises(ValueError, match="'f1' was not measured on both sides"):
        primary_metric_for(("accuracy",), "f1")


def test_benchmark_metric_aliases_and_the_fixed_order():
    assert BENCHMARK_METRICS == ("accuracy", "precision", "recall", "f1", "auroc")
    assert [benchmark_metric_name(n) for n in ("f1_score", "model:f1_score", "auc", "roc_auc", "model:accuracy",
                                                "latency_ms", "usage:reply_rate")] == [
        "f1", "f1", "auroc", "auroc", "accuracy", None, None]
    assert shared_benchmark_metrics({"auroc": 1, "f1": 1, "accuracy": 1}, {"f1": 1, "auroc": 1}) == ("f1", "auroc")


def test_a_contribution_reads_its_aliases_and_keeps_the_rest_as_metadata():
    read = read_contribution({"contributor": WALLET, "samples": 1000, "quality_score": 0.95, "data_hash": SHA,
                              "source": "crm-export"})
    assert read.wallet == WALLET.lower() and read.samples == 1000 and read.quality_score == 0.95
    assert read.committed and read.data_hash == SHA and read.metadata == {"source": "crm-export"}
    assert read.commitment() == {"committed": True, "data_hash": SHA}


@pytest.mark.parametrize("given,why", [(None, "no data_hash was given"), ("abc123", "'abc123' is not a SHA-256")])
def test_a_contribution_without_a_sha256_is_not_committed_and_says_so(given, why):
    read = read_contribution({"contributor_address": WALLET, "data_hash": given})
    assert not read.committed and read.data_hash is None
    commitment = read.commitment()
    assert commitment["committed"] is False and commitment["claimable"] is False
    assert commitment["given_data_hash"] == given and why in commitment["reason"]
    assert "not committed" in commitment["reason"]


def test_a_contribution_names_one_contributor():
    with pytest.raises(ValueError, match="more than one contributor"):
        read_contribution({"contributor": WALLET}, contributor_address="0x" + "11" * 20)
    with pytest.raises(ValueError, match="needs 'contributor_address'"):
        read_contribution({"samples": 3})
    with pytest.raises(ValueError, match="EIP-55"):
        read_contribution({"contributor": "0x742d35Cc6634C0532925a3b844Bc9e7595f62341"})
    assert read_contribution({"contributor": WALLET}, contributor_address=WALLET.lower()).wallet == WALLET.lower()


def test_a_dspy_model_without_the_platform_says_what_to_install(monkeypatch):
    """The SDK alone has no DSPy flavor (``hokusai.dspy`` is the platform's): a clear RegistryError."""
    import sys

    from hokusai.core.client import _dspy_flavor
    from hokusai.core.errors import RegistryError

    assert callable(_dspy_flavor("load_token_model"))  # with the platform installed: the flavor itself
    monkeypatch.setitem(sys.modules, "hokusai.dspy.mlflow_model", None)  # as if not installed
    with pytest.raises(RegistryError, match="needs the Hokusai Data Platform"):
        _dspy_flavor("load_token_model")
