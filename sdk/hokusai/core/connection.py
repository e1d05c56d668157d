"""Where a registry is: the tracking URI (argument or ``MLFLOW_TRACKING_URI``), whether it answers, MLflow's noise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hokusai.core.errors import RegistryUnavailableError
from hokusai.core.local_store import sqlite_path
from hokusai.rules.redaction import redact_uri

TRACKING_URI_VAR = "MLFLOW_TRACKING_URI"


def require_reachable(tracking_uri: str, timeout: float = 5.0) -> None:
    """Fail at once, in words, when an MLflow server does not answer ``/health``.

    Without this, a stopped server surfaces as a urllib3 "Max retries exceeded" deep in
    whichever MLflow call came first. Local stores (SQLite, files) are always reachable.
    """
    import urllib.error
    import urllib.request

    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status} from /health"
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code} from /health"
    except (urllib.error.URLError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise RegistryUnavailableError(
        f"MLflow tracking server {redact_uri(tracking_uri)} is not answering ({problem}); "
        "check that it is running and that MLFLOW_TRACKING_URI points at it")


def quiet_mlflow() -> None:
    """No progress bars, and no pickle warning: pickles are loaded only after their commitment is checked."""
    import logging

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves the machine unasked
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run at" lines
    sklearn_logger = logging.getLogger("mlflow.sklearn")
    if not any(isinstance(f, _PickleWarningFilter) for f in sklearn_logger.filters):
        sklearn_logger.addFilter(_PickleWarningFilter())


class _PickleWarningFilter:
    def filter(self, record: Any) -> bool:
        return "pickle or cloudpickle" not in record.getMessage()



def tracking_uri_from_environment() -> str:
    """``MLFLOW_TRACKING_URI``, read by MLflow's own accessor; a clear error rather than MLflow's ``./mlruns``.

    The SDK is a library for third parties' code: like MLflow it takes the variable from the
    environment when no URI is passed (the platform passes its settings' URI).
    """
    from mlflow.environment_variables import MLFLOW_TRACKING_URI

    uri = MLFLOW_TRACKING_URI.get()
    if not uri:
        raise ValueError(f"no tracking URI given and {TRACKING_URI_VAR} is not set: pass one "
                         "(http(s)://host:port, sqlite:///path/mlflow.db) or set the variable")
    return uri


def normalized_tracking_uri(tracking_uri: str | Path) -> str:
    """A bare ``.db``/``.sqlite`` path becomes its ``sqlite:///`` URI; anything else is MLflow's to read."""
    text = str(tracking_uri)
    if "://" not in text and text.endswith((".db", ".sqlite")):
        return f"sqlite:///{Path(text).resolve()}"
    return text


def default_artifact_root(tracking_uri: str) -> str | None:
    """For a SQLite store, ``artifacts/`` beside the database; servers choose their own."""
    database = sqlite_path(tracking_uri)
    return (database.resolve().parent / "artifacts").as_uri() if database is not None else None
