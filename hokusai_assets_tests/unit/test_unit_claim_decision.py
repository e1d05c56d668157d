"""A claim only for an eligible evaluation; claim files never outlive the claim."""

from __future__ import annotations

import json

import pytest

from hokusai.claims.documents import CLAIM_FILES, write_evaluation_outputs
from hokusai.rules.delta_one import REASONS
from hokusai.settlement.decision import claim_decision


def delta(eligible: bool, reason: str) -> dict:
    return {"eligibility": {"eligible": eligible, "reason": reason}}


def test_an_eligible_evaluation_gets_a_claim():
    decision = claim_decision(delta(True, "accepted"))
    assert decision.claim is True and decision.summary == "claim"


@pytest.mark.parametrize("reason", [r for r in REASONS if r != "accepted"])
def test_no_claim_for_any_ineligible_verdict(reason):
    decision = claim_decision(delta(False, reason))
    assert decision.claim is False
    assert decision.summary == f"no claim: not eligible ({reason})"
    assert decision.as_dict() == {"claim": False, "reason": f"not eligible ({reason})"}


def test_claim_files_of_an_earlier_run_are_removed_when_this_one_has_no_claim(tmp_path):
    write_evaluation_outputs(tmp_path, {"delta_one.json": {"v": 1}, "attestation.json": {},
                                        **{name: {"old": True} for name in CLAIM_FILES}})
    assert all((tmp_path / name).exists() for name in CLAIM_FILES)
    files = write_evaluation_outputs(tmp_path, {"delta_one.json": {"v": 2}, "attestation.json": {}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attestation.json", "delta_one.json"]
    assert set(files) == {"delta_one.json", "attestation.json"}
    assert json.loads((tmp_path / "delta_one.json").read_text()) == {"v": 2}
