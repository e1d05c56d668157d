"""Contributions by API: the upload lands in the drop zone as an S3 drop would (same key, same
partition key the sensor computes), bad uploads get a 4xx saying why and leave nothing behind, and
the status follows the pipeline's records: queued, rejected (reasons), evaluated (DeltaOne,
verdict, claim state). Tokens: the spec summary and the champion."""

from __future__ import annotations

import json
import time

import pytest

from hokusai.claims.documents import output_dir_for
from hokusai.drops.keys import StoredObject, partition_key_for
from hokusai_assets_tests.api_fixtures import api_harness, run
from hokusai_assets_tests.conftest import SAMPLES, WALLET

MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_cache):
    return api_harness(tmp_path_factory.mktemp("api-contributions"), shared_cache,
                       {"RATE_LIMIT_REQUESTS": "100000", "HOKUSAI_MAX_UPLOAD_BYTES": str(MAX_BYTES)})


async def _upload(api, key, data: bytes, filename="rows.csv", token_id="digits-demo", wallet=WALLET, **kwargs):
    params = {"token_id": token_id, "filename": filename, **({"wallet_address": wallet} if wallet else {})}
    async with api.client(key) as client:
        return await client.post("/api/v1/contributions", params=params, content=data, **kwargs)


def _drop_zone_files(api) -> list[str]:
    return sorted(p.relative_to(api.settings.drop_zone).as_posix() for p in api.settings.drop_zone.rglob("*")
                  if p.is_file())


def test_upload_lands_where_a_drop_would_and_status_follows_the_records(api):
    key = api.key("contributions:write", "contributors:read")
    data = (SAMPLES / "improving.csv").read_bytes()[:4000]
    first = run(_upload(api, key, data, wallet=WALLET.upper().replace("0X", "0x")))
    assert first.status_code == 201, first.text
    body = first.json()
    stored = api.state.store.stat(f"digits-demo/{WALLET}/rows.csv")
    assert stored.size == len(data) and api.state.store.read_bytes(stored.key) == data
    assert body["partition_key"] == partition_key_for(StoredObject(stored.key, stored.etag, 0, 0))
    again = run(_upload(api, key, data))
    assert again.status_code == 200 and again.json()["partition_key"] == body["partition_key"]
    assert again.json()["created"] is False
    partition_key = body["partition_key"]

    def status():
        async def get():
            async with api.client(key) as client:
                return await client.get(f"/api/v1/contributions/{partition_key}")
        answer = run(get())
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert status()["state"] == "queued"
    outputs = output_dir_for(api.settings.outputs_dir, partition_key)
    outputs.mkdir(parents=True)
    (outputs / "rejection.json").write_text(json.dumps({"stage": "contributed_dataset",
                                                       "reasons": ["column 'pixel_0' is missing"]}))
    assert status() | {} == {**status(), "state": "rejected", "reasons": ["column 'pixel_0' is missing"]}
    (outputs / "rejection.json").unlink()
    (outputs / "delta_one.json").write_text(json.dumps({
        "delta_computation": {"delta_one_bps": 190, "delta_one_score": 0.019},
        "eligibility": {"eligible": True, "reason": "accepted"}}))
    (outputs / "attestation.json").write_text(json.dumps({"attestation_hash": "0x" + "ab" * 32}))
    evaluated = status()
    assert (evaluated["state"], evaluated["delta_one_bps"], evaluated["eligible"], evaluated["verdict"]) == (
        "evaluated", 190, True, "accepted")
    assert evaluated["claim"] is None
    from sqlalchemy import insert

    from hokusai.settlement.outbox import claim_messages, claims

    with api.state.engine.begin() as connection:
        connection.execute(insert(claims).values(
            idempotency_key="0x" + "c1" * 32, attestation_hash="0x" + "ab" * 32, model_id="m", model_id_uint="1",
            eval_id="e", token_id="digits-demo", partition_key=partition_key, deadline=0,
            status="minted", attempt=1, error_retries=0, recorded_at=time.time(), updated_at=time.time()))
        connection.execute(insert(claim_messages).values(idempotency_key="0x" + "c1" * 32, message="{}"))
    assert status()["claim"] == {"idempotency_key": "0x" + "c1" * 32, "status": "minted"}


