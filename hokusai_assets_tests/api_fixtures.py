"""Fixtures for the REST API tests: an app on a fresh state folder, keys, an in-process client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai_assets_tests.conftest import isolated_settings


@dataclass
class ApiHarness:
    settings: Any
    state: Any
    app: Any

    def key(self, *scopes: str, name: str = "test", expires_days: float | None = None) -> str:
        from hokusai.api.keys import create_key

        secret, _ = create_key(self.state.engine, self.state.pepper, name, ",".join(scopes), expires_days)
        return secret

    def client(self, token: str | None = None, **kwargs: Any):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
                                 headers=headers, **kwargs)


def api_harness(home: Path, cache: Path, extra_env: dict[str, str] | None = None) -> ApiHarness:
    from hokusai.api.app import build_state, create_app

    settings = isolated_settings(home, cache, extra_env)
    state = build_state(settings)
    return ApiHarness(settings, state, create_app(settings, state=state))


@dataclass
class ApiServer:
    """``hokusai api`` in its own process group (uvicorn), on a free port."""

    url: str
    process: Any
    log_path: Path

    def peak_rss_kib(self) -> int:
        """VmHWM: the process's peak resident memory since it started."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        from hokusai.harness.mlflow_server import stop_process_group

        stop_process_group(self.process)


def start_api_server(env: dict[str, str], log_path: Path, workers: int = 1, timeout: float = 60) -> ApiServer:
    """Serve the API with ``env`` (HOKUSAI_HOME, MLFLOW_TRACKING_URI, ...); wait for ``/health``."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from hokusai.harness.mlflow_server import free_port, stop_process_group

    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_", "RATE_LIMIT"))}
    full_env.update(env)
    full_env["HOKUSAI_API_PORT"] = str(port)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from hokusai.api.cli import main; sys.exit(main(sys.argv[1:]))",
             "api", "--workers", str(workers)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
    server = ApiServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hokusai api exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2):
                return server
        except urllib.error.HTTPError:
            return server  # answering (503: a dependency is down, which the caller may intend)
        except OSError:
            time.sleep(0.2)
    stop_process_group(process)
    raise TimeoutError(f"hokusai api not answering:\n{log_path.read_text()[-3000:]}")


_LOOP = None


def run(coroutine):
    """Run on one event loop for the whole session, as a served app has one loop per process
    (the in-process rate-limit backend's locks belong to the loop that first used them)."""
    import asyncio

    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP.run_until_complete(coroutine)
