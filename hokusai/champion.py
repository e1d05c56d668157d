"""Who holds a token's ``champion`` alias after a newly registered version.

A candidate was measured against the champion pinned when its run started (its
*pinned* baseline). By the time it registers, another contribution to the same
token may already have taken the alias (a backfill runs partitions side by side).
Both were scored on the same fixed benchmark, so their benchmark scores compare
directly: the alias goes to whichever scores higher, and no eligible improvement
is lost because another run finished first. The decision is a plain function; the
registry applies it inside the registration step's one-at-a-time pool.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChampionDecision:
    move: bool
    reason: str


def decide_champion(*, eligible: bool, ineligible_reason: str, pinned_version: int,
                    current_version: int | None, current_score_bps: int | None,
                    new_score_bps: int) -> ChampionDecision:
    """Move the alias to the new version, or say in words why not.

    ``current_*`` describe the version that holds the alias now (None: no champion
    yet, e.g. a registry reset by hand); ``*_score_bps`` are benchmark scores in
    basis points on the token's fixed benchmark.
    """
    if not eligible:
        return ChampionDecision(False, ineligible_reason)
    if current_version is None or current_version == pinned_version:
        return ChampionDecision(True, "eligible")
    if current_score_bps is None:
        return ChampionDecision(False, f"eligible, but the champion moved to v{current_version}, "
                                       "which has no benchmark score to compare with")
    if new_score_bps > current_score_bps:
        return ChampionDecision(True, f"eligible, and it beats v{current_version}, champion since this "
                                      f"run started ({new_score_bps} vs {current_score_bps} bps)")
    return ChampionDecision(False, f"eligible, but v{current_version}, champion since this run started, "
                                   f"scores as high or higher ({current_score_bps} vs {new_score_bps} bps)")
