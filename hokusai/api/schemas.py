"""Request and response bodies: pydantic v2, unknown fields refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A response whose documents (lineage, impact, claims) carry the domain's own fields."""

    model_config = ConfigDict(extra="allow")


class Health(Strict):
    status: str = Field(description="ok, or degraded when a dependency is down")
    version: str
    dependencies: dict[str, dict[str, Any]] | None = Field(
        default=None, description="shown only to an admin key")


class RegisterModel(Strict):
    model_uri: str = Field(min_length=1, max_length=1000, description="runs:/<run_id>/model or models:/m-…")
    model_name: str = Field(min_length=1, max_length=256)
    token_id: str = Field(min_length=1, max_length=64)
    metric_name: str = Field(min_length=1, max_length=100)
    baseline_value: float
    additional_tags: dict[str, str] | None = Field(default=None, max_length=50)


class Contribution(Open):
    partition_key: str
    token_id: str
    wallet_address: str
    filename: str
    state: str = Field(description="queued, running, rejected, evaluated, failed, canceled or replaced")


class Uploaded(Strict):
    partition_key: str
    token_id: str
    wallet_address: str
    filename: str
    size: int
    etag: str
    created: bool = Field(description="false when the same bytes were uploaded before")


class FeatureSummary(Strict):
    name: str
    dtype: str


class TokenSummary(Strict):
    token_id: str
    model_name: str
    model_id_uint: str
    task: str
    primary_metric: str
    metric_family: str
    min_improvement_bps: int
    benchmark_spec_id: str
    # the benchmark's published commitment (spec benchmark.rows_root), when the token pins one
    benchmark_rows_root: str | None = None
    label_column: str
    features: list[FeatureSummary]
    champion: dict[str, Any] | None = None


class TokenList(Strict):
    tokens: list[TokenSummary]


class NonceIssued(Strict):
    nonce: str
    expires_at: int
    domain: str
    uri: str
    chain_id: int


class SignIn(Strict):
    message: str = Field(min_length=1, max_length=4096, description="the EIP-4361 message, exactly as signed")
    signature: str = Field(min_length=1, max_length=200, description="0x + 130 hex digits (personal_sign)")


class SessionIssued(Strict):
    token: str
    token_type: str = "Bearer"
    address: str
    scopes: list[str]
    expires_at: int


class DspyExecute(Strict):
    """One call (``inputs``) or a batch (``inputs_list``) of a served DSPy program (hokusai.dspy.service)."""

    model_id: str = Field(min_length=1, max_length=200, description="a program served from HOKUSAI_DSPY_PROGRAMS_DIR")
    inputs: dict[str, Any] | None = Field(default=None, description="the program's input fields: one call")
    inputs_list: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=1000,
                                                     description="a batch; each item succeeds or fails alone")
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)


class DspyResult(Open):
    """``outputs`` and ``usage`` for one call; ``results`` (each with ``success``) for a batch."""

    success: bool | None = None
    model_id: str
