"""A real MLflow server for tests and benchmarks: started in its own session, stopped by process group.

``mlflow server`` with a SQLite backend and proxied artifacts under one folder, on
127.0.0.1 and a free port, one worker, job execution off (otherwise it spawns job
workers worth ~2 GB). It is started with ``start_new_session=True`` (setsid), so
stopping it signals the whole group: SIGTERM, then SIGKILL after a grace period.
``scripts/mlflow-server`` does the same in the foreground, for people.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HEALTH_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0


@dataclass
class MlflowServer:
    """A running server: its URL, its process (the group leader) and its log file."""

    url: str
    process: subprocess.Popen
    root: Path
    log_path: Path

    def stop(self) -> None:
        stop_process_group(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return tail_of(self.log_path, lines)


def tail_of(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a server's log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mlflow_command() -> list[str]:
    """The ``mlflow`` entry point of the running interpreter's environment."""
    script = Path(sys.executable).parent / "mlflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlflow"]


def server_command(root: Path, port: int) -> list[str]:
    return [
        *mlflow_command(), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]


def start_mlflow_server(root: Path, port: int | None = None,
                        timeout: float = HEALTH_TIMEOUT_SECONDS) -> MlflowServer:
    """Start a server whose state lives under ``root``; return once ``/health`` answers OK."""
    return healthy_or_stopped(launch_mlflow_server(root, port), timeout)


def healthy_or_stopped(server: MlflowServer, timeout: float = HEALTH_TIMEOUT_SECONDS) -> MlflowServer:
    """``server`` once ``/health`` answers; stopped (by process group) if it never does."""
    try:
        wait_for_health(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def launch_mlflow_server(root: Path, port: int | None = None) -> MlflowServer:
    """Start a server under ``root`` and return at once (it takes ~10 s to answer: ``wait_for_health``)."""
    root = Path(root)
    (root / "artifacts").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = root / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env.update({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"})
    with open(log_path, "ab") as log:
        process = subprocess.Popen(server_command(root, port), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=root, start_new_session=True)
    return MlflowServer(f"http://127.0.0.1:{port}", process, root, log_path)


def wait_for_health(server: MlflowServer, timeout: float) -> None:
    """Poll ``/health`` until it answers OK; fail early (with the log) if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"mlflow server at {server.url} not healthy after {timeout:.0f} s:\n{server.log_tail()}")


def stop_process_group(process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the process's group, SIGKILL it if still alive after ``grace`` seconds."""
    if process.poll() is not None:
        return
    pgid = process.pid  # start_new_session=True: the process leads its own group
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # workers may outlive the leader for a moment; make sure none is left behind
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
