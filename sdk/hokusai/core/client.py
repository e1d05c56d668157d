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

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hokusai.rules.weights import weights_commitment
from hokusai.core.entities import LoggedModelRef, ModelVersionRef
from hokusai.core.connection import (  # noqa: F401  (require_reachable: re-exported, the resources' import path)
    TRACKING_URI_VAR, default_artifact_root, normalized_tracking_uri, quiet_mlflow, require_reachable,
    tracking_uri_from_environment,
)
from hokusai.core.errors import ModelNotFoundError, RegistryError
from hokusai.core.local_store import prepare_sqlite_store, require_sql_store, sqlite_path
from hokusai.core.tags import CHAMPION_ALIAS, COMMITMENT_TAG
from hokusai.rules.redaction import redact_uri

MODEL_ARTIFACT_NAME = "model"
_SEARCH_PAGE = 1000
_RUN_ID_CHUNK = 100
_VERIFIED_MODELS: dict[tuple[str, str, int, str | None], Any] = {}
_VERIFIED_MODELS_LIMIT = 8


def sklearn_pip_requirements() -> list[str]:
    """Exact requirements for a pickled sklearn model (MLflow infers them slowly otherwise)."""
    from importlib.metadata import version

    return [f"scikit-learn=={version('scikit-learn')}", f"numpy=={version('numpy')}"]


DSPY_FLAVOR_MODULE = "hokusai.dspy.mlflow_model"  # the platform's; the SDK alone registers scikit-learn models


def _dspy_flavor(function: str) -> Any:
    """The platform's DSPy flavor (``hokusai.dspy``), which the SDK distribution does not ship.

    Imported by name only for a DSPy token model, so the SDK alone imports no platform code;
    without the platform installed, the error says what to install.
    """
    from importlib import import_module

    try:
        module = import_module("hokusai.dspy.mlflow_model")  # a literal, so the import-graph test sees it
    except ModuleNotFoundError as error:
        if error.name is not None and not DSPY_FLAVOR_MODULE.startswith(error.name):
            raise
        raise RegistryError(
            "this is a DSPy token model: logging or loading it needs the Hokusai Data Platform "
            f"(hokusai-data-platform, which ships {DSPY_FLAVOR_MODULE}); the SDK alone handles scikit-learn models"
        ) from None
    return getattr(module, function)


