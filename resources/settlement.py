"""The claims ledger (SQL) and the relayer's Redis, as resources.

Both URLs may carry a password: they come in as ``EnvVar``s (see
``resources.build_resources``), so the UI shows the variable's name, never its value.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Optional

from dagster import ConfigurableResource

from hokusai.settlement.queues import DEFAULT_QUEUES, RelayerQueues
from hokusai.settlement.outbox import RetryPolicy


class ClaimsLedgerResource(ConfigurableResource):
    """The platform's database: the claims outbox and the tokens' lineage chains (SQLite file by
    default, PostgreSQL in production)."""

    url: str

    def get_chain(self) -> Any:
        from hokusai.chain.ledger import Chain

        return Chain(self.url)

    def get_engine(self) -> Any:
        from hokusai.settlement import outbox  # noqa: F401  (declares the tables before they are created)
        from hokusai.settlement.database import ledger_engine

        return ledger_engine(self.url)

    def token_lock(self, token_id: str, on_wait: Callable[[str], None] | None = None) -> AbstractContextManager[None]:
        """Held while a step reads and sets the token's registry aliases (``hokusai.chain.token_lock``)."""
        from hokusai.chain.token_lock import token_lock

        return token_lock(self.get_engine(), token_id, on_wait=on_wait)


class RelayerResource(ConfigurableResource):
    """The relayer's Redis; without a URL there is no relayer and claims settle locally."""

    redis_url: Optional[str] = None
    budget_retry_seconds: Optional[int] = None

    @property
    def configured(self) -> bool:
        return bool(self.redis_url)

    def get_client(self) -> Any | None:
        from hokusai.settlement.queues import redis_client

        return redis_client(self.redis_url) if self.redis_url else None

    @property
    def queues(self) -> RelayerQueues:
        return DEFAULT_QUEUES

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(budget_retry_seconds=self.budget_retry_seconds)
