"""Session fixtures for the SDK tests: one real MLflow server and one local store, shared by all.

SDK test modules load this file as a plugin (``pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]``):
registered once, its session fixtures exist once per test session, whichever
modules ask for them. (``conftest.py`` belongs to the pipeline tests.)

- ``mlflow_server``: ``mlflow server`` on 127.0.0.1 and a free port (SQLite
  backend, proxied artifacts), in its own session, stopped by process group at the
  end. It is launched as soon as collection shows a test will need it (under pytest-xdist:
  at the first SDK test of the worker that has them), and the SDK tests that do not need it
  run first, so its ~10 s boot overlaps them.
- ``local_store``: a local SQLite store (copied from a migrated empty database).
- ``registry``: a ``ModelRegistry`` parametrized over ``server`` and ``local``, so
  every registry test runs against both; ``server_registry``: the server's alone.
- ``pipeline_on_server``: the pipeline run in-process against the server on the demo
  token's improving sample (baseline v1, the contribution v2, champion).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from hokusai.harness.mlflow_server import (
    HEALTH_TIMEOUT_SECONDS, MlflowServer, launch_mlflow_server, wait_for_health,
)

SERVER_FIXTURES = {"mlflow_server", "server_registry", "pipeline_on_server"}
_LAUNCHED: dict = {}  # the server launched at collection time, and its folder


def needs_server(item) -> bool:
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("registry") == "server"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Among the SDK tests, those that need no server first (stable), so they run while it boots."""
    positions = [i for i, item in enumerate(items)
                 if item.path.name.startswith("test_sdk_")]
    ordered = sorted((items[i] for i in positions), key=needs_server)
    for position, item in zip(positions, ordered):
        items[position] = item


def uses_session_fixtures(item) -> bool:
    """Whether ``item`` gets one of this file's session fixtures: under pytest-xdist, whether its worker
    runs SDK tests (each worker that does boots a server of its own)."""
    return any(definitions[-1].scope == "session" and definitions[-1].func.__module__ == __name__
               for definitions in item._fixtureinfo.name2fixturedefs.values())


def _launch(config) -> None:
    _LAUNCHED["root"] = Path(tempfile.mkdtemp(prefix="hokusai-sdk-"))
    _LAUNCHED["server"] = launch_mlflow_server(_LAUNCHED["root"] / "server")
    config.add_cleanup(_stop_launched)


def pytest_collection_finish(session):
    """Launch the server as soon as the session is known to need it (it is waited for on first use).

    A pytest-xdist worker collects every test but runs only its share (scripts/test: whole files):
    it launches the server at its first SDK test instead (``pytest_runtest_setup``), so a worker
    without SDK tests boots none (~16 CPU-s), still while the tests that need no server run.
    """
    if _LAUNCHED or session.config.option.collectonly or hasattr(session.config, "workerinput"):
        return
    if any(needs_server(item) for item in session.items):
        _launch(session.config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if (not _LAUNCHED and hasattr(item.config, "workerinput") and uses_session_fixtures(item)
            and any(needs_server(other) for other in item.session.items)):
        _launch(item.config)


def _stop_launched():
    if "server" in _LAUNCHED:
        _LAUNCHED.pop("server").stop()
    if "root" in _LAUNCHED:
        shutil.rmtree(_LAUNCHED.pop("root"), ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> MlflowServer:
    server = _LAUNCHED.get("server") or launch_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        wait_for_health(server, HEALTH_TIMEOUT_SECONDS)
        yield server
    finally:
        server.stop()


@dataclass
class LocalStore:
    uri: str
    cache_dir: Path


@pytest.fixture(scope="session")
def local_store(request, tmp_path_factory) -> LocalStore:
    from hokusai.core.local_store import prepare_sqlite_store

    root = tmp_path_factory.mktemp("sdk-local")
    try:  # the pipeline tests' cache, when present: its migrated empty database is already built
        cache_dir = Path(request.getfixturevalue("shared_cache"))
    except pytest.FixtureLookupError:
        cache_dir = root / "cache"
    store = LocalStore(f"sqlite:///{root / 'mlflow.db'}", cache_dir)
    prepare_sqlite_store(store.uri, store.cache_dir)
    return store


@pytest.fixture(scope="session", params=["server", "local"])
def registry(request):
    """A ModelRegistry on the real server, and on a local SQLite store."""
    from hokusai.core import ModelRegistry

    if request.param == "server":
        return ModelRegistry(request.getfixturevalue("mlflow_server").url)
    return ModelRegistry(request.getfixturevalue("local_store").uri)


@pytest.fixture(scope="session")
def server_registry(mlflow_server):
    from hokusai.core import ModelRegistry

    return ModelRegistry(mlflow_server.url)


@pytest.fixture(scope="session")
def pipeline_on_server(mlflow_server, local_store, tmp_path_factory):
    """The demo token's improving sample evaluated by the pipeline against the MLflow server: its outcome."""
    from hokusai.settings import load_settings
    from hokusai_assets.runner import DagsterRunner
    from hokusai_assets_tests.conftest import SAMPLES, WALLET

    home = tmp_path_factory.mktemp("pipeline-on-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(local_store.cache_dir),
                "MLFLOW_TRACKING_URI": mlflow_server.url})
    improving = DagsterRunner(load_settings(env), ephemeral=True).evaluate(SAMPLES / "improving.csv", "digits-demo",
                                                                         WALLET)
    assert improving.status == "evaluated", improving.reason
    return improving


# -- helpers for the tests ---------------------------------------------------------------
def random_wallet() -> str:
    return "0x" + secrets.token_hex(20)


def unique_token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def data_hash(seed: int | str) -> str:
    import hashlib

    return hashlib.sha256(str(seed).encode()).hexdigest()


_TINY_MODEL = []


def tiny_model():
    """A fitted scikit-learn model small enough to log in ~0.1 s."""
    if not _TINY_MODEL:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        _TINY_MODEL.append(LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1]))
    return _TINY_MODEL[0]


def five_metrics(accuracy: float, shift: float = 0.0) -> dict[str, float]:
    """The five benchmark metrics around ``accuracy``."""
    return {"accuracy": accuracy, "precision": accuracy - 0.01 + shift, "recall": accuracy - 0.02 + shift,
            "f1": accuracy - 0.015 + shift, "auroc": min(1.0, accuracy + 0.05 + shift)}
