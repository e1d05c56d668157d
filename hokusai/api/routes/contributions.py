"""Contributions: upload a file into the drop zone (as an S3 drop would land), and see where it stands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hokusai.api.auth import Principal, api_state, require
from hokusai.api.problems import Problem
from hokusai.api.schemas import Contribution, Uploaded
from hokusai.api.scopes import CONTRIBUTIONS_WRITE, CONTRIBUTORS_READ
from hokusai.api.uploads import Spool, UploadTooLarge
from hokusai.contribution_status import DropConflict, contribution_status, drop_spooled, drop_target
from hokusai.drops.keys import InvalidDropError, known_token_ids, parse_partition_key

router = APIRouter(prefix="/api/v1/contributions", tags=["contributions"])
_UPLOAD_BODY = {"requestBody": {"required": True, "description": "the file's bytes, sent as they are",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}}


async def _spool(request: Request, folder: Path, cap: int) -> tuple[Spool, str]:
    """The body streamed to a spool file in bounded memory; 413 as soon as it passes ``cap``
    (before reading anything when Content-Length announces more). The caller discards the spool."""
    announced = request.headers.get("content-length")
    if announced is not None:
        if not announced.isdigit():
            raise Problem(400, "Content-Length must be a decimal number")
        if int(announced) > cap:
            raise Problem(413, str(UploadTooLarge(cap, int(announced))), slug="too-large")
    spool = await run_in_threadpool(Spool, folder, cap)
    try:
        async for chunk in request.stream():
            if spool.add(chunk):
                await run_in_threadpool(spool.flush)
        if spool.size == 0:
            raise Problem(400, "the upload is empty: send the file's bytes as the request body", slug="empty-upload")
        md5_hex = await run_in_threadpool(spool.finish)
    except UploadTooLarge as error:
        spool.discard()
        raise Problem(413, str(error), slug="too-large") from None
    except BaseException:  # a client gone mid-upload, a cancelled task, a full disk: no spool left behind
        spool.discard()  # a close and an unlink, not awaited: it must run even when the task is cancelled
        raise
    return spool, md5_hex


@router.post("", status_code=201, response_model=Uploaded, openapi_extra=_UPLOAD_BODY,
             summary="Upload a file for a token; it is evaluated like an S3 drop. Returns the partition key")
async def upload(request: Request, response: Response,
                 token_id: str = Query(min_length=1, max_length=64),
                 filename: str = Query(min_length=1, max_length=255, description="e.g. rows.csv; its type by extension"),
                 wallet_address: str | None = Query(default=None, pattern=r"^0x[0-9a-fA-F]{40}$",
                                                    description="required with an API key; a session uses its own"),
                 principal: Principal = Depends(require(CONTRIBUTIONS_WRITE))) -> Uploaded:
    if (request.headers.get("content-type") or "").lower().startswith("multipart/"):
        raise Problem(415, "send the file's bytes as the body (application/octet-stream), not a multipart form",
                      slug="unsupported-media-type")
    wallet = wallet_address
    if principal.wallet_address is not None:
        if wallet is not None and wallet.lower() != principal.wallet_address:
            raise Problem(403, "a wallet session uploads only for its own wallet", slug="other-wallet")
        wallet = principal.wallet_address
    if wallet is None:
        raise Problem(400, "wallet_address is required with an API key", slug="missing-wallet")
    state = api_state(request)
    try:  # the name is checked before a byte of the body is read
        target = drop_target(token_id, wallet, filename, known_token_ids(state.settings.tokens_dir))
    except InvalidDropError as error:
        raise Problem(400, str(error), slug="invalid-drop") from None
    spool, md5_hex = await _spool(request, state.settings.upload_spool_dir, state.settings.max_upload_bytes)
    try:
        key, stored, created = await run_in_threadpool(drop_spooled, state.store, target, spool.path, md5_hex)
    except DropConflict as error:
        raise Problem(409, str(error), slug="name-taken") from None
    finally:
        spool.discard()  # already renamed into a local drop zone, or a file to delete
    if not created:
        response.status_code = 200
    object_key = key.rpartition("@")[0]
    token, wallet_lower, name = object_key.split("/")
    return Uploaded(partition_key=key, token_id=token, wallet_address=wallet_lower, filename=name, size=stored.size,
                    etag=stored.etag, created=created)


def _latest_claim(engine: Any, partition_key: str) -> Any | None:
    from hokusai.settlement.outbox import claims

    query = (select(claims.c.idempotency_key, claims.c.status).where(claims.c.partition_key == partition_key)
             .order_by(claims.c.recorded_at.desc()).limit(1))
    with engine.connect() as connection:
        return connection.execute(query).one_or_none()


@router.get("/{partition_key:path}", response_model=Contribution,
            summary="queued, running, rejected (reasons), evaluated (DeltaOne, verdict, claim state)")
async def status(partition_key: str, request: Request,
                 principal: Principal = Depends(require(CONTRIBUTORS_READ))) -> dict[str, Any]:
    try:
        object_key, _ = parse_partition_key(partition_key)
    except ValueError as error:
        raise Problem(400, str(error), slug="invalid-partition-key") from None
    if not principal.may_see_wallet(object_key.split("/")[1]):
        raise Problem(404, f"no contribution {partition_key!r} for this wallet", slug="unknown-contribution")
    state = api_state(request)
    try:
        return await state.db(
            lambda: contribution_status(partition_key, outputs_dir=state.settings.outputs_dir, store=state.store,
                                        claim_for_partition=lambda key: _latest_claim(state.read_engine, key),
                                        run_state=state.run_state), network=state.remote_run_states)
    except LookupError as error:
        raise Problem(404, str(error), slug="unknown-contribution") from None
