"""Rate limits: a sliding (moving) window per caller, counted by the ``limits`` library.

Buckets: ``api`` (every route) and ``mlflow`` (the proxy, larger: one ``log_model``
is 30-40 requests). The caller is the API key (``key:<prefix>``), the signed-in
wallet (``wallet:<address>``) or, on unauthenticated routes only, the client IP.
Redis in production (every API process shares the counts), in-process memory on
the embedded default. A storage failure is ``LimiterUnavailable``: the API then
answers 503, never lets the request through (fails closed).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

log = logging.getLogger("hokusai.api")


class LimiterUnavailable(RuntimeError):
    """The counting backend (Redis) cannot be reached."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the oldest counted request leaves the window
    period: int

    def headers(self) -> dict[str, str]:
        """IETF draft RateLimit headers (and the policy they follow)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.period}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(self.reset_seconds, 1))
        return headers


class RateLimiter:
    """Moving-window limits over ``async+memory://`` or ``async+redis://``."""

    def __init__(self, storage_url: str | None, buckets: dict[str, tuple[int, int]]):
        from limits import RateLimitItemPerSecond
        from limits.aio.strategies import MovingWindowRateLimiter
        from limits.storage import storage_from_string

        if storage_url is None:
            uri = "async+memory://"
        elif storage_url.startswith(("redis://", "rediss://")):
            uri = "async+" + storage_url
        else:
            raise ValueError("the rate-limit backend must be a redis:// or rediss:// URL")
        options = {"implementation": "redispy"} if storage_url else {}
        # a quick failure, not a hang, when Redis is down: the request gets 503 at once
        if storage_url:
            options.update(socket_connect_timeout=1, socket_timeout=1)
        self.storage = storage_from_string(uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.items = {name: RateLimitItemPerSecond(amount, period, namespace=f"hokusai-{name}")
                      for name, (amount, period) in buckets.items()}

    async def hit(self, bucket: str, caller: str) -> Decision:
        item = self.items[bucket]
        try:
            allowed = await self.strategy.hit(item, caller)
            stats = await self.strategy.get_window_stats(item, caller)
        except Exception as error:  # redis-py's ConnectionError/TimeoutError, limits' own errors
            log.warning("rate-limit backend failed: %s", type(error).__name__, exc_info=True)
            raise LimiterUnavailable(type(error).__name__) from None
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, item.amount, max(0, stats.remaining), reset, item.get_expiry())

    async def check(self) -> bool:
        try:
            return bool(await self.storage.check())
        except Exception:
            return False
