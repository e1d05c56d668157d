"""What governance seeds on chain for a token's first baseline.

The contract takes a claim only when its ``baselineCommitment`` is the model's
head, which starts at the genesis governance sets once per model:
``ModelRegistry.setWeightGenesis(modelId, commitment)`` with the weights
commitment of the token's first baseline (C0, version 1, trained on the base
data). Until it is set every claim reverts with ``LineageNotSeeded``.
"""

from __future__ import annotations

from typing import Any

FIRST_BASELINE_VERSION = 1
GENESIS_FILE = "genesis.json"


def weight_genesis(*, model_id_uint: int | str, model_name: str, token_id: str,
                   baseline: dict[str, Any]) -> dict[str, Any] | None:
    """The seed instruction when ``baseline`` is the token's first baseline (its chain's genesis), else None."""
    position = baseline.get("chain_position")
    if (position != 0) if position is not None else (int(baseline["version"]) != FIRST_BASELINE_VERSION):
        return None
    commitment = baseline["weights_commitment"]
    return {
        "token_id": token_id, "model_id": model_name, "model_id_uint": str(model_id_uint),
        "baseline_version": FIRST_BASELINE_VERSION, "weights_commitment": commitment,
        "call": f"ModelRegistry.setWeightGenesis({int(model_id_uint)}, {commitment})",
        "why": "once per model, before the first claim: the contract's lineage head starts at this "
               "commitment, and a claim whose baseline is not the head reverts (LineageNotSeeded, "
               "LineageParentMismatch)",
    }
