"""What the secrets-leak files share: random secrets, a clean environment, the CLI, the search.

``test_secrets_never_leak.py`` (every secret set) and ``test_secrets_never_leak_unset.py``
(none set; the production instance) are two files so the suite's two workers each take one.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from hokusai.settings import REPO_ROOT
from hokusai_assets_tests.conftest import DEMO_TOKEN, WALLET
from hokusai_assets_tests.leak_scan import Secret, leaks_in

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def random_attester_key() -> str:
    while True:
        candidate = secrets.token_bytes(32)
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_N:
            return "0x" + candidate.hex()


def address_of(private_key: str) -> str:
    from eth_keys import keys

    return keys.PrivateKey(bytes.fromhex(private_key[2:])).public_key.to_checksum_address()


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any Hokusai, MLflow, Dagster or AWS variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_", "DAGSTER_", "AWS_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **values}


def hokusai_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hokusai_assets.cli", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def evaluate(env: dict[str, str], path: Path) -> subprocess.CompletedProcess:
    return hokusai_cli(env, "evaluate", str(path), "--token", DEMO_TOKEN, "--wallet", WALLET, "--json")


def no_leaks(named_texts: dict[str, str | bytes], secrets_: tuple[Secret, ...]) -> list[tuple[str, str]]:
    return [(name, leak) for name, text in named_texts.items() for leak in leaks_in(text, secrets_)]


def cli_json(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout)
