"""docker-compose.yml without a Docker engine: validated offline, and everything it names exists.

``docker-compose config -q`` (Debian's docker-compose 1.29; .ci/run installs it) checks the file
with every variable of .env.example filled with a dummy value; the rest is read from the
files: build contexts, Dockerfile sources, bind mounts, command scripts, the workspace and
instance yaml, and every ``${VAR}`` documented in .env.example with no default for a secret.
"""

import os
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml

from hokusai.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
IMAGE_ROOT = "/opt/hokusai"  # the Dockerfile's WORKDIR: the repository's files are copied under it
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")
SECRET = re.compile(r"PASSWORD|SECRET|PRIVATE_KEY")


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def documented() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {name.strip(): value for name, value in pairs}


def dummy_env_file(tmp_path, leave_out=()) -> Path:
    """.env.example with every empty value (the secrets) filled with a dummy, minus ``leave_out``."""
    lines = [f"{name}={value or ('' if name == 'HOKUSAI_S3_PREFIX' else 'dummy-' + name.lower())}"
             for name, value in documented().items() if name not in leave_out]
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_variable_is_documented_and_no_secret_has_a_default():
    code = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    uses = VARIABLE.findall(code)
    names = {name for name, _ in uses}
    docs = documented()
    assert names - set(docs) == set(), "variables used by docker-compose.yml but missing from .env.example"
    assert set(docs) - names == set(), "variables in .env.example that docker-compose.yml never uses"
    for name, modifier in uses:
        assert modifier.startswith((":?", "?")), f"${{{name}}} must fail when unset (no default): {modifier!r}"
        if SECRET.search(name):
            assert modifier.startswith(":?"), f"secret {name} must be required and non-empty"
            assert docs[name] == "", f"secret {name} must have no value in .env.example"


def test_the_attester_key_and_the_pii_secret_reach_only_the_code_location():
    """Runs and sensor ticks execute in the code location's container; the webserver and the daemon
    only talk to it over gRPC, so they get the database's credentials and no other secret — but the
    webserver reads the steps' compute logs from the bucket, with the platform's S3 key."""
    services = compose()["services"]
    holders = {name for name, service in services.items() for variable in service.get("environment", {})
               if variable in ("HOKUSAI_ATTESTER_PRIVATE_KEY", "HOKUSAI_PII_SECRET")}
    assert holders == {"code-location"}
    assert {v for v in services["daemon"]["environment"] if SECRET.search(v)} == {"DAGSTER_PG_PASSWORD"}
    assert {v for v in services["webserver"]["environment"] if SECRET.search(v)} == {"DAGSTER_PG_PASSWORD",
                                                                                     "AWS_SECRET_ACCESS_KEY"}


def test_services_have_health_checks_and_declared_volumes():
    spec = compose()
    services = spec["services"]
    assert {"postgres", "minio", "minio-init", "mlflow", "redis", "code-location", "webserver", "daemon"} <= set(services)
    for name, service in services.items():
        if name != "minio-init":  # a one-shot job: its exit status is what the others wait for
            assert "healthcheck" in service, f"{name} has no health check"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in spec["volumes"], f"{name} mounts undeclared volume {source}"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"
    assert services["code-location"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"


def _dockerfile_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def test_build_contexts_dockerfiles_mounts_and_commands_exist():
    services = compose()["services"]
    mounted: dict[str, Path] = {}
    for name, service in services.items():
        if "build" in service:
            context = REPO_ROOT / service["build"]["context"]
            dockerfile = context / service["build"]["dockerfile"]
            assert context.is_dir() and dockerfile.is_file(), f"{name}: no {dockerfile}"
            for source in _dockerfile_sources(dockerfile):
                assert (context / source).exists(), f"{dockerfile.name} copies {source}, which is not in the repo"
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"
                mounted[target] = REPO_ROOT / source

    for name, service in services.items():
        words = [*service.get("entrypoint", []), *service.get("command", [])]
        for word in words:
            if word.startswith(IMAGE_ROOT + "/"):
                path = REPO_ROOT / word[len(IMAGE_ROOT) + 1:]
                assert path.is_file(), f"{name} runs {word}: {path} is not in the repo"
            elif word in mounted:
                assert mounted[word].is_file()
        if "-m" in words:
            module = words[words.index("-m") + 1]
            assert find_spec(module) is not None, f"{name} serves module {module}, which does not import"

    workspace = yaml.safe_load((REPO_ROOT / "deploy" / "workspace.docker.yaml").read_text())
    [server] = [entry["grpc_server"] for entry in workspace["load_from"]]
    code_location = services["code-location"]["command"]
    assert server["host"] in services and str(server["port"]) == code_location[code_location.index("-p") + 1]
    for name in ("webserver", "daemon"):
        assert f"{IMAGE_ROOT}/deploy/workspace.docker.yaml" in services[name]["command"]

    instance_yaml = (REPO_ROOT / "deploy" / "dagster.postgres.yaml").read_text()
    needed = set(re.findall(r"\{env: ([A-Z0-9_]+)\}", instance_yaml))
    for name in ("code-location", "webserver", "daemon"):
        assert needed <= set(services[name]["environment"]), f"{name} lacks {needed - set(services[name]['environment'])}"


@pytest.mark.parametrize("script", ["docker/mlflow-server", "docker/minio-init.sh",
                                    "docker/postgres-init/10-hokusai-databases.sh", "scripts/services"])
def test_scripts_parse_and_are_executable(script):
    path = REPO_ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    shell = "bash" if path.read_text().startswith("#!/usr/bin/env bash") else "sh"
    subprocess.run([shell, "-n", str(path)], check=True)


def test_the_mlflow_entrypoint_url_encodes_the_backend_and_keeps_it_out_of_argv(tmp_path):
    fake = tmp_path / "bin" / "mlflow"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$MLFLOW_BACKEND_STORE_URI|$MLFLOW_ARTIFACTS_DESTINATION|'
                    '$MLFLOW_SERVER_ENABLE_JOB_EXECUTION|$*"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:{Path(sys.executable).parent}:/usr/bin:/bin", "MLFLOW_DB_HOST": "postgres",
           "MLFLOW_DB_USER": "mlflow", "MLFLOW_DB_PASSWORD": "p@ss/w:rd", "MLFLOW_DB_NAME": "mlflow",
           "MLFLOW_ARTIFACTS_BUCKET": "artifacts"}
    out = subprocess.run([str(REPO_ROOT / "docker" / "mlflow-server")], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ("postgresql+psycopg2://mlflow:p%40ss%2Fw%3Ard@postgres:5432/mlflow|s3://artifacts/|false|"
                   "server --host 0.0.0.0 --port 5000 --workers 2")


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (Debian package, 1.29) is not installed; .ci/run installs it")
def test_docker_compose_config_validates_offline_and_requires_every_secret(tmp_path):
    clean_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # no variable leaks in from this shell
    command = ["docker-compose", "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE)]
    ok = subprocess.run([*command, "--env-file", str(dummy_env_file(tmp_path)), "config", "-q"],
                        env=clean_env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr

    missing = subprocess.run([*command, "--env-file", str(dummy_env_file(tmp_path, {"HOKUSAI_PII_SECRET"})),
                              "config", "-q"], env=clean_env, capture_output=True, text=True)
    assert missing.returncode != 0 and "set HOKUSAI_PII_SECRET in .env" in missing.stderr
