"""Who holds the champion alias when contributions to one token finish out of order."""

import pytest

from hokusai.champion import decide_champion

BASE = dict(eligible=True, ineligible_reason="", pinned_version=1)


def test_an_eligible_version_takes_the_alias_from_its_pinned_baseline():
    decision = decide_champion(**BASE, current_version=1, current_score_bps=9000, new_score_bps=9100)
    assert decision.move and decision.reason == "eligible"


def test_an_ineligible_version_never_moves_the_alias_and_says_why():
    decision = decide_champion(eligible=False, ineligible_reason="delta_below_threshold", pinned_version=1,
                               current_version=1, current_score_bps=9000, new_score_bps=9100)
    assert not decision.move and decision.reason == "delta_below_threshold"


@pytest.mark.parametrize(("current_score", "new_score", "moves"), [(9300, 9400, True), (9400, 9400, False),
                                                                   (9500, 9400, False)])
def test_after_another_run_took_the_alias_the_higher_benchmark_score_wins(current_score, new_score, moves):
    decision = decide_champion(**BASE, current_version=3, current_score_bps=current_score, new_score_bps=new_score)
    assert decision.move is moves
    assert "v3" in decision.reason and str(current_score) in decision.reason


def test_a_champion_without_a_recorded_score_is_left_alone():
    decision = decide_champion(**BASE, current_version=3, current_score_bps=None, new_score_bps=9999)
    assert not decision.move and "no benchmark score" in decision.reason


def test_a_registry_without_a_champion_gets_one():
    assert decide_champion(**BASE, current_version=None, current_score_bps=None, new_score_bps=1).move
