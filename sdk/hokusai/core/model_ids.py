"""What the SDK calls a ``model_id``: ``"{registered model name}/{version}"``.

A model id names one registered model version, e.g. ``hokusai-digits-demo/3``. It
is the same string as the version's MLflow URI without ``models:/``, so
``models:/hokusai-digits-demo/3`` is accepted too. MLflow forbids ``/`` and ``:``
in registered model names, so the split is unambiguous. Where a whole model is
meant (lineage), a bare name is accepted as well.
"""

from __future__ import annotations

MODELS_URI_PREFIX = "models:/"


def validate_model_name(name: str) -> str:
    """A registered model name MLflow accepts and that is safe inside a search filter."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model name is empty")
    bad = [c for c in ("/", ":", "'", '"', "\\") if c in name]
    if bad or name != name.strip():
        raise ValueError(f"model name {name!r} must not contain {' '.join(bad) or 'outer spaces'}")
    return name


def format_model_id(name: str, version: int | str) -> str:
    return f"{name}/{int(version)}"


def parse_model_id(model_id: str, *, version_required: bool = True) -> tuple[str, int | None]:
    """``(name, version)`` of ``"name/version"`` (or ``models:/name/version``, or a bare name)."""
    if not isinstance(model_id, str) or not model_id:
        raise ValueError(f"model id must be 'name/version', got {model_id!r}")
    text = model_id[len(MODELS_URI_PREFIX):] if model_id.startswith(MODELS_URI_PREFIX) else model_id
    name, slash, version = text.partition("/")
    if not slash:
        if version_required:
            raise ValueError(f"model id {model_id!r} has no version; expected 'name/version'")
        return validate_model_name(name), None
    if not version.isdigit() or int(version) < 1:
        raise ValueError(f"model id {model_id!r}: the version must be a positive integer")
    return validate_model_name(name), int(version)
