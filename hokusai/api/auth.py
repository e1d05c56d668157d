"""Who is calling, what they may do, and how often: one dependency per protected route.

Every route but the public set (``PUBLIC_PATHS``, compared exactly) declares
``Depends(require(scope))``; a test walks the routes to keep it so. The bearer
token is an API key (``hk_…``) or a wallet session (``hks_…``). A failed attempt
counts against the client IP's bucket, so guessing keys is rate limited too.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hokusai.api.keys import KeyRejected, verify_key
from hokusai.api.problems import Problem
from hokusai.api.scopes import grants
from hokusai.api.sessions import SESSION_PREFIX, SessionRejected, verify_session
from hokusai.api.state import ApiState
from hokusai.api.throttle import Decision, LimiterUnavailable

PUBLIC_PATHS = frozenset({"/health", "/docs", "/openapi.json", "/api/v1/auth/siwe/nonce", "/api/v1/auth/siwe/verify"})
bearer = HTTPBearer(auto_error=False, description="An API key (hk_…) or a wallet session token (hks_…)")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hokusai"'}


@dataclass(frozen=True)
class Principal:
    kind: str  # "key" | "wallet"
    name: str  # the key's display prefix, or the wallet's address
    scopes: tuple[str, ...]
    wallet_address: str | None = None  # lowercase, for a wallet session

    @property
    def caller(self) -> str:
        return f"{self.kind}:{self.name.lower()}"

    def may_see_wallet(self, wallet_address: str) -> bool:
        """A wallet session sees only its own wallet's records; a key sees what its scopes allow."""
        return self.wallet_address is None or self.wallet_address == wallet_address.lower()


def api_state(request: Request) -> ApiState:
    return request.app.state.hokusai


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit(state: ApiState, bucket: str, caller: str) -> Decision:
    """Count one request; 429 over the limit, 503 when the backend is down (fail closed)."""
    try:
        decision = await state.limiter.hit(bucket, caller)
    except LimiterUnavailable:
        raise Problem(503, "rate limiting is unavailable, so requests are refused; retry shortly",
                      slug="rate-limiter-unavailable", headers={"Retry-After": "5"}) from None
    if not decision.allowed:
        raise Problem(429, f"rate limit of {decision.limit} requests per {decision.period} s reached; "
                      f"retry after {decision.headers()['Retry-After']} s", slug="rate-limited",
                      headers=decision.headers())
    return decision


async def identify(state: ApiState, token: str) -> Principal:
    """The principal behind a bearer token; Problem 401 saying why not."""
    try:
        if token.startswith(SESSION_PREFIX):
            session = verify_session(state.pepper, token)
            return Principal("wallet", session.address, session.scopes, session.address.lower())
        key = await state.db(verify_key, state.read_engine, state.pepper, token, None, state.key_cache)
        return Principal("key", key.display_prefix, key.scopes)
    except (KeyRejected, SessionRejected) as error:
        raise Problem(401, str(error), slug="unauthenticated", headers=_CHALLENGE) from None


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    state = api_state(request)
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        await limit(state, "api", f"ip:{client_ip(request)}")
        raise Problem(401, "authentication required: send 'Authorization: Bearer <API key or session token>'",
                      slug="unauthenticated", headers=_CHALLENGE)
    try:
        return await identify(state, credentials.credentials)
    except Problem:
        await limit(state, "api", f"ip:{client_ip(request)}")
        raise


def require(scope: str, bucket: str = "api"):
    """The dependency of a route that needs ``scope``: authenticated, authorized, counted."""

    async def dependency(request: Request, response: Response,
                         credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> Principal:
        principal = await authenticate(request, credentials)
        decision = await limit(api_state(request), bucket, principal.caller)  # refused requests count too
        response.headers.update(decision.headers())
        request.state.rate_limit_headers = decision.headers()
        if not grants(principal.scopes, scope):
            raise Problem(403, f"this {'key' if principal.kind == 'key' else 'session'} lacks the scope {scope!r}",
                          slug="missing-scope", extra={"required_scope": scope})
        request.state.principal = principal
        return principal

    dependency.required_scope = scope  # read by the test that walks the routes
    return dependency
