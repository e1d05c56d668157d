"""Loading DSPy programs: from a YAML config, from a Python class, from a HuggingFace repository.

A config names the program's source (``source: {type: local, path, class_name}``) and the
signatures it uses (``signatures: {Name: {inputs, outputs, description}}``); the
signatures are built and registered, and the class is instantiated (with
``signatures=`` if its constructor takes them). Every failure is a ``DSPyLoadError``
that says what to fix.

A pickled program (``dspy.save(..., save_program=True)``, cloudpickle) runs code when it is
loaded: ``load_from_huggingface`` loads a pickle only with ``allow_pickle=True``; a repo's
YAML config or saved JSON state (with a program class) needs no such trust.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hokusai.dspy.runtime import import_dspy

SOURCE_TYPES = ("local",)


class DSPyLoadError(ValueError):
    """A DSPy program could not be loaded; the message says why."""


@dataclass
class LoadedProgram:
    """A program ready to execute, and where it came from."""

    model_id: str
    program: Any = field(repr=False)
    source: dict[str, Any]
    signatures: dict[str, type] = field(default_factory=dict, repr=False)
    version: str | None = None

    def input_fields(self) -> list[str]:
        """Inputs the program's predictors need (the first predictor's signature; ``forward``'s own
        parameters when they are named)."""
        forward = getattr(type(self.program), "forward", None)  # the class's: dspy warns on instance.forward
        if forward is not None:
            parameters = [p for p in inspect.signature(forward).parameters.values()
                          if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
            if parameters and not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(forward).parameters.values()):
                return [p.name for p in parameters if p.default is inspect.Parameter.empty]
        predictors = self.program.predictors() if hasattr(self.program, "predictors") else []
        return list(predictors[0].signature.input_fields) if predictors else []


def signature_from_mapping(name: str, entry: Any) -> type:
    """A ``dspy.Signature`` from a config entry ``{inputs: [...], outputs: [...], description}``."""
    dspy = import_dspy()
    where = f"signatures.{name}"
    if not isinstance(entry, dict):
        raise DSPyLoadError(f"{where}: expected a mapping with inputs and outputs, got {type(entry).__name__}")
    inputs, outputs = entry.get("inputs"), entry.get("outputs")
    for key, names in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise DSPyLoadError(f"{where}.{key}: expected a non-empty list of field names, got {names!r}")
    if set(inputs) & set(outputs):
        raise DSPyLoadError(f"{where}: {sorted(set(inputs) & set(outputs))} are both inputs and outputs")
    signature = dspy.Signature(f"{', '.join(inputs)} -> {', '.join(outputs)}", str(entry.get("description") or ""))
    return _named(signature, name)


def _named(signature: type, name: str) -> type:
    signature.__name__ = signature.__qualname__ = name
    return signature


def import_class(module_or_path: str | Path, class_name: str) -> type:
    """``class_name`` from a dotted module or a ``.py`` file; DSPyLoadError if either is missing."""
    text = str(module_or_path)
    if text.endswith(".py"):
        path = Path(text).resolve()
        if not path.is_file():
            raise DSPyLoadError(f"program source not found: {path}")
        module_name = f"hokusai_dspy_program_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            sys.modules.pop(module_name, None)
            raise DSPyLoadError(f"program source {path} failed to load: {type(error).__name__}: {error}") from error
    else:
        try:
            module = importlib.import_module(text)
        except ImportError as error:
            raise DSPyLoadError(f"cannot import module {text!r}: {error}") from error
        except Exception as error:
            raise DSPyLoadError(f"module {text!r} failed to load: {type(error).__name__}: {error}") from error
    program_class = getattr(module, class_name, None)
    if not isinstance(program_class, type):
        raise DSPyLoadError(f"{text} has no class {class_name!r}")
    return program_class


def instantiate(program_class: type, signatures: dict[str, type]) -> Any:
    """An instance of a program class; it must be a ``dspy.Module``."""
    dspy = import_dspy()
    if not issubclass(program_class, dspy.Module):
        raise DSPyLoadError(f"{program_class.__name__} is not a dspy.Module")
    try:
        takes = "signatures" in inspect.signature(program_class.__init__).parameters
        return program_class(signatures=signatures) if takes else program_class()
    except DSPyLoadError:
        raise
    except Exception as error:
        raise DSPyLoadError(f"{program_class.__name__}() failed: {type(error).__name__}: {error}") from error


class DSPyModelLoader:
    """Loads programs and keeps them by model id, for ``DSPyPipelineExecutor``."""

    def __init__(self, cache_dir: Path | None = None):
        self.cache_dir = cache_dir
        self.models: dict[str, LoadedProgram] = {}

    def get(self, model_id: str) -> LoadedProgram:
        if model_id not in self.models:
            known = ", ".join(sorted(self.models)) or "none"
            raise KeyError(f"no DSPy model {model_id!r} is loaded (loaded: {known})")
        return self.models[model_id]

    def _keep(self, loaded: LoadedProgram) -> LoadedProgram:
        self.models[loaded.model_id] = loaded
        return loaded

    def load_from_config(self, config_path: str | Path) -> LoadedProgram:
        """A program from a YAML config (``name``, ``version``, ``source``, ``signatures``)."""
        from hokusai.dspy.signatures import get_global_registry

        path = Path(config_path)
        try:
            config = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise DSPyLoadError(f"config not found: {path}") from None
        except yaml.YAMLError as error:
            raise DSPyLoadError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(config, dict) or not isinstance(config.get("name"), str) or not config["name"]:
            raise DSPyLoadError(f"{path}: a config needs a 'name'")
        raw_signatures = config.get("signatures") or {}
        if not isinstance(raw_signatures, dict):
            raise DSPyLoadError(f"{path}: signatures: expected a mapping of name to {{inputs, outputs}}")
        signatures = {name: signature_from_mapping(name, entry) for name, entry in raw_signatures.items()}
        registry = get_global_registry()
        for name, signature in signatures.items():
            if name not in registry:
                registry.register(signature, category=f"config:{config['name']}")
        source = config.get("source")
        version = None if config.get("version") is None else str(config["version"])
        if source is None:
            if len(signatures) != 1:
                raise DSPyLoadError(f"{path}: without a source, give exactly one signature (a dspy.Predict of it)")
            program = import_dspy().Predict(next(iter(signatures.values())))
            described = {"type": "signature", "signature": next(iter(signatures))}
        else:
            if not isinstance(source, dict) or source.get("type") not in SOURCE_TYPES:
                raise DSPyLoadError(f"{path}: source.type must be one of {', '.join(SOURCE_TYPES)}")
            if not source.get("path") or not source.get("class_name"):
                raise DSPyLoadError(f"{path}: source needs 'path' (a Python file) and 'class_name'")
            file = (path.parent / source["path"]).resolve()
            program = instantiate(import_class(file, source["class_name"]), signatures)
            described = {"type": "local", "path": str(file), "class_name": source["class_name"]}
        model_id = config.get("model_id") or (f"{config['name']}-v{version}" if version else config["name"])
        return self._keep(LoadedProgram(model_id, program, described, signatures, version))

    def load_from_class(self, module: str | Path, class_name: str, model_id: str | None = None,
                        signatures: dict[str, type] | None = None) -> LoadedProgram:
        """A program from a class in a dotted module (``my_models.EmailAssistant``) or a ``.py`` file."""
        program = instantiate(import_class(module, class_name), signatures or {})
        return self._keep(LoadedProgram(model_id or class_name, program,
                                        {"type": "class", "module": str(module), "class_name": class_name},
                                        dict(signatures or {})))

    def load_from_huggingface(self, repo_id: str, filename: str = "model.pkl", *, revision: str | None = None,
                              model_id: str | None = None, allow_pickle: bool = False,
                              local_files_only: bool = False, cache_dir: Path | None = None) -> LoadedProgram:
        """A program from a HuggingFace repository: a saved program (``.pkl``), or a YAML config.

        Uses ``huggingface_hub`` (its cache: ``cache_dir``, else the loader's). ``local_files_only``:
        no network, the cache must hold the file.
        """
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            raise DSPyLoadError("load_from_huggingface needs the huggingface_hub package") from None
        folder = cache_dir or self.cache_dir

        def download(name: str) -> Path:
            try:
                return Path(hf_hub_download(repo_id, name, revision=revision, local_files_only=local_files_only,
                                            cache_dir=str(folder) if folder else None))
            except Exception as error:
                raise DSPyLoadError(f"cannot get {name} from HuggingFace repo {repo_id}: "
                                    f"{type(error).__name__}: {error}") from error

        local = download(filename)
        if local.suffix in (".yaml", ".yml"):
            try:
                source = (yaml.safe_load(local.read_text()) or {}).get("source")
            except (yaml.YAMLError, AttributeError):
                source = None
            if isinstance(source, dict) and isinstance(source.get("path"), str):
                download(str(Path(filename).parent / source["path"]))  # the program's file, beside the config
            loaded = self.load_from_config(local)
            loaded.source = {"type": "huggingface", "repo_id": repo_id, "filename": filename, "config": loaded.source}
            return loaded
        if local.suffix != ".pkl":
            raise DSPyLoadError(f"{filename}: expected a saved program (.pkl) or a config (.yaml)")
        if not allow_pickle:
            raise DSPyLoadError(f"{repo_id}/{filename} is a pickle, which runs code when loaded: "
                                f"pass allow_pickle=True if you trust the repository")
        program = _load_pickled_program(local)
        return self._keep(LoadedProgram(model_id or repo_id.split("/")[-1], program,
                                        {"type": "huggingface", "repo_id": repo_id, "filename": filename,
                                         "revision": revision}))


def _load_pickled_program(path: Path) -> Any:
    """A whole program saved with cloudpickle (a file, or a ``dspy.save`` folder holding ``program.pkl``)."""
    import cloudpickle

    dspy = import_dspy()
    try:
        with open(path, "rb") as handle:
            program = cloudpickle.load(handle)
    except Exception as error:
        raise DSPyLoadError(f"{path.name} is not a loadable program: {type(error).__name__}: {error}") from error
    if not isinstance(program, dspy.Module):
        raise DSPyLoadError(f"{path.name} holds a {type(program).__name__}, not a dspy.Module")
    return program
