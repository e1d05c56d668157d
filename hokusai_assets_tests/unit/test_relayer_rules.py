"""The relayer's validation, carried in ``fixtures/interop/relayer_rules.json``.

Each case is one mutation of the published example; it must break exactly the
rule it is named for, and nothing else, so a rule that stops firing (or one that
fires for the wrong reason) fails here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hokusai.settlement.relayer_rules import RULES, mint_request_problems, relayer_problems, relayer_violations

FIXTURES = Path(__file__).parents[1] / "fixtures" / "interop"
RULE_FILE = json.loads((FIXTURES / "relayer_rules.json").read_text())
KAV = {v["name"]: v["wire_message"] for v in json.loads((FIXTURES / "mint_request_kav.json").read_text())["vectors"]}


def load_message(reference: str) -> dict:
    name, _, vector = reference.partition("#")
    return copy.deepcopy(KAV[vector]) if vector else json.loads((FIXTURES / name).read_text())


def mutated(mutations: list[dict]) -> object:
    message = load_message(RULE_FILE["base"])
    for mutation in mutations:
        *path, last = mutation["path"] or [None]
        if mutation["op"] == "replace":
            message = copy.deepcopy(mutation["value"])
            continue
        target = message
        for key in path:
            target = target[key]
        if mutation["op"] == "set":
            target[last] = copy.deepcopy(mutation["value"])
        elif mutation["op"] == "delete":
            del target[last]
        else:
            raise ValueError(mutation["op"])
    return message


def test_the_fixture_carries_the_same_rules_as_the_code():
    assert RULE_FILE["rules"] == RULES
    assert {case["rule"] for case in RULE_FILE["cases"]} == set(RULES), "every rule needs a case"


@pytest.mark.parametrize("reference", RULE_FILE["must_pass"])
def test_published_messages_pass(reference):
    message = load_message(reference)
    assert relayer_problems(message) == []
    assert mint_request_problems(message) == []


@pytest.mark.parametrize("case", RULE_FILE["cases"], ids=lambda case: case["name"])
def test_each_mutation_breaks_exactly_its_rule(case):
    violations = relayer_violations(mutated(case["mutations"]))
    assert [v.rule for v in violations] == [case["rule"]], violations
    problem = relayer_problems(mutated(case["mutations"]))[0]
    assert f"[relayer rule {case['rule']}]" in problem


@pytest.mark.parametrize("case", RULE_FILE["valid_variants"], ids=lambda case: case["name"])
def test_variants_the_relayer_accepts(case):
    assert relayer_problems(mutated(case["mutations"])) == []


def test_a_problem_names_the_field_and_the_values():
    message = mutated([{"op": "set", "path": ["totalSamples"], "value": 350}])
    assert relayer_problems(message) == [
        "$.totalSamples: 350 does not match evaluation.sample_size_candidate 1000 "
        "[relayer rule total_samples_matches_candidate]"]
    message = mutated([{"op": "set", "path": ["contributors", 1, "weight_bps"], "value": 0}])
    assert relayer_problems(message)[0].startswith("$.contributors[1].weight_bps: must be an integer 1-10000")


def test_several_broken_rules_are_all_reported():
    message = mutated([{"op": "set", "path": ["message_type"], "value": "x"},
                       {"op": "set", "path": ["evaluation", "new_score_bps"], "value": 10001},
                       {"op": "set", "path": ["contributors", 0, "bonus"], "value": 1}])
    assert sorted(v.rule for v in relayer_violations(message)) == ["extra_keys", "message_type", "score_bps"]
