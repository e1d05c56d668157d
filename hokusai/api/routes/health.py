"""``GET /health``: public; dependency details only for an admin key; changes nothing."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from hokusai.rules.version import __version__
from hokusai.api.auth import api_state, bearer, client_ip, identify, limit
from hokusai.api.problems import Problem
from hokusai.api.schemas import Health
from hokusai.api.scopes import ADMIN

router = APIRouter(tags=["health"])


def _database_ok(engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _mlflow_ok(request: Request) -> dict:
    upstream = api_state(request).settings.mlflow_upstream_url
    if upstream is None:
        return {"ok": True, "mode": "local store (no server; the proxy answers 503)"}
    client = request.app.state.mlflow_client
    try:
        answer = await client.get(f"{upstream}/health", timeout=2)
        return {"ok": answer.status_code == 200, "mode": "server"}
    except Exception as error:
        return {"ok": False, "mode": "server", "error": type(error).__name__}


@router.get("/health", response_model=Health, response_model_exclude_none=True,
            summary="Status, and for an admin key the dependencies",
            # authentication is optional here: `{}` first says "none is also fine"
            openapi_extra={"security": [{}, {"HTTPBearer": []}]})
async def health(request: Request, response: Response) -> Health:
    state = api_state(request)
    principal = None
    credentials = await bearer(request)
    if credentials is not None:
        try:
            principal = await identify(state, credentials.credentials)
        except Problem:
            principal = None  # a bad key on /health just gets the public answer
    decision = await limit(state, "api", principal.caller if principal else f"ip:{client_ip(request)}")
    response.headers.update(decision.headers())
    database, limiter, mlflow = await asyncio.gather(
        run_in_threadpool(_database_ok, state.engine), state.limiter.check(), _mlflow_ok(request))
    ok = database and limiter and mlflow["ok"]
    details = None
    if principal is not None and ADMIN in principal.scopes:
        details = {"database": {"ok": database, "dialect": state.engine.dialect.name},
                   "rate_limiter": {"ok": limiter, "backend": "redis" if state.settings.api_redis_url else "memory"},
                   "mlflow": mlflow}
    if not ok:
        response.status_code = 503
    return Health(status="ok" if ok else "degraded", version=__version__, dependencies=details)
