"""The one champion rule, for the pipeline and the SDK: ``champion`` follows the lineage head.

A version is champion when it is the head of its lineage: the model the next
contribution is trained on and measured against. A new version becomes the head only
when its gain is eligible, its data is committed (a SHA-256 of it, so the head's
training set can be rebuilt from commitments) *and* the head is still the version it
was measured against (a compare-and-set); otherwise it is ``candidate``, and the
placement says why.

Where the head is recorded differs, the rule does not: the pipeline keeps the head in
its chain ledger (``hokusai.chain``, which also records the rows each link added) and
asks it; the SDK, which has no ledger, keeps the head in the registry's ``champion``
alias itself. Both put the alias through ``place_champion``
(``hokusai.models.registration.register_candidate``, ``hokusai.core.improvements``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hokusai.core.client import RegistryClient
from hokusai.core.tags import CANDIDATE_ALIAS, CHAMPION_ALIAS


@dataclass(frozen=True)
class ChampionPlacement:
    """Where a new version went, and why, in words."""

    alias: str  # champion or candidate
    champion_moved: bool
    reason: str


def head_verdict(eligible: bool, eligibility_reason: str, measured_against: int | None,
                 head: int | None, data_committed: bool = True) -> tuple[bool, str]:
    """Whether a new version becomes the lineage head: eligible, its data committed, and measured
    against the current head. (Every head's training set is rebuilt from commitments, DESIGN.md.)"""
    if not eligible:
        return False, f"not eligible: {eligibility_reason}"
    if not data_committed:
        return False, ("eligible, but its data is not committed (no SHA-256 of it): a lineage head's "
                       "training data must be rebuildable from commitments")
    if head is None:
        return False, "eligible, but its lineage has no head (no champion) to advance"
    if measured_against != head:
        return False, (f"eligible against version {measured_against}, but the head is version {head}: "
                       "measure it against the head (re-base) to advance the lineage")
    return True, f"eligible ({eligibility_reason}) and measured against the head (version {head})"


def place_champion(client: RegistryClient, model_name: str, version: int, is_head: bool, reason: str,
                   expected_head: int | None = None) -> ChampionPlacement:
    """Put ``champion`` on ``version`` if it is the head, else ``candidate``.

    ``expected_head``: the champion version the verdict was reached on; the alias moves
    only if it is still there (a compare-and-set), else the version is ``candidate``.
    """
    if is_head:
        if expected_head is not None:
            if client.move_champion_if_unchanged(model_name, version, expected_head):
                return ChampionPlacement(CHAMPION_ALIAS, True, reason)
            reason = "eligible, but the champion moved while it was evaluated: re-base it on the new head"
        else:
            current = client.get_alias(model_name, CHAMPION_ALIAS)
            if current is None or current.version != version:
                client.set_alias(model_name, CHAMPION_ALIAS, version)
                return ChampionPlacement(CHAMPION_ALIAS, True, reason)
            return ChampionPlacement(CHAMPION_ALIAS, False, reason)
    client.set_alias(model_name, CANDIDATE_ALIAS, version)
    return ChampionPlacement(CANDIDATE_ALIAS, False, reason)


def follow_head(client: RegistryClient, model_name: str, head_version: int) -> bool:
    """Put ``champion`` back on the head's version (after a roll-back); whether it moved."""
    return place_champion(client, model_name, head_version, True, "the lineage head").champion_moved
