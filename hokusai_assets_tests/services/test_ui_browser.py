"""The Dagster UI in a real browser: lineage of the eight assets, a partition's metadata,
and a failed blocking check, on the instance the CLI evaluated into.

Needs Debian's chromium (``/usr/bin/chromium``) and Playwright for Python; no browser
is downloaded. Screenshots go to ``test-artifacts/``.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from hokusai_assets_tests.conftest import SAMPLES, WALLET, isolated_settings

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ASSETS = ["contributed_dataset", "clean_dataset", "baseline_model", "new_model", "benchmark_metrics",
          "delta_one", "attestation", "registered_token_model"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    from hokusai_assets.runner import DagsterRunner

    root = tmp_path_factory.mktemp("ui")
    settings = isolated_settings(root / "state", root / "cache")
    runner = DagsterRunner(settings)
    accepted = runner.evaluate(SAMPLES / "improving.csv", "digits-demo", WALLET)
    bad = root / "no-labels.csv"
    pd.read_csv(SAMPLES / "improving.csv").drop(columns=["digit"]).to_csv(bad, index=False)
    rejected = runner.evaluate(bad, "digits-demo", WALLET)
    assert accepted.status == "evaluated" and rejected.status == "rejected"
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home), "HOKUSAI_HOME": str(settings.home),
           "HOKUSAI_CACHE_DIR": str(settings.cache_dir)}
    log = open(root / "webserver.log", "w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
         "-w", "workspace.yaml"],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"webserver did not answer: {(root / 'webserver.log').read_text()[-2000:]}")
        yield base, accepted, rejected
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(webserver):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        yield page
        browser.close()


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if not getattr(page, "community_dialog_dismissed", False):  # shown once, shortly after the first load
        try:
            page.get_by_role("button", name="Skip").click(timeout=10000)
        except Exception:  # noqa: BLE001 - no dialog this time
            pass
        page.community_dialog_dismissed = True
    page.wait_for_function("() => !document.body.innerText.includes('Loading...')", timeout=30000)


def visible(page, text: str):
    return page.locator(f"text={text} >> visible=true").first


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_asset_graph_shows_the_eight_assets_and_their_lineage(webserver, page):
    base, _, _ = webserver
    open_page(page, f"{base}/assets")
    for name in ASSETS:
        page.get_by_text(name, exact=True).first.wait_for(timeout=30000)
    screenshot(page, "ui-asset-catalog.png")
    open_page(page, f"{base}/assets/registered_token_model?view=lineage&lineageScope=upstream&lineageDepth=10")
    for group in ["contribution", "models", "evaluation", "attestation"]:
        page.get_by_text(group, exact=True).first.wait_for(timeout=30000)
    for name in ASSETS:  # long names are shortened in graph nodes ("contribut…_dataset")
        page.get_by_text(re.compile(re.escape(name[:9]))).first.wait_for(timeout=30000)
    screenshot(page, "ui-lineage.png")


def test_a_partition_materialization_shows_its_metadata(webserver, page):
    base, accepted, _ = webserver
    partition = urllib.parse.quote(accepted.partition_key, safe="")
    open_page(page, f"{base}/assets/delta_one?view=partitions&partition={partition}")
    for text in ["delta_one_bps", "eligible", "metric_table", str(accepted.delta_one_bps)]:
        visible(page, text).wait_for(timeout=30000)
    screenshot(page, "ui-delta-one-partition.png")


def test_a_failed_blocking_check_is_visible(webserver, page):
    base, _, rejected = webserver
    open_page(page, f"{base}/assets/contributed_dataset?view=checks")
    page.wait_for_timeout(3000)
    screenshot(page, "ui-failed-check.png")
    for text in ["contribution_matches_token_schema", "blocking", "Failed",
                 "required label column 'digit' is missing"]:
        visible(page, text).wait_for(timeout=30000)
