"""``POST /api/v1/dspy/execute``: a served DSPy program on one input or a batch (hokusai.dspy.service)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from hokusai.api.auth import require
from hokusai.api.problems import Problem
from hokusai.api.schemas import DspyExecute, DspyResult
from hokusai.api.scopes import DSPY_EXECUTE

router = APIRouter(prefix="/api/v1/dspy", tags=["dspy"])
log = logging.getLogger("hokusai.api")


@router.post("/execute", response_model=DspyResult, response_model_exclude_none=True,
             summary="Run a DSPy program the API serves, on one input or a batch")
async def execute(body: DspyExecute, request: Request, _principal=Depends(require(DSPY_EXECUTE))) -> DspyResult:
    from hokusai.dspy.service import ServedProgramError, handle_execute

    state = request.app.state.hokusai
    try:
        executor = await run_in_threadpool(lambda: state.dspy_executor)
    except ServedProgramError as error:
        log.error("DSPy program config %s did not load: %s", error.config, error.problem)
        raise Problem(503, f"the served DSPy programs could not be loaded ({error.config}); "
                           "the API's log says why") from None
    status, payload = await run_in_threadpool(handle_execute, executor, body.model_dump(exclude_none=True))
    if status != 200:
        error = payload.get("error") or {}
        raise Problem(status, error.get("message") or "the DSPy call failed",
                      extra={"error_type": error.get("type", "error")})
    return DspyResult(**payload)
