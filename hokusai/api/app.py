"""The app factory: ``create_app(settings)`` wires state, routes, errors and the body limit."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from hokusai.rules.version import __version__
from hokusai.api import problems
from hokusai.api.body_limit import BodyLimit
from hokusai.api.state import ApiState
from hokusai.api.throttle import RateLimiter
from hokusai.contribution_status import RunState
from hokusai.settings import API_KEY_PEPPER_VAR, Settings, read_secret

DESCRIPTION = """The Hokusai Data Platform's REST API.

Authenticate with `Authorization: Bearer <API key>` (from `hokusai api-key create`) or with a wallet
session token from `POST /api/v1/auth/siwe/verify` (EIP-4361). Errors are `application/problem+json`.
The MLflow REST API is proxied under `/api/mlflow/` (`api/2.0/mlflow/`, `api/3.0/mlflow/`,
`api/2.0/mlflow-artifacts/`): point `MLFLOW_TRACKING_URI` at `<host>/api/mlflow` and set
`MLFLOW_TRACKING_TOKEN` to a key with `mlflow:read` / `mlflow:write`.
"""


def build_state(settings: Settings, run_state: RunState | None = None) -> ApiState:
    """The shared state; creates the key store's tables on first use."""
    from hokusai.api import keys, sessions  # noqa: F401  (their tables join METADATA before the engine is made)
    from hokusai.api.pepper import load_pepper
    from hokusai.settlement import outbox  # noqa: F401  (the claims table, read by the claim routes)
    from hokusai.api.state import read_engine_for
    from hokusai.settlement.database import ledger_engine

    engine = ledger_engine(settings.api_keys_database_url)
    pepper = load_pepper(settings.home, read_secret(API_KEY_PEPPER_VAR))
    limiter = RateLimiter(settings.api_redis_url, {
        "api": (settings.rate_limit_requests, settings.rate_limit_period),
        "mlflow": (settings.rate_limit_mlflow_requests, settings.rate_limit_period),
    })
    return ApiState(settings=settings, engine=engine, pepper=pepper, limiter=limiter, run_state=run_state,
                    read_engine=read_engine_for(engine), key_cache=keys.KeyCache(settings.api_key_cache_seconds))


def create_app(settings: Settings, *, run_state: RunState | None = None, state: ApiState | None = None) -> FastAPI:
    import httpx

    from hokusai.api.routes import claims, contributions, contributors, dspy, health, mlflow_proxy, models, sign_in
    from hokusai.api.routes import tokens

    shared = state or build_state(settings, run_state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        await app.state.mlflow_client.aclose()

    app = FastAPI(title="Hokusai Data Platform API", version=__version__, description=DESCRIPTION,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json",
                  swagger_ui_oauth2_redirect_url=None, lifespan=lifespan)
    app.router.redirect_slashes = False  # "/health/" is not "/health": no redirect, a 404
    app.state.hokusai = shared
    # No read timeout: a large artifact streams for as long as it takes; connecting must be quick.
    app.state.mlflow_client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0), follow_redirects=False,
                                                limits=httpx.Limits(max_connections=64))
    problems.install(app)
    for module in (health, sign_in, tokens, models, contributors, contributions, claims, dspy):
        app.include_router(module.router, responses=problems.DOCUMENTED)
    app.include_router(mlflow_proxy.router)
    app.add_middleware(BodyLimit, json_limit=1024 * 1024,
                       unlimited_prefixes=(mlflow_proxy.PREFIX, "/api/v1/contributions"))
    add_cors(app, settings.api_cors_origins)
    return app


# What a page's script may send and read; the bearer token travels in Authorization, never a cookie.
CORS_HEADERS = ["Authorization", "Content-Type"]
CORS_EXPOSED = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After",
                "WWW-Authenticate"]


def add_cors(app: FastAPI, origins: tuple[str, ...]) -> None:
    """CORS for exactly the configured origins (``HOKUSAI_API_CORS_ORIGINS``), outermost so that
    preflights and error answers (413, 429) get it too. None configured: no CORS at all. Without
    credentials: the API reads no cookies, so a browser never sends them on a page's behalf."""
    if not origins:
        return
    from starlette.middleware.cors import CORSMiddleware

    from hokusai.api.routes.mlflow_proxy import METHODS

    app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_credentials=False,
                       allow_methods=METHODS, allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSED, max_age=600)
