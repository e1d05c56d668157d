"""A 200 MB upload through a served API (``hokusai api``) lands whole in the drop zone while the API
process's peak RSS barely moves: the body is streamed to a spool file, never held in memory. A client
that goes away mid-upload leaves nothing in the drop zone and no spooled part."""

from __future__ import annotations

import hashlib
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from hokusai.api.app import build_state
from hokusai.api.keys import create_key
from hokusai_assets_tests.api_fixtures import start_api_server
from hokusai_assets_tests.conftest import WALLET, isolated_settings

UPLOAD_BYTES = 200 * 1024 * 1024
CAP = 256 * 1024 * 1024
CHUNK = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_cache):
    root = tmp_path_factory.mktemp("api-uploads")
    env = {"HOKUSAI_HOME": str(root / "home"), "HOKUSAI_CACHE_DIR": str(shared_cache),
           "HOKUSAI_MAX_UPLOAD_BYTES": str(CAP), "RATE_LIMIT_REQUESTS": "100000"}
    api = start_api_server(env, root / "api.log", timeout=180)
    settings = isolated_settings(root / "home", shared_cache, {"HOKUSAI_MAX_UPLOAD_BYTES": str(CAP)})
    state = build_state(settings)
    key = create_key(state.engine, state.pepper, "uploads", "contributions:write")[0]
    yield api, settings, key
    api.stop()


def _drop_zone(settings) -> list[str]:
    return sorted(p.name for p in settings.drop_zone.rglob("*") if p.is_file())


def test_200_mb_upload_in_bounded_memory(served):
    api, settings, key = served
    pattern = hashlib.sha256(b"rows").digest() * (CHUNK // 32)
    sent = hashlib.sha256()

    def body():
        for _ in range(UPLOAD_BYTES // CHUNK):
            sent.update(pattern)
            yield pattern

    before = api.peak_rss_kib()
    with httpx.Client(timeout=300) as client:
        answer = client.post(f"{api.url}/api/v1/contributions", content=body(),
                             params={"token_id": "digits-demo", "wallet_address": WALLET, "filename": "big.csv"},
                             headers={"Authorization": f"Bearer {key}", "Content-Length": str(UPLOAD_BYTES)})
    assert answer.status_code == 201, answer.text
    assert answer.json()["size"] == UPLOAD_BYTES
    stored = settings.drop_zone / "digits-demo" / WALLET / "big.csv"
    received, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with stored.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            received.update(chunk)
            md5.update(chunk)
    assert received.hexdigest() == sent.hexdigest()
    assert answer.json()["etag"] == md5.hexdigest()  # what an S3 single-part PUT's ETag would be
    growth_mib = (api.peak_rss_kib() - before) / 1024
    print(f"API process peak RSS before {before / 1024:.0f} MiB, growth over a 200 MB upload: {growth_mib:.1f} MiB")
    assert growth_mib < 48, growth_mib
    assert not list(settings.upload_spool_dir.glob("*"))


def test_a_client_gone_mid_upload_leaves_nothing(served):
    api, settings, key = served
    before = _drop_zone(settings)
    host, port = urlsplit(api.url).hostname, urlsplit(api.url).port
    with socket.create_connection((host, port)) as raw:
        raw.sendall((f"POST /api/v1/contributions?token_id=digits-demo&wallet_address={WALLET}&filename=cut.csv "
                     f"HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                     f"Content-Length: {10 * CHUNK}\r\n\r\n").encode() + b"x" * (3 * CHUNK))
        deadline = time.monotonic() + 30
        while not list(settings.upload_spool_dir.glob("*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(settings.upload_spool_dir.glob("*")), "the upload was never spooled"
    deadline = time.monotonic() + 30
    while list(settings.upload_spool_dir.glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(settings.upload_spool_dir.glob("*"))
    assert _drop_zone(settings) == before
