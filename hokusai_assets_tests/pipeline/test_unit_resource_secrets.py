"""Secrets reach resources as ``EnvVar`` only, and every error about one names the variable, never the value.

``build_resources`` is the one place resources are built: set, a secret variable becomes
``EnvVar(name)`` (resolved when a run starts, shown by name in the UI); unset, ``None``,
and the development file under the state folder is used. The end-to-end proof on a real
webserver is ``test_secrets_never_leak.py``; these are the rules, one by one.
"""

from __future__ import annotations

import dataclasses
import secrets
import socket

import pytest
from dagster import EnvVar
from dagster._config.field_utils import EnvVar as EnvVarType

from hokusai.claims.attester_keys import DEV_KEY_RELPATH
from hokusai.claims.attester_keys import ENV_VAR as KEY_VAR
from hokusai.core.registry import RegistryUnavailableError, require_reachable
from hokusai.rules.redaction import redact_uri, uri_has_password
from hokusai.pii.secret import DEV_SECRET_RELPATH
from hokusai.pii.secret import ENV_VAR as PII_VAR
from hokusai.settings import TRACKING_URI_VAR, load_settings
from resources import build_resources
from resources.attester import AttesterResource
from resources.intake import IntakeResource

GOOD_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def settings_for(tmp_path, **env):
    return load_settings({"HOKUSAI_HOME": str(tmp_path / "state"), **env})


def test_set_secrets_enter_as_env_vars_and_settings_hold_only_their_names(tmp_path):
    pii_secret = secrets.token_urlsafe(33)
    settings = settings_for(tmp_path, **{KEY_VAR: GOOD_KEY, PII_VAR: pii_secret})
    assert settings.secret_variables == {KEY_VAR, PII_VAR}
    assert GOOD_KEY[2:] not in repr(settings) and pii_secret not in repr(settings)
    resources = build_resources(settings)
    for value, name in ((resources["attester"].private_key, KEY_VAR), (resources["intake"].pii_secret, PII_VAR)):
        assert isinstance(value, EnvVarType) and value.env_var_name == name


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_empty_secrets_give_none_and_the_code_location_still_loads(tmp_path, value):
    from hokusai_assets.definitions import build_definitions

    env = {} if value is None else {KEY_VAR: value, PII_VAR: value}
    settings = settings_for(tmp_path, **env)
    assert settings.secret_variables == frozenset()
    resources = build_resources(settings)
    assert resources["attester"].private_key is None and resources["intake"].pii_secret is None
    assert build_definitions(settings).resolve_job_def("evaluate_contribution")


def test_unset_the_dev_key_and_secret_are_made_under_the_state_folder(tmp_path):
    resources = build_resources(settings_for(tmp_path))
    key = resources["attester"].get_key()
    assert key.is_dev_key and (tmp_path / "state" / DEV_KEY_RELPATH).exists()
    assert len(resources["intake"].pii_key_for("digits-demo")) == 32
    assert (tmp_path / "state" / DEV_SECRET_RELPATH).exists()


def test_the_env_var_is_resolved_when_the_resource_initializes(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_VAR, GOOD_KEY)
    resource = build_resources(settings_for(tmp_path, **{KEY_VAR: GOOD_KEY}))["attester"]
    with resource.process_config_and_initialize_cm() as ready:
        key = ready.get_key()
    assert key.source == "environment" and not key.is_dev_key
    assert not (tmp_path / "state" / DEV_KEY_RELPATH).exists()


@pytest.mark.parametrize("bad", ["0x" + secrets.token_hex(31), secrets.token_hex(32), "0x" + secrets.token_hex(32) + "ab",
                                 "0x" + secrets.token_hex(31) + "zz"],
                         # named, not shown: pytest-xdist's workers must collect the same ids, and no key is printed
                         ids=["short", "no-0x", "long", "not-hex"])
def test_a_malformed_key_in_the_environment_fails_the_resource_naming_the_variable(tmp_path, monkeypatch, bad):
    monkeypatch.setenv(KEY_VAR, bad)
    resource = AttesterResource(state_dir=str(tmp_path), private_key=EnvVar(KEY_VAR),
                                verifying_contract="0x" + "0" * 40, deadline_seconds=60)
    with resource.process_config_and_initialize_cm() as ready, pytest.raises(ValueError) as error:
        ready.get_key()
    message = str(error.value)
    assert message.startswith(f"{KEY_VAR} is malformed") and "not shown" in message
    assert bad not in message and bad.removeprefix("0x")[:16] not in message


