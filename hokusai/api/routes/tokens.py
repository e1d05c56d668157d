"""Tokens: each spec's summary, with its current champion from the registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from hokusai.api.auth import api_state, require
from hokusai.api.problems import Problem
from hokusai.api.schemas import TokenList, TokenSummary
from hokusai.api.scopes import MODELS_READ
from hokusai.rules.token_ids import is_token_id

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
TOKEN_ID = Path(max_length=64, pattern=r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$",
                description="lowercase letters, digits and hyphens")


def _summary(spec: Any, registry: Any) -> TokenSummary:
    from hokusai.core import CHAMPION_ALIAS

    champion = registry.get_alias(spec.model_name, CHAMPION_ALIAS)
    return TokenSummary(
        token_id=spec.token_id, model_name=spec.model_name, model_id_uint=str(spec.model_id_uint), task=spec.task,
        primary_metric=spec.primary_metric, metric_family=spec.metric_family,
        min_improvement_bps=spec.min_improvement_bps, benchmark_spec_id=spec.benchmark_spec_id,
        benchmark_rows_root=spec.benchmark_rows_root, label_column=spec.label_column,
        features=[{"name": f.name, "dtype": f.dtype} for f in spec.features],
        champion=None if champion is None else {
            "model_id": f"{champion.name}/{champion.version}", "version": champion.version,
            "run_id": champion.run_id, "model_uri": champion.model_uri,
            "weights_commitment": champion.weights_commitment},
    )


def _specs(tokens_dir) -> dict[str, Any]:
    from hokusai.tokens.spec import load_token_specs

    return load_token_specs(tokens_dir)


def _list(state) -> TokenList:
    return TokenList(tokens=[_summary(spec, state.registry) for spec in _specs(state.settings.tokens_dir).values()])


def _one(state, token_id: str) -> TokenSummary:
    if not is_token_id(token_id):
        raise Problem(400, f"{token_id!r} is not a token id")
    spec = _specs(state.settings.tokens_dir).get(token_id)
    if spec is None:
        raise Problem(404, f"no token {token_id!r}", slug="unknown-token")
    return _summary(spec, state.registry)


@router.get("", response_model=TokenList, summary="Every token: spec summary and champion")
async def list_tokens(request: Request, _principal=Depends(require(MODELS_READ))) -> TokenList:
    return await run_in_threadpool(_list, api_state(request))


@router.get("/{token_id}", response_model=TokenSummary, summary="One token: spec summary and champion")
async def get_token(request: Request, token_id: str = TOKEN_ID,
                    _principal=Depends(require(MODELS_READ))) -> TokenSummary:
    return await run_in_threadpool(_one, api_state(request), token_id)
