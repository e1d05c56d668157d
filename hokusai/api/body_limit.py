"""A cap on request bodies (JSON routes: 1 MiB), enforced while reading, before any parsing.

The upload route enforces its own, larger cap as it streams; the MLflow proxy
streams without one (artifacts are large by nature; the key's scope governs it).
"""

from __future__ import annotations

from typing import Any

from hokusai.api.problems import problem_response


class BodyLimit:
    def __init__(self, app: Any, json_limit: int, unlimited_prefixes: tuple[str, ...] = ()):
        self.app, self.json_limit, self.unlimited_prefixes = app, json_limit, unlimited_prefixes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.unlimited_prefixes):
            await self.app(scope, receive, send)
            return
        limit = self.json_limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem_response(413, f"the request body is larger than {limit} bytes",
                                       slug="too-large")(scope, receive, send)
                return
        seen = 0
        refused = False

        async def counted_receive() -> dict:
            """Past the cap: answer 413 ourselves and tell the app the client has gone."""
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    await problem_response(413, f"the request body is larger than {limit} bytes",
                                           slug="too-large")(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            if not refused:  # after our 413, whatever the app answers is dropped
                await send(message)

        await self.app(scope, counted_receive, guarded_send)