@pytest.mark.parametrize("length", [1, 20, 31])
def test_a_short_pii_secret_in_the_environment_fails_the_resource_naming_the_variable(tmp_path, monkeypatch, length):
    # Fixed, not random: a random one-character secret is bound to be some letter of the message itself.
    short = ("ZQ8JXW" * 6)[:length]
    monkeypatch.setenv(PII_VAR, short)
    resource = IntakeResource(state_dir=str(tmp_path), pii_secret=EnvVar(PII_VAR))
    with resource.process_config_and_initialize_cm() as ready, pytest.raises(ValueError) as error:
        ready.pii_key_for("digits-demo")
    message = str(error.value)
    assert message.startswith(f"{PII_VAR} is too short: {length} characters") and "not shown" in message
    assert short not in message.replace(PII_VAR, "")
    assert not (tmp_path / DEV_SECRET_RELPATH).exists()  # no silent fallback to the dev secret


def test_a_variable_unset_between_loading_and_the_run_is_named_when_the_run_starts(tmp_path, monkeypatch):
    resource = build_resources(settings_for(tmp_path, **{KEY_VAR: GOOD_KEY}))["attester"]
    monkeypatch.delenv(KEY_VAR, raising=False)
    with pytest.raises(Exception, match=KEY_VAR) as error, resource.process_config_and_initialize_cm():
        pass
    assert GOOD_KEY[2:] not in str(error.value)


# --- a tracking URI that carries a password -----------------------------------------------------

PG_URI = "postgresql+psycopg2://mlflow:{password}@db.internal:5432/mlflow"


def test_a_tracking_uri_with_a_password_enters_as_an_env_var(tmp_path):
    password = secrets.token_hex(12)
    settings = settings_for(tmp_path, **{TRACKING_URI_VAR: PG_URI.format(password=password)})
    assert TRACKING_URI_VAR in settings.secret_variables
    uri = build_resources(settings)["model_registry"].tracking_uri
    assert isinstance(uri, EnvVarType) and uri.env_var_name == TRACKING_URI_VAR
    # the dry run's own SQLite store replaces the URI: that one is a plain value again
    dry = dataclasses.replace(settings, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert build_resources(dry)["model_registry"].tracking_uri == dry.mlflow_tracking_uri


def test_a_tracking_uri_without_a_password_is_shown_as_it_is(tmp_path):
    settings = settings_for(tmp_path, **{TRACKING_URI_VAR: "http://mlflow:5000"})
    assert settings.secret_variables == frozenset()
    assert build_resources(settings)["model_registry"].tracking_uri == "http://mlflow:5000"


@pytest.mark.parametrize("uri, shown", [
    ("postgresql+psycopg2://mlflow:s3cr%40t@db:5432/mlflow?sslmode=require",
     "postgresql+psycopg2://mlflow:***@db:5432/mlflow?sslmode=require"),
    ("http://alice:p@ss@127.0.0.1:5000/", "http://alice:***@127.0.0.1:5000/"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://alice@127.0.0.1:5000", "http://alice@127.0.0.1:5000"),
    ("sqlite:////var/lib/mlflow.db", "sqlite:////var/lib/mlflow.db"),
    ("http://[::1:5000", "http://[::1:5000"),  # not a URI: nothing to find
])
def test_redacted_uris_keep_everything_but_the_password(uri, shown):
    assert redact_uri(uri) == shown
    assert uri_has_password(uri) == (shown != uri)


def test_an_unreachable_server_is_reported_without_the_password():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = secrets.token_hex(12)
    with pytest.raises(RegistryUnavailableError) as error:
        require_reachable(f"http://hokusai:{password}@127.0.0.1:{port}", timeout=2)
    assert password not in str(error.value)
    assert f"http://hokusai:***@127.0.0.1:{port}" in str(error.value) and TRACKING_URI_VAR in str(error.value)
