"""The registry client: the one place Hokusai's MLflow calls are made (log, register, tag, alias, search).

Models are stored with MLflow's sklearn flavour in pickle form: pickles of the same
fitted model are byte-identical, so a weights commitment is reproducible (skops
archives embed timestamps). A pickle runs code when loaded, so a model is only
loaded after its files are checked against the commitment recorded when it was
registered.

The pipeline uses this client directly; the SDK's ``ModelRegistry``
(``hokusai.core.registry``) is a facade over it. One client per tracking URI; several
may live in one process (each call points MLflow's fluent API at its own URI first),
but not used from several threads at once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hokusai.commitments import weights_commitment
from hokusai.core.entities import LoggedModelRef, ModelVersionRef
from hokusai.core.errors import ModelNotFoundError, RegistryError, RegistryUnavailableError
from hokusai.core.local_store import prepare_sqlite_store, sqlite_path
from hokusai.core.tags import CHAMPION_ALIAS, COMMITMENT_TAG
from hokusai.redaction import redact_uri

MODEL_ARTIFACT_NAME = "model"
TRACKING_URI_VAR = "MLFLOW_TRACKING_URI"
_VERIFIED_MODELS: dict[tuple[str, str, int, str | None], Any] = {}
_VERIFIED_MODELS_LIMIT = 8


def sklearn_pip_requirements() -> list[str]:
    """Exact requirements for a pickled sklearn model (MLflow infers them slowly otherwise)."""
    from importlib.metadata import version

    return [f"scikit-learn=={version('scikit-learn')}", f"numpy=={version('numpy')}"]


class RegistryClient:
    """MLflow tracking and registry calls for Hokusai models, at one tracking URI.

    ``tracking_uri``: an MLflow server (``http(s)://host:port``) or a local store
    (``sqlite:///path/mlflow.db``, or a bare path ending in ``.db``). For a local
    SQLite store without ``artifact_root``, artifacts go to ``artifacts/`` next to
    the database (not to ``./mlruns`` of whatever the working directory is).
    """

    def __init__(self, tracking_uri: str | None = None, artifact_root: str | None = None,
                 cache_dir: Path | None = None):
        import mlflow
        from mlflow import MlflowClient

        tracking_uri = _normalized_tracking_uri(tracking_uri or _tracking_uri_from_environment())
        if cache_dir is not None:
            prepare_sqlite_store(tracking_uri, Path(cache_dir))
        _quiet_mlflow()
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root or _default_artifact_root(tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def activate(self) -> None:
        """Point MLflow's fluent API (``mlflow.start_run``, ``register_model``) at this registry."""
        import mlflow

        if mlflow.get_tracking_uri() != self.tracking_uri:
            mlflow.set_tracking_uri(self.tracking_uri)
        if mlflow.get_registry_uri() != self.tracking_uri:
            mlflow.set_registry_uri(self.tracking_uri)

    # -- experiments and runs -------------------------------------------------
    def ensure_experiment(self, name: str) -> str:
        """The id of experiment ``name``, created (with our artifact root) if missing."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.artifact_root:
            location = f"{self.artifact_root.rstrip('/')}/{name.replace('/', '-')}"
        return self.client.create_experiment(name, artifact_location=location)

    def log_model_run(
        self,
        model: Any,
        *,
        experiment_name: str,
        run_name: str,
        params: dict[str, Any],
        run_tags: dict[str, str],
    ) -> LoggedModelRef:
        """Log ``model`` with its training params in a new run of ``experiment_name``.

        The weights commitment is computed from the files MLflow actually stored.
        """
        import mlflow
        import mlflow.sklearn

        self.activate()
        experiment_id = self.ensure_experiment(experiment_name)
        nested = mlflow.active_run() is not None  # inside ExperimentManager.start_experiment: a child run
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags, nested=nested) as run:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
            info = mlflow.sklearn.log_model(
                model,
                name=MODEL_ARTIFACT_NAME,
                serialization_format="pickle",
                pip_requirements=sklearn_pip_requirements(),
            )
            commitment = self.commitment_of(info.model_uri)
            mlflow.set_tag(COMMITMENT_TAG, commitment)
            return LoggedModelRef(run.info.run_id, info.model_uri, commitment)

    def log_run_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        """Add metrics to a finished run (the benchmark is measured after training)."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])

    def log_run_documents(self, run_id: str, documents: dict[str, Any], folder: str = "hokusai") -> list[str]:
        """Store JSON documents as artifacts of a run (with a server, in its artifact store, e.g. S3)."""
        paths = []
        for file_name, document in documents.items():
            path = f"{folder}/{file_name}"
            self.client.log_dict(run_id, document, path)
            paths.append(path)
        return paths

    def register_version(self, logged: LoggedModelRef, model_name: str, tags: dict[str, Any]) -> ModelVersionRef:
        """Register a logged model as a new version of ``model_name``, tagged (with its commitment)."""
        import contextlib
        import io

        import mlflow

        self.activate()
        # register_model prints "Successfully registered..." to stderr; the caller reports instead.
        with contextlib.redirect_stderr(io.StringIO()):
            version = mlflow.register_model(
                logged.model_uri, model_name, tags={**{k: str(v) for k, v in tags.items()},
                                                    COMMITMENT_TAG: logged.weights_commitment},
            )
        return self.get_version(model_name, int(version.version))

    def set_version_tags(self, model_name: str, version: int, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(model_name, str(version), key, str(value))

    # -- versions and aliases -------------------------------------------------
    def get_version(self, model_name: str, version: int) -> ModelVersionRef:
        found = self.client.get_model_version(model_name, str(version))
        return _ref(found)

    def get_alias(self, model_name: str, alias: str) -> ModelVersionRef | None:
        """The version behind ``alias``, or None if the model or alias does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return _ref(self.client.get_model_version_by_alias(model_name, alias))
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def set_alias(self, model_name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(model_name, alias, str(version))

    def move_champion_if_unchanged(self, model_name: str, new_version: int, expected_version: int) -> bool:
        """Compare-and-set of the champion alias: move it only if it is still ``expected_version``.

        MLflow has no atomic alias swap; the per-token run queue (one run per token
        at a time) closes the remaining window in production.
        """
        current = self.get_alias(model_name, CHAMPION_ALIAS)
        if current is None or current.version != expected_version:
            return False
        self.set_alias(model_name, CHAMPION_ALIAS, new_version)
        return True


    # -- searching ------------------------------------------------------------------
    def search_versions(self, filter_string: str) -> list[Any]:
        """Every MLflow model version matching ``filter_string``, all pages."""
        found, page_token = [], None
        while True:
            page = self.client.search_model_versions(filter_string, max_results=_SEARCH_PAGE, page_token=page_token)
            found.extend(page)
            page_token = page.token
            if not page_token:
                return found

    def require_version(self, model_name: str, version: int | str) -> Any:
        """The MLflow model version, or ModelNotFoundError."""
        from mlflow.exceptions import MlflowException

        if isinstance(version, bool) or not str(version).isdigit():
            raise ValueError(f"a model version is a positive integer, got {version!r}")
        try:
            return self.client.get_model_version(model_name, str(int(version)))
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise ModelNotFoundError(f"model {model_name!r} has no version {version}") from None
            raise

    # -- artifacts --------------------------------------------------------------
    def commitment_of(self, model_uri: str) -> str:
        """The weights commitment of the files stored for ``model_uri``."""
        with tempfile.TemporaryDirectory(prefix="hokusai-model-") as scratch:
            return weights_commitment(self._download(model_uri, scratch))

    def load_verified_model(self, ref: ModelVersionRef) -> Any:
        """Load a version's model after checking its files against its recorded commitment.

        A verified model is kept in memory (a few per process), so a warm process does not
        download and check the same champion for every contribution.
        """
        cache_key = (self.tracking_uri, ref.name, ref.version, ref.weights_commitment)
        if cache_key not in _VERIFIED_MODELS:
            if len(_VERIFIED_MODELS) >= _VERIFIED_MODELS_LIMIT:
                _VERIFIED_MODELS.pop(next(iter(_VERIFIED_MODELS)))
            _VERIFIED_MODELS[cache_key] = self._load_and_verify(ref)
        return _VERIFIED_MODELS[cache_key]

    def _load_and_verify(self, ref: ModelVersionRef) -> Any:
        import pickle

        expected = ref.weights_commitment
        if not expected:
            raise RegistryError(f"{ref.name} v{ref.version} has no '{COMMITMENT_TAG}' tag; refusing to load it")
        with tempfile.TemporaryDirectory(prefix="hokusai-model-") as scratch:
            local = self._download(ref.model_uri, scratch)
            actual = weights_commitment(local)
            if actual != expected:
                raise RegistryError(
                    f"{ref.name} v{ref.version}: stored files commit to {actual}, "
                    f"but the version was registered with {expected}; refusing to load it"
                )
            with open(Path(local) / "model.pkl", "rb") as handle:
                return pickle.load(handle)

    def _download(self, model_uri: str, scratch: str) -> Path:
        import mlflow.artifacts

        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch,
                                                        tracking_uri=self.tracking_uri))



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


def _quiet_mlflow() -> None:
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


_SEARCH_PAGE = 1000


def _tracking_uri_from_environment() -> str:
    """``MLFLOW_TRACKING_URI``, as MLflow itself reads it; a clear error rather than MLflow's ``./mlruns``."""
    uri = os.environ.get(TRACKING_URI_VAR)
    if not uri:
        raise ValueError(f"no tracking URI given and {TRACKING_URI_VAR} is not set: pass one "
                         "(http(s)://host:port, sqlite:///path/mlflow.db) or set the variable")
    return uri


def _normalized_tracking_uri(tracking_uri: str | Path) -> str:
    """A bare ``.db``/``.sqlite`` path becomes its ``sqlite:///`` URI; anything else is MLflow's to read."""
    text = str(tracking_uri)
    if "://" not in text and text.endswith((".db", ".sqlite")):
        return f"sqlite:///{Path(text).resolve()}"
    return text


def _default_artifact_root(tracking_uri: str) -> str | None:
    """For a SQLite store, ``artifacts/`` beside the database; servers choose their own."""
    database = sqlite_path(tracking_uri)
    return (database.resolve().parent / "artifacts").as_uri() if database is not None else None


def _ref(version: Any) -> ModelVersionRef:
    return ModelVersionRef(
        name=version.name,
        version=int(version.version),
        run_id=version.run_id,
        model_uri=f"models:/{version.name}/{version.version}",
        tags=dict(version.tags or {}),
    )


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."
