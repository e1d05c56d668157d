"""Wallet sign-in (EIP-4361): a single-use nonce, then a verified message buys a short session."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from hokusai.api.auth import api_state, client_ip, limit
from hokusai.api.problems import Problem
from hokusai.api.schemas import NonceIssued, SessionIssued, SignIn
from hokusai.api.sessions import consume_nonce, issue_nonce, issue_session
from hokusai.api.siwe import SiweError, parse_message, verify_sign_in

router = APIRouter(prefix="/api/v1/auth/siwe", tags=["sign-in"])


@router.post("/nonce", response_model=NonceIssued, summary="A nonce for one EIP-4361 message (5 minutes)")
async def nonce(request: Request, response: Response) -> NonceIssued:
    state = api_state(request)
    response.headers.update((await limit(state, "api", f"ip:{client_ip(request)}")).headers())
    value, expires_at = await run_in_threadpool(issue_nonce, state.engine)
    settings = state.settings
    return NonceIssued(nonce=value, expires_at=int(expires_at), domain=settings.siwe_domain, uri=settings.siwe_uri,
                       chain_id=settings.chain_id)


@router.post("/verify", response_model=SessionIssued, summary="Verify a signed message; a session token")
async def verify(body: SignIn, request: Request, response: Response) -> SessionIssued:
    state = api_state(request)
    settings = state.settings
    try:  # counted per address when the message names one, else per client IP
        caller = f"wallet:{parse_message(body.message).address.lower()}"
    except SiweError:
        caller = f"ip:{client_ip(request)}"
    response.headers.update((await limit(state, "api", caller)).headers())
    try:
        message = await run_in_threadpool(
            verify_sign_in, body.message, body.signature, domain=settings.siwe_domain, uri=settings.siwe_uri,
            chain_id=settings.chain_id, consume_nonce=lambda n: consume_nonce(state.engine, n))
    except SiweError as error:
        raise Problem(401, str(error), slug="sign-in-rejected") from None
    not_after = message.expiration_time.timestamp() if message.expiration_time else None
    token, session = issue_session(state.pepper, message.address, settings.siwe_session_seconds,
                                   now=time.time(), not_after=not_after)
    return SessionIssued(token=token, address=session.address, scopes=list(session.scopes),
                         expires_at=int(session.expires_at))
