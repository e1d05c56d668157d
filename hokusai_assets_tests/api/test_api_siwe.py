"""Wallet sign-in (EIP-4361): a session for a real signature; refused for a replayed nonce, a wrong
domain, URI or chain, an expired or stale message, a foreign signer; and a wallet session sees only
its own wallet's contributions, claims and impact."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from hokusai_assets_tests.api_fixtures import api_harness, run

ALICE = Account.from_key("0x" + "11" * 32)
BOB = Account.from_key("0x" + "22" * 32)


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_cache):
    return api_harness(tmp_path_factory.mktemp("api-siwe"), shared_cache, {"RATE_LIMIT_REQUESTS": "100000"})


def message(api, nonce: str, account=ALICE, *, domain=None, uri=None, chain_id=None, issued_at=None,
            expiration=None) -> str:
    settings = api.settings
    issued_at = issued_at or datetime.now(timezone.utc)
    lines = [f"{domain or settings.siwe_domain} wants you to sign in with your Ethereum account:", account.address,
             "", "Sign in to Hokusai.", "", f"URI: {uri or settings.siwe_uri}", "Version: 1",
             f"Chain ID: {chain_id or settings.chain_id}", f"Nonce: {nonce}",
             f"Issued At: {issued_at.isoformat().replace('+00:00', 'Z')}"]
    if expiration is not None:
        lines.append(f"Expiration Time: {expiration.isoformat().replace('+00:00', 'Z')}")
    return "\n".join(lines)


def sign(text: str, account=ALICE) -> str:
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


async def _nonce(client) -> str:
    answer = await client.post("/api/v1/auth/siwe/nonce")
    assert answer.status_code == 200
    return answer.json()["nonce"]


async def _sign_in(api, account=ALICE, **message_options):
    async with api.client() as client:
        text = message(api, await _nonce(client), account, **message_options)
        return await client.post("/api/v1/auth/siwe/verify", json={"message": text, "signature": sign(text, account)})


def test_sign_in_then_a_replay_of_the_same_message_fails(api):
    async def scenario():
        async with api.client() as client:
            nonce_answer = await client.post("/api/v1/auth/siwe/nonce")
            body = nonce_answer.json()
            assert body["domain"] == api.settings.siwe_domain and body["chain_id"] == api.settings.chain_id
            text = message(api, body["nonce"])
            signed = {"message": text, "signature": sign(text)}
            first = await client.post("/api/v1/auth/siwe/verify", json=signed)
            replay = await client.post("/api/v1/auth/siwe/verify", json=signed)
            return first, replay

    first, replay = run(scenario())
    assert first.status_code == 200, first.text
    session = first.json()
    assert session["address"] == ALICE.address and session["token"].startswith("hks_")
    assert set(session["scopes"]) == {"models:read", "contributions:write", "contributors:read"}
    assert session["expires_at"] <= time.time() + api.settings.siwe_session_seconds + 1
    assert replay.status_code == 401 and "nonce" in replay.json()["detail"]


def test_concurrent_verifications_of_one_message_only_one_wins(api):
    async def scenario():
        async with api.client() as client:
            text = message(api, await _nonce(client))
            signed = {"message": text, "signature": sign(text)}
            return await asyncio.gather(*(client.post("/api/v1/auth/siwe/verify", json=signed) for _ in range(6)))

    statuses = sorted(answer.status_code for answer in run(scenario()))
    assert statuses == [200] + [401] * 5


@pytest.mark.parametrize("options,reason", [
    ({"domain": "evil.example"}, "domain"),
    ({"uri": "https://evil.example"}, "URI"),
    ({"chain_id": 1}, "chain"),
    ({"expiration": -timedelta(seconds=5)}, "expired"),
    ({"issued_at": -timedelta(minutes=6)}, "issued"),
    ({"issued_at": timedelta(minutes=5)}, "future"),
])
def test_wrong_domain_uri_chain_or_time_is_refused(api, options, reason):
    # times as offsets from now, taken when the test runs: under pytest-xdist a module may run many
    # minutes after collection, when an instant fixed at import is no longer in the future
    now = datetime.now(timezone.utc)
    options = {key: now + value if isinstance(value, timedelta) else value for key, value in options.items()}
    answer = run(_sign_in(api, **options))
    assert answer.status_code == 401 and reason in answer.json()["detail"], answer.text


def test_bad_signatures_and_messages(api):
    async def scenario():
        async with api.client() as client:
            text = message(api, await _nonce(client))
            answers = [
                await client.post("/api/v1/auth/siwe/verify", json={"message": text, "signature": sign(text, BOB)}),
                await client.post("/api/v1/auth/siwe/verify", json={"message": text, "signature": "0x1234"}),
                await client.post("/api/v1/auth/siwe/verify", json={"message": text, "signature": "0x" + "00" * 65}),
                await client.post("/api/v1/auth/siwe/verify", json={"message": "hello", "signature": sign("hello")}),
                await client.post("/api/v1/auth/siwe/verify",
                                  json={"message": message(api, "unknownnonce1"), "signature": sign(
                                      message(api, "unknownnonce1"))}),
                await client.post("/api/v1/auth/siwe/verify", json={"message": text}),
                await client.post("/api/v1/auth/siwe/verify", json={"message": text, "signature": sign(text),
                                                                    "extra": 1}),
            ]
            lower = text.replace(ALICE.address, ALICE.address.lower())
            answers.append(await client.post("/api/v1/auth/siwe/verify",
                                             json={"message": lower, "signature": sign(lower)}))
            # the nonce survived all of that: the genuine signature still signs in once
            answers.append(await client.post("/api/v1/auth/siwe/verify", json={"message": text, "signature": sign(text)}))
            return answers

    answers = run(scenario())
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 401, 422, 422, 401, 200]
    assert "not made by" in answers[0].json()["detail"]
    assert "checksum" in answers[7].json()["detail"]


def test_a_wallet_session_sees_only_its_own_wallet(api):
    from sqlalchemy import insert

    from hokusai.settlement.outbox import claim_messages, claims

    alice = run(_sign_in(api, ALICE)).json()["token"]
    bob = run(_sign_in(api, BOB)).json()["token"]
    tampered = alice[:-2] + ("AA" if not alice.endswith("AA") else "BB")

    async def scenario():
        async with api.client(alice) as as_alice, api.client(bob) as as_bob, api.client(tampered) as forged:
            up = await as_alice.post("/api/v1/contributions", params={"token_id": "digits-demo", "filename": "rows.csv"},
                                     content=b"a,b\n1,2\n", headers={"content-type": "application/octet-stream"})
            other = await as_alice.post("/api/v1/contributions", params={
                "token_id": "digits-demo", "filename": "rows.csv", "wallet_address": BOB.address}, content=b"a\n1\n")
            key = up.json()["partition_key"]
            mine = await as_alice.get(f"/api/v1/contributions/{key}")
            theirs = await as_bob.get(f"/api/v1/contributions/{key}")
            impact_mine = await as_alice.get(f"/api/v1/contributors/{ALICE.address}/impact")
            impact_theirs = await as_alice.get(f"/api/v1/contributors/{BOB.address}/impact")
            register = await as_alice.post("/api/v1/models/register", json={})
            forged_answer = await forged.get(f"/api/v1/contributions/{key}")
            return up, other, key, mine, theirs, impact_mine, impact_theirs, register, forged_answer

    up, other, key, mine, theirs, impact_mine, impact_theirs, register, forged = run(scenario())
    assert up.status_code == 201 and up.json()["wallet_address"] == ALICE.address.lower()
    assert other.status_code == 403
    assert mine.status_code == 200 and mine.json()["state"] == "queued"
    assert theirs.status_code == 404
    assert impact_mine.status_code == 200 and impact_mine.json()["total_contributions"] == 0
    assert impact_theirs.status_code == 403
    assert register.status_code == 403  # a session has contributor scopes only
    assert forged.status_code == 401
    idempotency_key = "0x" + "5e" * 32
    with api.state.engine.begin() as connection:
        connection.execute(insert(claims).values(
            idempotency_key=idempotency_key, attestation_hash="0x" + "aa" * 32, model_id="m", model_id_uint="1",
            eval_id="e", token_id="digits-demo", partition_key=key, deadline=0,
            status="published", attempt=1, error_retries=0, recorded_at=time.time(), updated_at=time.time()))
        connection.execute(insert(claim_messages).values(idempotency_key=idempotency_key,
                                                         message='{"contributors": []}'))

    async def claims_scenario():
        async with api.client(alice) as as_alice, api.client(bob) as as_bob:
            return (await as_alice.get(f"/api/v1/claims/{idempotency_key}"),
                    await as_bob.get(f"/api/v1/claims/{idempotency_key}"),
                    await as_alice.get(f"/api/v1/contributions/{key}"))

    own_claim, foreign_claim, _ = run(claims_scenario())
    assert own_claim.status_code == 200 and own_claim.json()["settlement"]["status"] == "published"
    assert foreign_claim.status_code == 404
