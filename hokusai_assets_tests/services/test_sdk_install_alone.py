"""The SDK installs on its own: ``pip install ./sdk`` into a fresh virtual environment, no extras,
then every SDK module imports and the integration guide's examples run against a real MLflow server.

What it proves: the SDK distribution declares every package it imports (an undeclared one fails
the import of every module here), ships no platform code, and pulls neither Dagster, Great
Expectations nor DSPy. It needs PyPI (or the machine's configured index) and takes about a minute
and a half, most of it pip; pip's cache is used when there is one. Its installed size is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hokusai.harness.mlflow_server import HEALTH_TIMEOUT_SECONDS, launch_mlflow_server, wait_for_health
from hokusai.settings import REPO_ROOT

# The SDK examples; api_mlflow_guide.py talks to the platform's REST API and examples/dspy/ needs its DSPy flavor.
EXAMPLES = ("quick_example", "register_models", "contributor_impact")
PLATFORM_ONLY = ("dagster", "great_expectations", "dspy", "hokusai_assets", "hokusai.chain", "hokusai.claims",
                 "hokusai.settings")
SIZE_CEILING_MB = 450  # measured: the SDK ~330 MB, the platform ~1000 MB (bench/RESULTS.md, "The SDK alone")

# The installed size of a distribution and of everything it requires (no extras): the files
# their RECORDs list, without bytecode (which depends on how pip was run). Run in either interpreter.
CLOSURE_SIZE = """
import json, sys
from importlib.metadata import PackageNotFoundError, distribution
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
def closure_size(root):
    seen, todo, total = set(), [root], 0
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:  # an optional dependency not installed here
            continue
        for file in dist.files or []:
            path = file.locate()
            if path.suffix != ".pyc" and path.is_file():
                total += path.stat().st_size
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return {"distributions": len(seen), "megabytes": round(total / 1e6)}
"""

IMPORT_ALL = """
import importlib, importlib.util, json, pkgutil, sys
import hokusai
names = []
for package in ("hokusai.core", "hokusai.tracking", "hokusai.rules"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
def present(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
print(json.dumps({"modules": names, "hokusai_path": list(hokusai.__path__),
                  "present": [name for name in sys.argv[1:] if present(name)]}))
"""


RUN_EXAMPLES = """
import contextlib, io, json, runpy, sys
folder, names = sys.argv[1], sys.argv[2:]
sys.path.insert(0, folder)
outputs = {}
for name in names:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path(f"{folder}/{name}.py", run_name="__main__")
    outputs[name] = json.loads(printed.getvalue())
print(json.dumps(outputs))
"""


def _clean_environment(**extra: str) -> dict[str, str]:
    """The machine's environment without anything that would put this repository on ``sys.path``."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    return env | {"PYTHONNOUSERSITE": "1", **extra}


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def closure_size(python: str | Path, distribution: str, cwd: Path) -> dict:
    code = CLOSURE_SIZE + f"print(json.dumps(closure_size({distribution!r})))"
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=cwd, env=_clean_environment())
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def own_mlflow_server(tmp_path_factory):
    """A server of its own (the examples register fixed model names, which test_sdk_examples checks
    too), launched first so that it boots while pip installs; waited for where it is used."""
    server = launch_mlflow_server(tmp_path_factory.mktemp("mlflow-sdk-alone"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sdk_venv(own_mlflow_server):
    """A fresh venv with ``pip install ./sdk`` (not editable: the wheel's files only)."""
    with tempfile.TemporaryDirectory(prefix="hokusai-sdk-alone-") as scratch:
        venv = Path(scratch) / "venv"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_environment())
        python = venv / "bin" / "python"
        # a copy of sdk/, so the build leaves nothing (build/, *.egg-info) in the work tree
        source = Path(scratch) / "sdk"
        shutil.copytree(REPO_ROOT / "sdk", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        # --no-compile: bytecode only for what is imported, when it is (the examples import a fraction)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-compile", str(source)],
            capture_output=True, text=True, env=_clean_environment(), cwd=scratch)
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        yield {"python": python, "site_packages": _site_packages(venv), "scratch": Path(scratch),
               "install_seconds": time.monotonic() - started}


def test_every_sdk_module_imports_with_only_the_declared_dependencies(sdk_venv, capsys):
    result = subprocess.run([str(sdk_venv["python"]), "-c", IMPORT_ALL, *PLATFORM_ONLY], capture_output=True,
                            text=True, env=_clean_environment(), cwd=sdk_venv["scratch"])
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)
    expected = {f"hokusai.{p.relative_to(REPO_ROOT / 'sdk' / 'hokusai').with_suffix('').as_posix().replace('/', '.')}"
                .removesuffix(".__init__") for p in (REPO_ROOT / "sdk" / "hokusai").rglob("*.py")}
    assert set(seen["modules"]) == expected  # every module of sdk/ was installed and imported
    assert seen["hokusai_path"] == [str(sdk_venv["site_packages"] / "hokusai")]  # no repository portion
    assert seen["present"] == [], f"platform packages in the SDK's environment: {seen['present']}"
    sdk = closure_size(sdk_venv["python"], "hokusai-sdk", sdk_venv["scratch"])
    platform = closure_size(sys.executable, "hokusai-data-platform", sdk_venv["scratch"])  # this test's own env
    with capsys.disabled():
        print(f"\ninstalled size without bytecode: hokusai-sdk alone {sdk['megabytes']} MB "
              f"({sdk['distributions']} distributions), hokusai-data-platform {platform['megabytes']} MB "
              f"({platform['distributions']}); the SDK's venv and install took {sdk_venv['install_seconds']:.0f} s")
    assert sdk["megabytes"] < SIZE_CEILING_MB, f"the SDK alone installs {sdk}: a heavy dependency crept in?"
    assert platform["distributions"] > sdk["distributions"]  # the measure sees the platform's closure too


def test_the_sdk_examples_run_in_the_sdk_alone(sdk_venv, own_mlflow_server):
    """The examples as ``python examples/X.py`` runs them (as ``__main__``, their folder on
    ``sys.path``, each printing a JSON result), all three in one interpreter of the SDK's venv:
    a fresh one each would cost MLflow's import three times."""
    wait_for_health(own_mlflow_server, HEALTH_TIMEOUT_SECONDS)
    run = subprocess.run([str(sdk_venv["python"]), "-c", RUN_EXAMPLES, str(REPO_ROOT / "examples"), *EXAMPLES],
                         capture_output=True, text=True, cwd=sdk_venv["scratch"], timeout=600,
                         env=_clean_environment(MLFLOW_TRACKING_URI=own_mlflow_server.url))
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = json.loads(run.stdout.splitlines()[-1])
    quick = outputs["quick_example"]
    assert quick["improved"] == "hokusai-example-quick/2" and quick["alias"] == "champion"
    assert quick["delta_one_bps"] >= 100 and quick["eligible"] is True and quick["attestation_hash"].startswith("0x")
    digits = outputs["register_models"]
    assert digits["tokenized"] == "example-digits-release/1" and [s["role"] for s in digits["lineage"]] == [
        "baseline", "improvement"]
    impact = outputs["contributor_impact"]
    assert impact["total_contributions"] == 2 and impact["tokens"] == ["example-even", "example-odd"]


def test_a_local_sqlite_store_without_the_local_extra_says_what_to_install(sdk_venv):
    """mlflow-skinny has no SQL store: a ``sqlite:///`` URI fails at once, before MLflow is imported."""
    code = ("import sys\nfrom hokusai.core import ModelRegistry\n"
            "try:\n    ModelRegistry('sqlite:///x.db')\nexcept ValueError as e:\n    print(e)\n"
            "print('mlflow imported' if 'mlflow' in sys.modules else 'mlflow not imported')\n")
    run = subprocess.run([str(sdk_venv["python"]), "-c", code], capture_output=True, text=True,
                         cwd=sdk_venv["scratch"], env=_clean_environment())
    assert run.returncode == 0, run.stderr[-2000:]
    assert "pip install 'hokusai-sdk[local]'" in run.stdout and "sqlalchemy" in run.stdout, run.stdout
    assert run.stdout.splitlines()[-1] == "mlflow not imported"
    assert not (sdk_venv["scratch"] / "x.db").exists()
