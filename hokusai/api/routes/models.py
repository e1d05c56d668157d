"""Models: register a tokenized version; a version's lineage (``model_id`` is ``name/version``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from hokusai.api.auth import api_state, require
from hokusai.api.routes.registry_errors import registry_call
from hokusai.api.schemas import Open, RegisterModel
from hokusai.api.scopes import MODELS_READ, MODELS_REGISTER

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.post("/register", response_model=Open, summary="Register a logged model as a token's model version")
async def register(body: RegisterModel, request: Request,
                   _principal=Depends(require(MODELS_REGISTER))) -> dict[str, Any]:
    registry = api_state(request).registry
    return await registry_call(registry.register_tokenized_model, body.model_uri, body.model_name, body.token_id,
                               body.metric_name, body.baseline_value, body.additional_tags)


@router.get("/{model_id:path}/lineage", response_model=Open,
            summary="Baseline and every improvement: contributor, data hash, metrics, DeltaOne, verdict")
async def lineage(model_id: str, request: Request, _principal=Depends(require(MODELS_READ))) -> dict[str, Any]:
    registry = api_state(request).registry
    return await registry_call(registry.get_model_lineage, model_id)