class RegistryClient:
    """MLflow tracking and registry calls for Hokusai models, at one tracking URI.

    ``tracking_uri``: an MLflow server (``http(s)://host:port``) or a local store
    (``sqlite:///path/mlflow.db``, or a bare path ending in ``.db``). For a local
    SQLite store without ``artifact_root``, artifacts go to ``artifacts/`` next to
    the database (not to ``./mlruns`` of whatever the working directory is).
    """

    def __init__(self, tracking_uri: str | None = None, artifact_root: str | None = None,
                 cache_dir: Path | None = None):
        tracking_uri = normalized_tracking_uri(tracking_uri or tracking_uri_from_environment())
        if sqlite_path(tracking_uri) is not None:
            require_sql_store(tracking_uri)  # before MLflow's import: a missing SQL store fails at once
        import mlflow
        from mlflow import MlflowClient

        if cache_dir is not None:
            prepare_sqlite_store(tracking_uri, Path(cache_dir))
        quiet_mlflow()
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root or default_artifact_root(tracking_uri)
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
            if getattr(model, "hokusai_flavor", None) == "dspy":  # its JSON state and source (hokusai.dspy)
                info = _dspy_flavor("log_dspy_model")(model, MODEL_ARTIFACT_NAME)
            else:
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

    @contextmanager
    def start_run(self, experiment_name: str, run_name: str | None = None,
                  tags: dict[str, Any] | None = None) -> Iterator[Any]:
        """An MLflow run (fluent: the metric helpers log to it), a child run inside another one."""
        import mlflow

        self.activate()
        experiment_id = self.ensure_experiment(experiment_name)
        nested = mlflow.active_run() is not None
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=nested,
                              tags={k: str(v) for k, v in (tags or {}).items()}) as run:
            yield run

    def record_run(self, experiment_id: str, run_name: str, tags: dict[str, Any], params: dict[str, Any]) -> str:
        """A finished run holding ``tags`` and ``params`` and no model (an attempt's record, a comparison)."""
        from mlflow.entities import Param

        run = self.client.create_run(experiment_id, run_name=run_name, tags={k: str(v) for k, v in tags.items()})
        self.client.log_batch(run.info.run_id, params=[Param(k, _param(v)) for k, v in params.items()])
        self.client.set_terminated(run.info.run_id)
        return run.info.run_id

    def experiment_name_of_run(self, run_id: str) -> str:
        return self.client.get_experiment(self.client.get_run(run_id).info.experiment_id).name

    def run_metrics(self, run_ids: list[str | None]) -> dict[str, dict[str, float]]:
        """The latest metrics of each run, in a few searches rather than one request per run."""
        from mlflow.entities import ViewType

        wanted = sorted({run_id for run_id in run_ids if run_id})
        if not wanted:
            return {}
        experiments, page_token = [], None
        while True:
            page = self.client.search_experiments(view_type=ViewType.ALL, max_results=1000, page_token=page_token)
            experiments.extend(e.experiment_id for e in page)
            page_token = page.token
            if not page_token:
                break
        found: dict[str, dict[str, float]] = {}
        for start in range(0, len(wanted), _RUN_ID_CHUNK):
            chunk = wanted[start:start + _RUN_ID_CHUNK]
            quoted = ", ".join(f"'{run_id}'" for run_id in chunk)
            runs = self.client.search_runs(experiments, f"attributes.run_id IN ({quoted})",
                                           run_view_type=ViewType.ALL, max_results=len(chunk))
            found.update({run.info.run_id: dict(run.data.metrics) for run in runs})
        return found

    def resolve_run_id(self, model_uri: str) -> str | None:
        """The run a model URI was logged in (``runs:/``, ``models:/m-…``, ``models:/name/version``, ``@alias``).

        Raises ModelNotFoundError when the URI names a run or model that does not exist;
        None for URIs with no run (a plain path).
        """
        from mlflow.exceptions import MlflowException

        if not isinstance(model_uri, str) or not model_uri:
            raise ValueError(f"model URI must be a non-empty string, got {model_uri!r}")
        try:
            if model_uri.startswith("runs:/"):
                run_id = model_uri[len("runs:/"):].split("/", 1)[0]
                return self.client.get_run(run_id).info.run_id
            if model_uri.startswith("models:/"):
                rest = model_uri[len("models:/"):]
                name, slash, version = rest.partition("/")
                if "@" in rest and not slash:
                    name, alias = rest.split("@", 1)
                    return self.client.get_model_version_by_alias(name, alias).run_id
                if slash:
                    return self.client.get_model_version(name, version.split("/", 1)[0]).run_id
                return self.client.get_logged_model(rest).source_run_id
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise ModelNotFoundError(f"{model_uri} does not exist at {redact_uri(self.tracking_uri)}") from None
            raise
        return None

    def logged_ref(self, model_uri: str) -> LoggedModelRef:
        """A model already logged (by URI) as a LoggedModelRef, with the commitment of its stored files."""
        return LoggedModelRef(self.resolve_run_id(model_uri) or "", model_uri, self.commitment_of(model_uri))

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

    def model_aliases(self, model_name: str) -> dict[str, int]:
        """Every alias of a registered model and the version it points at."""
        aliases = self.client.get_registered_model(model_name).aliases or {}
        return {alias: int(version) for alias, version in aliases.items()}

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
            if not (Path(local) / "model.pkl").exists() and any(Path(local).rglob("hokusai_dspy.json")):
                return _dspy_flavor("load_token_model")(Path(local))
            with open(Path(local) / "model.pkl", "rb") as handle:
                return pickle.load(handle)

    def _download(self, model_uri: str, scratch: str) -> Path:
        import mlflow.artifacts

        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch,
                                                        tracking_uri=self.tracking_uri))



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
