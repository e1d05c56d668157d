"""Running loaded DSPy programs: one call or a batch, with timeouts, per-item errors and usage.

``DSPyPipelineExecutor().execute(model_id, inputs)`` returns a JSON-able dict (what
``POST /api/v1/dspy/execute`` answers): the outputs, the LM's token usage, the latency,
and on failure ``success: false`` with the error, never a traceback. ``execute_batch``
gives one such result per item, so one bad item does not sink the batch.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import time
from typing import Any

from hokusai.dspy.loader import DSPyModelLoader
from hokusai.dspy.lms import build_lm
from hokusai.dspy.runtime import LMConfig, import_dspy, lm_config_from

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_BATCH_WORKERS = 4


class DSPyInputError(ValueError):
    """The inputs do not fit the program: missing or unknown fields, wrong types."""


def check_inputs(inputs: Any, required: list[str]) -> dict[str, Any]:
    """The inputs, if they are a mapping with every required field as a non-null scalar."""
    if not isinstance(inputs, dict):
        raise DSPyInputError(f"inputs must be an object of field values, got {type(inputs).__name__}")
    missing = [name for name in required if name not in inputs or inputs[name] is None]
    if missing:
        raise DSPyInputError(f"missing input fields: {', '.join(missing)} (the program needs {', '.join(required)})")
    wrong = [name for name, value in inputs.items() if not isinstance(value, (str, int, float, bool, list, dict))]
    if wrong:
        raise DSPyInputError(f"input fields of unsupported type: {', '.join(wrong)}")
    return dict(inputs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump())
    return str(value)


def add_usage(total: dict[str, dict[str, int]], usage: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Token counts per LM, summed (only the integer counters)."""
    for model, counts in (usage or {}).items():
        into = total.setdefault(model, {})
        for key, value in (counts or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                into[key] = into.get(key, 0) + value
    return total


class DSPyPipelineExecutor:
    """Executes programs a ``DSPyModelLoader`` holds, on one LM: ``lm``, else ``lm_config``'s, else the
    environment's (``HOKUSAI_DSPY_MODEL`` / ``HOKUSAI_DSPY_API_BASE``), else the deterministic local LM."""

    def __init__(self, loader: DSPyModelLoader | None = None, lm: Any = None, lm_config: LMConfig | None = None,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, max_workers: int = DEFAULT_BATCH_WORKERS):
        self.loader = loader or DSPyModelLoader()
        if lm_config is None and lm is None:  # the LM the environment chooses (HOKUSAI_DSPY_MODEL), else the local one
            from hokusai.settings import load_settings

            lm_config = lm_config_from(load_settings())
        self.lm_config = lm_config or LMConfig()
        self.lm = lm if lm is not None else build_lm(self.lm_config)
        self.timeout_seconds = timeout_seconds
        self.max_workers = max_workers
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers,
                                                           thread_name_prefix="hokusai-dspy")

    def _run(self, model_id: str, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        dspy = import_dspy()
        loaded = self.loader.get(model_id)
        checked = check_inputs(inputs, loaded.input_fields())
        with dspy.context(lm=self.lm, track_usage=True):
            prediction = loaded.program(**checked)
        outputs = dict(prediction.items()) if hasattr(prediction, "items") else {"output": prediction}
        usage = prediction.get_lm_usage() if hasattr(prediction, "get_lm_usage") else {}
        return _jsonable(outputs), add_usage({}, usage or {})

    def _submit(self, model_id: str, inputs: dict[str, Any]) -> concurrent.futures.Future:
        context = contextvars.copy_context()  # DSPy's settings are context variables
        return self._pool.submit(context.run, self._run, model_id, inputs)

    def _result(self, model_id: str, future: concurrent.futures.Future, started: float,
                timeout: float) -> dict[str, Any]:
        base = {"model_id": model_id}
        try:
            outputs, usage = future.result(timeout=max(timeout - (time.perf_counter() - started), 0.0))
        except concurrent.futures.TimeoutError:
            future.cancel()
            return {**base, "success": False, "error": {"type": "timeout", "message": f"no answer in {timeout:g} s"},
                    "outputs": None, "usage": {}, "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        except KeyError as error:
            return {**base, "success": False, "error": {"type": "unknown_model", "message": str(error.args[0])},
                    "outputs": None, "usage": {}, "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        except DSPyInputError as error:
            return {**base, "success": False, "error": {"type": "invalid_input", "message": str(error)},
                    "outputs": None, "usage": {}, "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        except Exception as error:  # the program or the LM failed: reported per item, never raised
            return {**base, "success": False,
                    "error": {"type": "execution_error", "message": f"{type(error).__name__}: {error}"},
                    "outputs": None, "usage": {}, "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        return {**base, "success": True, "outputs": outputs, "usage": usage,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3)}

    def execute(self, model_id: str, inputs: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Run one program call; a JSON-able result (``success``, ``outputs``, ``usage``, ``error``)."""
        started = time.perf_counter()
        return self._result(model_id, self._submit(model_id, inputs), started, timeout or self.timeout_seconds)

    def execute_batch(self, model_id: str, inputs_list: list[dict[str, Any]],
                      timeout: float | None = None) -> dict[str, Any]:
        """Run the program on each inputs (in parallel threads); results in order, with totals.

        ``timeout`` applies to each item, from the batch's start: a slow item fails alone.
        """
        if not isinstance(inputs_list, list):
            raise DSPyInputError(f"inputs_list must be a list, got {type(inputs_list).__name__}")
        started = time.perf_counter()
        futures = [self._submit(model_id, inputs) for inputs in inputs_list]
        results = [self._result(model_id, future, started, timeout or self.timeout_seconds) for future in futures]
        usage: dict[str, dict[str, int]] = {}
        for result in results:
            add_usage(usage, result["usage"])
        elapsed = time.perf_counter() - started
        return {"model_id": model_id, "results": results, "total": len(results),
                "succeeded": sum(r["success"] for r in results), "failed": sum(not r["success"] for r in results),
                "usage": usage, "elapsed_ms": round(elapsed * 1000, 3)}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