@pytest.mark.parametrize("case,status,words", [
    ({"data": b"x" * (MAX_BYTES + 1)}, 413, "at most"),
    ({"data": b""}, 400, "empty"),
    ({"data": b"a\n1\n", "filename": "rows.exe"}, 400, "unsupported file type"),
    ({"data": b"a\n1\n", "filename": "../escape.csv"}, 400, "path segments"),
    ({"data": b"a\n1\n", "filename": "a b.csv"}, 400, "file name"),
    ({"data": b"a\n1\n", "filename": ".hidden.csv"}, 400, "hidden"),
    ({"data": b"a\n1\n", "token_id": "no-such-token"}, 400, "unknown token"),
    ({"data": b"a\n1\n", "token_id": "Bad_Token"}, 400, "token id"),
    ({"data": b"a\n1\n", "wallet": "0x1234"}, 422, "wallet_address"),
    # EIP-55's own example 0x52908400098527886E0F7030069857D2E4169EE7 with one letter's case flipped
    ({"data": b"a\n1\n", "wallet": "0x52908400098527886e0F7030069857D2E4169EE7"}, 400, "checksum"),
    ({"data": b"a\n1\n", "wallet": None}, 400, "wallet_address is required"),
    ({"data": b"a\n1\n", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 415, "multipart"),
])
def test_bad_uploads_get_a_reason_and_leave_nothing(api, case, status, words):
    before = _drop_zone_files(api)
    kwargs = {k: v for k, v in case.items() if k in ("filename", "token_id", "wallet", "headers")}
    answer = run(_upload(api, api.key("contributions:write"), case["data"], **kwargs))
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]
    assert _drop_zone_files(api) == before
    assert not list(api.settings.upload_spool_dir.glob("*"))  # no spooled part left either


def test_an_oversized_upload_is_refused_while_streaming(api):
    """No Content-Length (chunked): the cap is enforced as the bytes arrive, and nothing is kept."""
    before = _drop_zone_files(api)
    sent = []

    async def body():
        for _ in range(MAX_BYTES // 4096 + 8):
            sent.append(4096)
            yield b"y" * 4096

    answer = run(_upload(api, api.key("contributions:write"), body(), filename="streamed.csv"))
    assert answer.status_code == 413, answer.text
    assert f"larger than {MAX_BYTES} bytes" in answer.json()["detail"]
    assert sum(sent) > MAX_BYTES
    assert _drop_zone_files(api) == before and not list(api.settings.upload_spool_dir.glob("*"))
    within = run(_upload(api, api.key("contributions:write"), _chunks(b"z" * MAX_BYTES), filename="exact.csv"))
    assert within.status_code == 201 and within.json()["size"] == MAX_BYTES
    assert api.state.store.read_bytes(f"digits-demo/{WALLET}/exact.csv") == b"z" * MAX_BYTES


async def _chunks(data: bytes, size: int = 5000):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_taken_name_with_other_bytes_is_a_conflict(api):
    key = api.key("contributions:write")
    assert run(_upload(api, key, b"a,b\n1,2\n", filename="taken.csv")).status_code == 201
    clash = run(_upload(api, key, b"a,b\n3,4\n", filename="taken.csv"))
    assert clash.status_code == 409 and "another file name" in clash.json()["detail"]
    assert api.state.store.read_bytes(f"digits-demo/{WALLET}/taken.csv") == b"a,b\n1,2\n"


def test_status_of_unknown_or_malformed_partitions(api):
    key = api.key("contributors:read")

    async def get(path):
        async with api.client(key) as client:
            return await client.get(path)

    unknown = run(get(f"/api/v1/contributions/digits-demo/{WALLET}/none.csv@abcdef123456"))
    assert unknown.status_code == 404
    for bad in ("digits-demo/rows.csv", f"digits-demo/{WALLET}/rows.csv", f"x/{WALLET}/rows.csv@zz"):
        assert run(get(f"/api/v1/contributions/{bad}")).status_code == 400, bad


def test_tokens_summary_and_champion(api):
    key = api.key("models:read")

    async def get(path):
        async with api.client(key) as client:
            return await client.get(path)

    listing = run(get("/api/v1/tokens"))
    assert listing.status_code == 200
    token = next(t for t in listing.json()["tokens"] if t["token_id"] == "digits-demo")
    assert token["champion"] is None  # nothing evaluated in this state folder yet
    assert token["min_improvement_bps"] > 0 and token["benchmark_spec_id"] and token["features"]
    assert token["benchmark_rows_root"] is None  # the demo's benchmark is public: no commitment pinned
    one = run(get("/api/v1/tokens/digits-demo"))
    assert one.json() == token
