"""``/api/mlflow/*``: the MLflow REST API behind our keys, streamed both ways, never buffered.

Only MLflow's API paths pass (``ALLOWED_PREFIXES``, matched on the raw path after
refusing ``..``, encoded slashes and backslashes). ``mlflow:read`` for GET and HEAD,
``mlflow:write`` for the rest, counted in the proxy's own bucket. Upstream sees
MLflow's own ``Host`` and none of the client's ``Authorization``, ``Origin``,
cookies or method-override headers (MLflow 3 refuses a foreign Host or Origin); the browser
sees none of MLflow's CORS headers, only the API's own.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from hokusai.api.auth import api_state, authenticate, bearer, limit
from hokusai.api.problems import Problem
from hokusai.api.scopes import MLFLOW_READ, MLFLOW_WRITE, grants

PREFIX = "/api/mlflow/"
ALLOWED_PREFIXES = ("api/2.0/mlflow/", "api/3.0/mlflow/", "api/2.0/mlflow-artifacts/")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
READ_METHODS = frozenset({"GET", "HEAD"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade"})
DROPPED_REQUEST = HOP_BY_HOP | {"host", "authorization", "origin", "cookie", "referer", "x-http-method-override",
                                "x-http-method", "x-method-override", "forwarded", "x-forwarded-for",
                                "x-forwarded-host", "x-forwarded-proto"}
# MLflow's own CORS answers never reach the browser: the API's CORS (HOKUSAI_API_CORS_ORIGINS) decides.
DROPPED_RESPONSE = HOP_BY_HOP | {"set-cookie", "server", "date", "access-control-allow-origin",
                                 "access-control-allow-credentials", "access-control-allow-methods",
                                 "access-control-allow-headers", "access-control-expose-headers",
                                 "access-control-max-age"}
_UNSAFE = re.compile(r"(^|/)\.\.?(/|$)|%2e|%2f|%5c|\\|//", re.IGNORECASE)

router = APIRouter()


def upstream_path(raw_path: bytes) -> str:
    """The MLflow path for a raw request path; Problem 404 unless it is one of MLflow's APIs."""
    raw_path = raw_path.split(b"?", 1)[0]  # some servers hand the query in raw_path too
    try:
        path = raw_path.decode("ascii")
    except UnicodeDecodeError:
        raise Problem(400, "the request path must be ASCII (percent-encode the rest)") from None
    if not path.startswith(PREFIX):
        raise Problem(404, "not an MLflow proxy path")
    rest = path[len(PREFIX):]
    if _UNSAFE.search(rest):
        raise Problem(400, "the MLflow path must not contain '.', '..' segments, empty segments, "
                      "backslashes or encoded dots and slashes", slug="unsafe-path")
    if not rest.startswith(ALLOWED_PREFIXES):
        raise Problem(404, f"only MLflow's API is proxied: {', '.join(PREFIX + p for p in ALLOWED_PREFIXES)}",
                      slug="not-proxied")
    return "/" + rest


@router.api_route(PREFIX + "{mlflow_path:path}", methods=METHODS, include_in_schema=False)
async def proxy(request: Request, mlflow_path: str) -> StreamingResponse:
    state = api_state(request)
    path = upstream_path(request.scope.get("raw_path") or request.url.path.encode())
    principal = await authenticate(request, await bearer(request))
    decision = await limit(state, "mlflow", principal.caller)
    request.state.rate_limit_headers = decision.headers()
    needed = MLFLOW_READ if request.method in READ_METHODS else MLFLOW_WRITE
    if not grants(principal.scopes, needed):
        raise Problem(403, f"this key lacks the scope {needed!r}", slug="missing-scope",
                      extra={"required_scope": needed})
    upstream = state.settings.mlflow_upstream_url
    if upstream is None:
        raise Problem(503, "no MLflow server is configured for the proxy (set HOKUSAI_API_MLFLOW_URL)",
                      slug="mlflow-unconfigured")
    headers = [(name, value) for name, value in request.headers.items() if name.lower() not in DROPPED_REQUEST]
    headers.append(("host", urlsplit(upstream).netloc))
    query = request.url.query
    client = request.app.state.mlflow_client
    has_body = request.method not in READ_METHODS and (
        "content-length" in request.headers or "transfer-encoding" in request.headers)
    outgoing = client.build_request(request.method, f"{upstream}{path}" + (f"?{query}" if query else ""),
                                    headers=headers, content=request.stream() if has_body else None)
    try:
        answer = await client.send(outgoing, stream=True)
    except Exception as error:  # httpx's connect/timeout/protocol errors
        raise Problem(502, f"the MLflow server did not answer ({type(error).__name__})", slug="mlflow-unreachable",
                      headers={"Retry-After": "5"}) from None
    response_headers = {name: value for name, value in answer.headers.items() if name.lower() not in DROPPED_RESPONSE}
    response_headers.update(decision.headers())
    return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=response_headers,
                             background=BackgroundTask(answer.aclose))
