"""Whether an evaluation gets a claim: the one place that decides it.

The relayer submits whatever is on its queue and the contract pays any gain at or
above its own minimum, so the platform is the only gate: a mint request is signed
only when this says so. Every evaluation keeps its DeltaOne and attestation as
evidence either way. This is the eligibility half; the lineage chain adds "and the
candidate becomes the chain's head" (``hokusai.chain.acceptance.admit``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ClaimDecision:
    claim: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def summary(self) -> str:
        return "claim" if self.claim else f"no claim: {self.reason}"


def claim_decision(delta_one: dict[str, Any]) -> ClaimDecision:
    """A claim only for an eligible contribution (verdict ``accepted``)."""
    eligibility = delta_one["eligibility"]
    if not eligibility["eligible"]:
        return ClaimDecision(False, f"not eligible ({eligibility['reason']})")
    return ClaimDecision(True, f"eligible ({eligibility['reason']})")
