"""Errors as RFC 9457 ``application/problem+json``: a type, a title, and a detail a client can act on.

Unexpected exceptions become a 500 that names nothing of the internals (the
exception is logged server-side, without request headers).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_TYPE = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
log = logging.getLogger("hokusai.api")
PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "instance": {"type": "string"}}, "additionalProperties": True}
# Every route may answer these, always as problem+json (declared so clients and schemathesis know).
DOCUMENTED = {status: {"description": _TITLES[status], "content": {PROBLEM_TYPE: {"schema": PROBLEM_SCHEMA}}}
              for status in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 501, 502, 503, 504)}


class Problem(Exception):
    """Raise anywhere in a route: the client gets this status, detail and headers."""

    def __init__(self, status: int, detail: str, *, slug: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra or {}
        self.slug = slug or _TITLES.get(status, "error").lower().replace(" ", "-")


def problem_response(status: int, detail: str, *, slug: str | None = None, headers: dict[str, str] | None = None,
                     extra: dict[str, Any] | None = None, instance: str | None = None) -> JSONResponse:
    slug = slug or _TITLES.get(status, "error").lower().replace(" ", "-")
    body = {"type": f"urn:hokusai:problem:{slug}", "title": _TITLES.get(status, "Error"), "status": status,
            "detail": detail, **(extra or {})}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the offending input (it may be a secret someone pasted)."""
    return [{"location": [str(part) for part in item.get("loc", ())], "message": item.get("msg", "invalid")}
            for item in error.errors()]


def _counted(request: Request, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The request's rate-limit headers (set once it was counted), so an error reports them too."""
    return {**getattr(request.state, "rate_limit_headers", {}), **(headers or {})}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.detail, slug=error.slug, headers=_counted(request, error.headers),
                                extra=error.extra, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(error)
        first = errors[0] if errors else {"location": [], "message": "invalid request"}
        detail = f"{'.'.join(first['location'])}: {first['message']}" if first["location"] else first["message"]
        return problem_response(422, detail, slug="invalid-request", extra={"errors": errors},
                                headers=_counted(request), instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else _TITLES.get(error.status_code, "error")
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.url.path}"
        if error.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(error.status_code, detail, headers=_counted(request, getattr(error, "headers", None)),
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(error).__name__,
                  exc_info=error)
        return problem_response(500, "internal error; the operator's log has the details", slug="internal",
                                instance=request.url.path)
