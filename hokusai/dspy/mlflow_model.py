"""A DSPy token model in MLflow: a pyfunc model whose files are its JSON state and source.

Not the ``mlflow.dspy`` flavour: it cloudpickles the program (not canonical, and code
runs on load), ``mlflow.dspy.load_model`` overwrites the global DSPy settings, and
``mlflow.dspy.autolog`` writes every demo field (contributor data) into run params;
autolog is turned off here. ``pip_requirements`` are given: inferring them costs ~12 s.

The stored files: ``data/program/{program.json, hokusai_dspy.json[, program_source.py]}``
plus MLflow's environment files (fixed text); the weights commitment covers them all.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hokusai.dspy.token_model import META_FILE, DSPyTokenModel

DATA_FOLDER = "program"


def dspy_pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"dspy=={version('dspy')}", f"mlflow=={version('mlflow')}", f"pandas=={version('pandas')}"]


def log_dspy_model(model: DSPyTokenModel, name: str) -> Any:
    """Log ``model`` in the active run as a pyfunc model; MLflow's ModelInfo."""
    import mlflow.pyfunc

    disable_dspy_autolog()
    with tempfile.TemporaryDirectory(prefix="hokusai-dspy-") as scratch:
        folder = model.save(Path(scratch) / DATA_FOLDER)
        return mlflow.pyfunc.log_model(name=name, loader_module=__name__, data_path=str(folder),
                                       pip_requirements=dspy_pip_requirements())


def save_dspy_model(model: DSPyTokenModel, path: Path) -> Path:
    """The same files ``log_dspy_model`` stores, at ``path`` (``hokusai reproduce`` commits to them)."""
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="hokusai-dspy-") as scratch:
        folder = model.save(Path(scratch) / DATA_FOLDER)
        mlflow.pyfunc.save_model(str(path), loader_module=__name__, data_path=str(folder),
                                 pip_requirements=dspy_pip_requirements())
    return Path(path)


def disable_dspy_autolog() -> None:
    import mlflow.dspy

    mlflow.dspy.autolog(disable=True)


def find_saved_program(model_dir: Path) -> Path | None:
    """The saved program's folder inside a downloaded model, if it is a DSPy token model."""
    matches = sorted(Path(model_dir).rglob(META_FILE))
    return matches[0].parent if matches else None


def load_token_model(model_dir: Path) -> DSPyTokenModel:
    folder = find_saved_program(model_dir)
    if folder is None:
        raise ValueError(f"{model_dir} holds no DSPy token model ({META_FILE} missing)")
    return DSPyTokenModel.load(folder)


class _Served:
    """What ``mlflow.pyfunc.load_model`` gives: rows of inputs in, the program's answers out."""

    def __init__(self, model: DSPyTokenModel):
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[Any]:
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return list(self.model.predict(frame[self.model.input_fields].astype(str).to_numpy(dtype=object)))


def _load_pyfunc(data_path: str) -> _Served:
    """MLflow's pyfunc loader hook (``loader_module``)."""
    return _Served(DSPyTokenModel.load(Path(data_path)))
