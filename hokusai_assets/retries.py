"""Step retries for the assets that talk to the MLflow server.

A tracking server restarting, or a blip on the network, should cost a contribution a
few seconds, not a failed run: these steps retry with exponential backoff and jitter.
The intake steps have no retry policy: a rejected file is rejected, and retrying it
would only repeat the same verdict. MLflow's own HTTP retries
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, 7 by default, minutes of backoff) come first;
deployments lower them so the outage shows up in Dagster as a retry it can see.

Dagster keeps a retry policy on each asset's op, fixed when the asset is built. So these
assets are declared with ``@mlflow_step`` and built by ``build_definitions`` from the
settings it is given (``HOKUSAI_STEP_RETRIES``, ``HOKUSAI_STEP_RETRY_DELAY_SECONDS``),
not from the environment at import time.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetsDefinition, Backoff, Jitter, RetryPolicy, asset

from hokusai.settings import Settings


def mlflow_retry_policy(settings: Settings) -> RetryPolicy:
    """``step_retries`` retries, the first after ``step_retry_delay_seconds``, then doubling."""
    return RetryPolicy(max_retries=settings.step_retries, delay=settings.step_retry_delay_seconds,
                       backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


@dataclass(frozen=True)
class MlflowStep:
    """An asset that talks to MLflow, waiting for the retry policy the settings give it."""

    compute: Callable[..., Any]
    asset_args: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.compute.__name__

    def build(self, policy: RetryPolicy) -> AssetsDefinition:
        return asset(retry_policy=policy, **self.asset_args)(self.compute)


def mlflow_step(**asset_args: Any) -> Callable[[Callable[..., Any]], MlflowStep]:
    """``@asset(**asset_args)`` with the retry policy left to ``build_definitions``."""
    return lambda compute: MlflowStep(compute, asset_args)
