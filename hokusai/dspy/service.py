"""What ``POST /api/v1/dspy/execute`` calls: a JSON body in, an HTTP status and a JSON body out.

Body: ``{"model_id": "...", "inputs": {...}}`` for one call, or ``{"model_id": "...",
"inputs_list": [{...}, ...]}`` for a batch; optional ``timeout_seconds``. The route stays
a thin adapter: the rules (what a body must hold, which failure is which status) live here.
"""

from __future__ import annotations

from typing import Any

from hokusai.dspy.executor import DSPyPipelineExecutor
from hokusai.dspy.loader import DSPyLoadError, DSPyModelLoader
from hokusai.dspy.runtime import lm_config_from

MAX_TIMEOUT_SECONDS = 600.0
MAX_BATCH_ITEMS = 1000
STATUS_FOR_ERROR = {"invalid_input": 422, "unknown_model": 404, "timeout": 504, "execution_error": 502}


def _problem(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"success": False, "error": {"type": "bad_request" if status == 400 else "error",
                                                "message": message}}


def handle_execute(executor: DSPyPipelineExecutor, body: Any) -> tuple[int, dict[str, Any]]:
    """(status, JSON-able body) for one execute request; never raises for a bad request."""
    if not isinstance(body, dict):
        return _problem(400, "the body must be a JSON object")
    model_id = body.get("model_id")
    if not isinstance(model_id, str) or not model_id:
        return _problem(400, "model_id: required, a non-empty string")
    if ("inputs" in body) == ("inputs_list" in body):
        return _problem(400, "give exactly one of inputs (one call) or inputs_list (a batch)")
    timeout = body.get("timeout_seconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout <= MAX_TIMEOUT_SECONDS):
        return _problem(400, f"timeout_seconds: a number in (0, {MAX_TIMEOUT_SECONDS:g}]")
    if model_id not in executor.loader.models:
        return 404, {"success": False, "model_id": model_id,
                     "error": {"type": "unknown_model", "message": f"no DSPy model {model_id!r} is loaded"}}
    if "inputs" in body:
        result = executor.execute(model_id=model_id, inputs=body["inputs"], timeout=timeout)
        return (200 if result["success"] else STATUS_FOR_ERROR.get(result["error"]["type"], 500)), result
    items = body["inputs_list"]
    if not isinstance(items, list) or not items:
        return _problem(400, "inputs_list: a non-empty list of input objects")
    if len(items) > MAX_BATCH_ITEMS:
        return _problem(400, f"inputs_list: at most {MAX_BATCH_ITEMS} items, got {len(items)}")
    return 200, executor.execute_batch(model_id=model_id, inputs_list=items, timeout=timeout)


def serving_executor(settings: Any) -> DSPyPipelineExecutor:
    """The executor of the programs the API serves: every ``*.yaml`` config in
    ``settings.dspy_programs_dir`` (none when unset), on the settings' LM (the local one by default).

    A config that fails to load raises ``ServedProgramError`` naming the config file: a
    misconfigured server says so on every call rather than serving part of its programs silently.
    """
    loader = DSPyModelLoader()
    folder = getattr(settings, "dspy_programs_dir", None)
    for config in sorted(folder.glob("*.yaml")) if folder is not None else ():
        try:
            loader.load_from_config(config)
        except DSPyLoadError as error:
            raise ServedProgramError(config.name, str(error)) from None
    return DSPyPipelineExecutor(loader, lm_config=lm_config_from(settings))


class ServedProgramError(Exception):
    """A served program's config did not load: ``config`` is its file name (a client may see it),
    ``problem`` the loader's message (it names server paths: for the server's log only)."""

    def __init__(self, config: str, problem: str):
        super().__init__(f"{config}: {problem}")
        self.config, self.problem = config, problem
