"""The production services on this machine, for people: ``scripts/services`` runs this.

PostgreSQL 15 (databases ``dagster`` and ``mlflow``), SeaweedFS (the drop bucket and
MLflow's artifact bucket) and an MLflow server on them, in the foreground, on 127.0.0.1
only, with the same server classes the tests use. The variables to export are printed
and written to ``$STATE/env`` (mode 600). SIGTERM or Ctrl-C stops all three (MLflow and
SeaweedFS by process group, PostgreSQL with a fast shutdown) and exits 143 or 130.

State persists in ``$HOKUSAI_HOME/services`` (default ``./.hokusai/services``): data,
logs, and credentials generated on first start (random; nothing is a default) in
``$STATE/credentials`` (mode 600). Ports: ``HOKUSAI_PG_PORT`` (5433), ``HOKUSAI_S3_PORT``
(8333), ``MLFLOW_PORT`` (5000). Run as root, PostgreSQL runs as the ``postgres`` user, so
its folder (``HOKUSAI_PG_DIR``, default ``$STATE/postgres``) must be reachable by it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from hokusai.harness.servers import Postgres, SeaweedFS, free_ports, start_mlflow_on

WEED_INTERNAL_PORTS = ("s3.port.grpc", "master.port", "master.port.grpc", "filer.port", "filer.port.grpc",
                       "volume.port", "volume.port.grpc", "admin.port", "admin.port.grpc")


class Stopped(Exception):
    """A stop signal arrived; the exit code says which."""

    def __init__(self, code: int):
        self.code = code


def credentials(path: Path) -> dict[str, str]:
    """The services' generated credentials, made on first start and kept (mode 600)."""
    if path.is_file() and path.stat().st_size:
        return json.loads(path.read_text())
    made = {"pg_password": secrets.token_hex(16), "s3_access_key": "hk" + secrets.token_hex(8),
            "s3_secret_key": secrets.token_hex(20)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(made))
    return made


def exports(pg: Postgres, s3: SeaweedFS, mlflow_url: str, bucket: str) -> dict[str, str]:
    """What a shell exports to use these services: the S3 drop zone, MLflow, Dagster on PostgreSQL."""
    return {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "HOKUSAI_S3_BUCKET": bucket, "HOKUSAI_S3_PREFIX": "", "HOKUSAI_S3_ENDPOINT_URL": s3.endpoint_url,
            "HOKUSAI_S3_PATH_STYLE": "true", "MLFLOW_TRACKING_URI": mlflow_url,
            "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url, **pg.dagster_env("dagster")}


def _stop_on(signum: int, _frame) -> None:
    raise Stopped(128 + signum)


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    state = Path(env.get("HOKUSAI_HOME") or ".hokusai").resolve() / "services"
    pg_dir = Path(env.get("HOKUSAI_PG_DIR") or state / "postgres")
    drop_bucket = env.get("HOKUSAI_S3_BUCKET") or "hokusai-drops"
    artifacts_bucket = env.get("MLFLOW_ARTIFACTS_BUCKET") or "mlflow-artifacts"
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop_on)
    keys = credentials(state / "credentials")
    pg = Postgres(pg_dir, port=int(env.get("HOKUSAI_PG_PORT") or 5433), password=keys["pg_password"],
                  initialized=(pg_dir / "data" / "PG_VERSION").exists(), durable=True)
    s3 = SeaweedFS(state / "seaweedfs", (drop_bucket, artifacts_bucket), keys["s3_access_key"], keys["s3_secret_key"],
                   ports={"s3.port": int(env.get("HOKUSAI_S3_PORT") or 8333),
                          **dict(zip(WEED_INTERNAL_PORTS, free_ports(len(WEED_INTERNAL_PORTS))))})
    try:
        with ExitStack() as stack:
            stack.callback(pg.stop)
            pg.start()
            for name in ("dagster", "mlflow"):
                pg.create_database(name, exist_ok=True)
            stack.callback(s3.stop)
            s3.start()
            mlflow = start_mlflow_on(state / "mlflow", pg.url("mlflow"), f"s3://{artifacts_bucket}/",
                                     {**s3.env(), "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url},
                                     port=int(env.get("MLFLOW_PORT") or 5000))
            stack.callback(mlflow.stop)
            variables = exports(pg, s3, mlflow.url, drop_bucket)
            lines = "".join(f"export {name}={value}\n" for name, value in variables.items())
            (state / "env").touch(mode=0o600)
            (state / "env").write_text(lines)
            print(lines, end="")
            print('# Dagster on this PostgreSQL: cp deploy/dagster.postgres.yaml "$DAGSTER_HOME/dagster.yaml"')
            print(f"# services ready: PostgreSQL 127.0.0.1:{pg.port}, S3 {s3.endpoint_url}, MLflow {mlflow.url} "
                  f"(state in {state}). Ctrl-C stops them.", flush=True)
            while all(process.poll() is None for process in (s3.process, mlflow.process)):
                time.sleep(1.0)
            print("a service exited; stopping the others (logs under " f"{state})", file=sys.stderr)
            return 1
    except Stopped as stopped:
        return stopped.code


if __name__ == "__main__":
    sys.exit(main())
