"""Secrets never leave the environment, continued: with none set, and on the production instance.

Unset, the development key and PII secret under the state folder are used: owner-only
files, and nowhere else. The production instance (PostgreSQL, ``deploy/dagster.postgres.yaml``)
shows the database password's variable, never the password. Every secret set is
``test_secrets_never_leak.py``; these are a file of their own so the suite's two workers
each take one.
"""

from __future__ import annotations

import json
import secrets
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hokusai.claims.attester_keys import DEV_KEY_RELPATH
from hokusai.claims.attester_keys import ENV_VAR as KEY_VAR
from hokusai.pii.tokens import pii_key
from hokusai.pii.secret import DEV_SECRET_RELPATH
from hokusai.pii.secret import ENV_VAR as PII_VAR
from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.conftest import DEMO_TOKEN, SAMPLES
from hokusai_assets_tests.leak_scan import Secret, files_under, scan_files
from hokusai_assets_tests.services.secrets_env import (address_of, clean_env, cli_json, evaluate, no_leaks,
                                                       random_attester_key)
from hokusai.harness.servers import postgres
from hokusai_assets_tests.ui_surfaces import collect_surfaces, resource_values, texts
from hokusai.harness.webserver import running_webserver


def create_instance(env: dict[str, str]) -> None:
    """The state folder's Dagster instance, created as the CLI creates it (its dagster.yaml, its storage),
    so that a webserver started beside the first evaluation opens the same instance, not a default one."""
    from hokusai.settings import load_settings
    from hokusai_assets.runner import local_instance

    local_instance(load_settings(env)).dispose()



# --- unset: the development key and secret -------------------------------------------------------

@pytest.fixture(scope="module")
def dev_scenario(tmp_path_factory):
    """No secret variable set: a local evaluation signs with the dev key; the webserver still loads."""
    root = tmp_path_factory.mktemp("dev-secrets")
    home = root / "state"
    env = clean_env(HOKUSAI_HOME=str(home), HOKUSAI_CACHE_DIR=str(root / "cache"),
                    DAGSTER_HOME=str(home / "dagster"))
    create_instance(env)
    with ThreadPoolExecutor(max_workers=1) as pool:  # the evaluation runs while the webserver starts
        evaluating = pool.submit(evaluate, env, SAMPLES / "improving.csv")
        with running_webserver(root, env) as webserver:
            done = evaluating.result()
            surfaces = collect_surfaces(webserver)
    yield home, done, surfaces, root


def test_unset_the_dev_key_and_secret_are_owner_only_and_appear_nowhere_else(dev_scenario):
    home, done, surfaces, root = dev_scenario
    assert done.returncode == 0, done.stderr[-3000:]
    assert cli_json(done)["dev_key"] is True
    key_file, secret_file = home / DEV_KEY_RELPATH, home / DEV_SECRET_RELPATH
    for path in (key_file, secret_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    dev_key = json.loads(key_file.read_text())["private_key_hex"]
    dev_secret = secret_file.read_text().splitlines()[-1]
    found = (Secret.of("dev attester key", dev_key), Secret.of("dev PII secret", dev_secret),
             Secret.of("dev per-token PII key", pii_key(dev_secret.encode(), DEMO_TOKEN)))
    assert cli_json(done)["signer"] == address_of(dev_key)

    values = resource_values(surfaces)  # the code location loaded; no secret field is configured
    assert "private_key" not in values["attester"] and "pii_secret" not in values["intake"]
    assert no_leaks(texts(surfaces), found) == []
    assert no_leaks({"stdout": done.stdout, "stderr": done.stderr}, found) == []
    written = files_under(home, skip=[key_file, secret_file])
    assert any(path.name == "attestation.json" for path in written)
    assert scan_files(written, found, root=home) == []
    assert scan_files([root / "webserver.log"], found) == []


# --- the production instance -------------------------------------------------------------------

@pytest.mark.skipif(not Path("/usr/lib/postgresql/15/bin/initdb").exists(), reason="PostgreSQL 15 is not installed")
def test_the_production_instance_shows_the_database_password_variable_never_the_password(tmp_path):
    key, pii_secret = random_attester_key(), secrets.token_urlsafe(33)
    with postgres() as pg:
        pg.create_database("dagster")
        dagster_home = tmp_path / "dagster-home"
        dagster_home.mkdir()
        shutil.copyfile(REPO_ROOT / "deploy" / "dagster.postgres.yaml", dagster_home / "dagster.yaml")
        env = clean_env(HOKUSAI_HOME=str(tmp_path / "state"), DAGSTER_HOME=str(dagster_home),
                        **pg.dagster_env("dagster"), **{KEY_VAR: key, PII_VAR: pii_secret})
        with running_webserver(tmp_path, env) as webserver:
            surfaces = collect_surfaces(webserver)
    info = surfaces["instance"]["instance"]["info"]
    assert "PostgresRunStorage" in info and "hokusai/token_id" in info, info  # the production instance, shown
    values = resource_values(surfaces)
    assert values["attester"]["private_key"]["type"] == values["intake"]["pii_secret"]["type"] == "ENV_VAR"
    found = (Secret.of("DAGSTER_PG_PASSWORD", pg.password), Secret.of(KEY_VAR, key), Secret.of(PII_VAR, pii_secret))
    assert no_leaks(texts(surfaces), found) == []
    assert scan_files([tmp_path / "webserver.log"], found) == []
