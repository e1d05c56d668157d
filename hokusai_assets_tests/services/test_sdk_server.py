"""The test MLflow server helpers: a process group is stopped whole, and the shared server answers."""

import os
import subprocess
import sys
import time
import urllib.request

from hokusai.harness.mlflow_server import server_command, stop_process_group

pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]


def test_stop_process_group_stops_the_leader_and_its_children():
    # a leader that ignores SIGTERM (as processes here may), with a child of its own
    leader = subprocess.Popen(
        [sys.executable, "-c", "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
         "print(child.pid, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    child_pid = int(leader.stdout.readline())
    started = time.monotonic()
    stop_process_group(leader, grace=0.5)
    assert leader.poll() is not None and time.monotonic() - started < 10
    time.sleep(0.2)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_server_command_is_the_documented_one(tmp_path):
    command = server_command(tmp_path, 5999)
    assert command[-11:] == ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                             "--artifacts-destination", str(tmp_path / "artifacts"),
                             "--host", "127.0.0.1", "--port", "5999", "--workers", "1"]


def test_the_shared_server_is_healthy_and_its_own_process_group(mlflow_server):
    with urllib.request.urlopen(f"{mlflow_server.url}/health", timeout=5) as response:
        assert response.status == 200
    assert os.getpgid(mlflow_server.process.pid) == mlflow_server.process.pid
