"""A real ``dagster-webserver`` for tests: its own session, a free port on 127.0.0.1, asked what the UI asks.

It loads ``workspace.yaml`` (the code location in a subprocess of its own, as
``dagster-webserver -w workspace.yaml`` does for a user) with exactly the environment
given, so a test decides which variables the code location sees. With ``daemon=True``
a ``dagster-daemon`` runs beside it (as ``scripts/ui`` has it): the drop-zone sensor
ticks, and queued runs start (a ``dagster api execute_run`` process each).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai.settings import REPO_ROOT
from hokusai.harness.servers import free_port
from hokusai.harness.topology import DagsterProcess, stop_all

LOCATION = "hokusai"
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
READY_TIMEOUT_SECONDS = 120.0
RUN_FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def graphql_request(base_url: str, query: str, variables: dict[str, Any] | None = None,
                    timeout: float = 60) -> dict[str, Any]:
    """POST a query to ``base_url/graphql`` as the UI does; raise on GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:  # a query the schema refuses: say why
        raise RuntimeError(f"GraphQL HTTP {error.code}: {error.read()[:2000]!r}") from None
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


@dataclass
class Webserver:
    url: str
    process: DagsterProcess
    daemon: DagsterProcess | None = None

    def graphql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        for process in (self.process, self.daemon):
            if process is not None and process.process is not None and not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        return graphql_request(self.url, query, variables, timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in (self.process, self.daemon) if p)

    def wait_for_partition_run(self, partition_key: str, timeout: float) -> dict[str, Any]:
        """The first finished run of a partition (the sensor's), waiting up to ``timeout``."""
        query = """query Runs($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) {
            __typename ... on Runs { results { runId status } } ... on PythonError { message } } }"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.graphql(query, {"tags": [{"key": "dagster/partition", "value": partition_key}]})["runsOrError"]
            finished = [run for run in runs.get("results", []) if run["status"] in RUN_FINISHED]
            if finished:
                return finished[0]
            time.sleep(1.0)
        raise TimeoutError(f"no finished run for {partition_key} after {timeout:.0f} s\n{self.logs()}")



@contextmanager
def running_webserver(log_dir: Path, env: dict[str, str], workspace: Path = REPO_ROOT / "workspace.yaml",
                      daemon: bool = False) -> Iterator[Webserver]:
    """``dagster-webserver -w workspace`` (and the daemon) with ``env``; yields once the code location loaded.

    Logs go to ``log_dir/webserver.log`` and ``log_dir/daemon.log``.
    """
    port = free_port()
    bin_dir = Path(sys.executable).parent
    server = Webserver(f"http://127.0.0.1:{port}", DagsterProcess(
        "webserver", [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace),
                      "--log-level", "warning"], env, Path(log_dir) / "webserver.log"))
    if daemon:
        server.daemon = DagsterProcess("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace),
                                                  "--log-level", "warning"], env, Path(log_dir) / "daemon.log")
    try:
        server.process.start()
        _wait_until_loaded(server)
        if server.daemon:
            server.daemon.start()
        yield server
    finally:
        stop_all([server.daemon, server.process])


def _wait_until_loaded(server: Webserver) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        try:
            data = server.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
                name locationOrLoadError { __typename ... on PythonError { message } } } } } }""", timeout=10)
        except (urllib.error.URLError, OSError) as error:  # not listening yet
            last = error
            time.sleep(0.5)
            continue
        entries = data["workspaceOrError"]["locationEntries"]
        loaded = (entries[0]["locationOrLoadError"] or {}) if entries else {}
        if loaded.get("__typename") == "RepositoryLocation":
            return
        if loaded.get("__typename") == "PythonError":
            raise RuntimeError(f"code location failed to load: {loaded['message']}")
        last = entries
        time.sleep(0.5)
    raise TimeoutError(f"webserver not ready after {READY_TIMEOUT_SECONDS:.0f} s ({last})\n{server.logs()}")
