"""A contributor's impact: every version their data produced, across all models and tokens.

Read from the ``contributor_wallet`` tag (stored lowercase by the SDK and the
pipeline alike) in one search, so it costs the same for 2 versions or 200.
DeltaOnes are summed over *accepted* contributions (``eligible``: the gain reached
the token's minimum, which is what a mint rewards); ``net_delta_one_bps`` sums
every contribution, losses included. A contribution registered without a SHA-256
of its data (``data_committed`` false) is listed but not accepted: nothing is claimable.
"""

from __future__ import annotations

from typing import Any

from hokusai.core.client import RegistryClient
from hokusai.core.tags import CONTRIBUTOR_WALLET_TAG
from hokusai.core.versions import is_accepted, version_view
from hokusai.rules.wallets import to_checksum_address, validate_wallet_address


def get_contributor_impact(registry: RegistryClient, address: str) -> dict[str, Any]:
    """Totals for ``address`` (0x + 40 hex; EIP-55 checked when mixed case), per model and overall."""
    wallet = validate_wallet_address(address)
    versions = registry.search_versions(f"tags.{CONTRIBUTOR_WALLET_TAG} = '{wallet}'")
    contributions = sorted((version_view(v) for v in versions),
                           key=lambda c: (c["created_at"] or "", c["model_name"], c["version"]))
    models: dict[str, dict[str, Any]] = {}
    for contribution in contributions:
        model = models.setdefault(contribution["model_name"], {
            "model_name": contribution["model_name"], "token_id": contribution["token_id"],
            "contributions": 0, "accepted_contributions": 0, "delta_one_bps": 0, "versions": [],
        })
        model["contributions"] += 1
        model["versions"].append(contribution["version"])
        if is_accepted(contribution):
            model["accepted_contributions"] += 1
            model["delta_one_bps"] += contribution["delta_one_bps"] or 0
    accepted = [c for c in contributions if is_accepted(c)]
    total_bps = sum(c["delta_one_bps"] or 0 for c in accepted)
    return {
        "address": wallet,
        "checksum_address": to_checksum_address(wallet),
        "total_contributions": len(contributions),
        "accepted_contributions": len(accepted),
        "total_delta_one_bps": total_bps,
        "total_delta_one": total_bps / 100,
        "net_delta_one_bps": sum(c["delta_one_bps"] or 0 for c in contributions),
        "total_models_improved": sum(1 for m in models.values() if m["accepted_contributions"]),
        "models": sorted(models.values(), key=lambda m: m["model_name"]),
        "tokens": sorted({c["token_id"] for c in contributions if c["token_id"]}),
        "contributions": contributions,
        "first_contribution": contributions[0]["created_at"] if contributions else None,
        "last_contribution": contributions[-1]["created_at"] if contributions else None,
    }
