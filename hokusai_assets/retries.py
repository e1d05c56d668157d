"""Step retries for the assets that talk to the MLflow server.

A tracking server restarting, or a blip on the network, should cost a contribution a
few seconds, not a failed run: these steps retry with exponential backoff and jitter.
The intake steps have no retry policy: a rejected file is rejected, and retrying it
would only repeat the same verdict. MLflow's own HTTP retries
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, 7 by default, minutes of backoff) come first;
deployments lower them so the outage shows up in Dagster as a retry it can see.
"""

from dagster import Backoff, Jitter, RetryPolicy

from hokusai.settings import load_settings


def mlflow_retry_policy() -> RetryPolicy:
    """``HOKUSAI_STEP_RETRIES`` retries, the first after ``HOKUSAI_STEP_RETRY_DELAY_SECONDS``, then doubling."""
    settings = load_settings()
    return RetryPolicy(max_retries=settings.step_retries, delay=settings.step_retry_delay_seconds,
                       backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


MLFLOW_RETRY_POLICY = mlflow_retry_policy()
