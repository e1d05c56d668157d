"""A claim: its attestation, its signed mint request, its settlement state. A session sees its own."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from hokusai.api.auth import Principal, api_state, require
from hokusai.api.problems import Problem
from hokusai.api.schemas import Open
from hokusai.api.scopes import CONTRIBUTORS_READ

router = APIRouter(prefix="/api/v1/claims", tags=["claims"])
KEY = Path(pattern=r"^0x[0-9a-f]{64}$", description="the claim's idempotency key: 0x + 64 lowercase hex digits")
_SETTLEMENT = ("status", "attempt", "settled_by", "reward_amount", "tx_hash", "block_number", "gas_used", "error",
               "settled_at", "recorded_at", "published_at", "updated_at")


def _claim(state, idempotency_key: str) -> tuple[Any, dict[str, Any] | None]:
    from hokusai.claims.documents import output_dir_for
    from hokusai.settlement.outbox import get_claim

    row = get_claim(state.read_engine, idempotency_key)
    if row is None:
        return None, None
    attestation = None
    if row.partition_key:
        path = output_dir_for(state.settings.outputs_dir, row.partition_key) / "attestation.json"
        if path.is_file():
            attestation = json.loads(path.read_text(encoding="utf-8"))
    return row, attestation


def _owner(row: Any) -> str | None:
    """The contributor wallet of the claim (from its partition key, else the signed message)."""
    if row.partition_key:
        return row.partition_key.split("/")[1]
    contributors = json.loads(row.message).get("contributors") or []
    return (contributors[0].get("wallet_address") or contributors[0].get("walletAddress") or "").lower() \
        if len(contributors) == 1 else None


@router.get("/{idempotency_key}", response_model=Open, summary="Attestation, mint request, settlement state")
async def get(request: Request, idempotency_key: str = KEY,
              principal: Principal = Depends(require(CONTRIBUTORS_READ))) -> dict[str, Any]:
    state = api_state(request)
    row, attestation = await state.db(_claim, state, idempotency_key)
    owner = None if row is None else _owner(row)
    if row is None or (principal.wallet_address is not None and owner != principal.wallet_address):
        raise Problem(404, f"no claim {idempotency_key}", slug="unknown-claim")
    return {"idempotency_key": row.idempotency_key, "token_id": row.token_id, "partition_key": row.partition_key,
            "model_id": row.model_id, "model_id_uint": row.model_id_uint, "eval_id": row.eval_id,
            "attestation_hash": row.attestation_hash, "deadline": row.deadline,
            "settlement": {name: getattr(row, name) for name in _SETTLEMENT},
            "mint_request": json.loads(row.message), "attestation": attestation}
