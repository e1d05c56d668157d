"""``POST /api/v1/dspy/execute``: the route is reserved; it answers 501 until hokusai.dspy lands."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from hokusai.api.auth import require
from hokusai.api.problems import Problem
from hokusai.api.schemas import DspyExecute
from hokusai.api.scopes import DSPY_EXECUTE

router = APIRouter(prefix="/api/v1/dspy", tags=["dspy"])


# Out of the published schema until hokusai.dspy lands (a 501 is a server error to schema checkers).
@router.post("/execute", summary="Run a DSPy program (not implemented yet: 501)", include_in_schema=False,
             responses={501: {"description": "DSPy execution is not available in this release"}})
async def execute(body: DspyExecute, _principal=Depends(require(DSPY_EXECUTE))) -> None:
    raise Problem(501, "DSPy execution is not available in this release of the API", slug="not-implemented")
