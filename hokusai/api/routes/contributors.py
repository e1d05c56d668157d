"""A contributor's impact across models; a wallet session sees only its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from hokusai.api.auth import Principal, api_state, require
from hokusai.api.problems import Problem
from hokusai.api.routes.registry_errors import registry_call
from hokusai.api.schemas import Open
from hokusai.api.scopes import CONTRIBUTORS_READ

router = APIRouter(prefix="/api/v1/contributors", tags=["contributors"])
ADDRESS = Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x + 40 hex digits (EIP-55 checked when mixed case)")


@router.get("/{address}/impact", response_model=Open, summary="Every version the contributor's data produced")
async def impact(request: Request, address: str = ADDRESS,
                 principal: Principal = Depends(require(CONTRIBUTORS_READ))) -> dict[str, Any]:
    if not principal.may_see_wallet(address):
        raise Problem(403, "a wallet session sees only its own impact", slug="other-wallet")
    return await registry_call(api_state(request).registry.get_contributor_impact, address)
