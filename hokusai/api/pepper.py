"""The secret behind API key hashes and session tokens: from the environment, or a dev file.

Keys are stored as HMAC-SHA256(pepper, key): a stolen database alone does not let
anyone test guesses. A deployment sets ``HOKUSAI_API_KEY_PEPPER`` (at least 32
characters); a laptop gets a development pepper generated once under the state
folder (mode 0600), like the PII secret. The value never appears in a message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from hokusai.private_files import create_private_file_once, tighten
from hokusai.settings import API_KEY_PEPPER_VAR

MIN_PEPPER_CHARS = 32
DEV_PEPPER_RELPATH = Path("keys") / "api_key_pepper"
_HEADER = ("# DEVELOPMENT API key pepper, generated locally by Hokusai because {env} was not set.\n"
           "# NOT for production. Changing it invalidates every API key.\n# created {created}\n")
_LINE = re.compile(r"^[0-9a-f]{64}$", re.MULTILINE)


def load_pepper(state_dir: Path, configured: str | None) -> bytes:
    """``configured`` (the variable's value) if set, else the dev pepper under ``state_dir/keys``."""
    if configured:
        if len(configured) < MIN_PEPPER_CHARS:
            raise ValueError(f"{API_KEY_PEPPER_VAR} is too short: {len(configured)} characters, at least "
                             f"{MIN_PEPPER_CHARS} are required (the value is not shown)")
        return configured.encode("utf-8")
    path = Path(state_dir) / DEV_PEPPER_RELPATH
    if not path.exists():
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        create_private_file_once(path, _HEADER.format(env=API_KEY_PEPPER_VAR, created=created)
                                 + secrets.token_hex(32) + "\n")
    tighten(path)
    match = _LINE.search(path.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"dev API key pepper {path} is malformed (delete it to make a new one; keys stop working)")
    return match.group().encode("ascii")


def derive(pepper: bytes, purpose: str) -> bytes:
    """A separate key per purpose, so a key hash can never double as a session MAC."""
    return hmac.new(pepper, f"hokusai-api/{purpose}".encode(), hashlib.sha256).digest()
