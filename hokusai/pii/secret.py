"""The secret behind PII tokens: from the environment in production, a local file in dev.

PII is replaced by HMAC-SHA256 tokens, and an HMAC is only as private as its key:
with the secret, anyone can hash a list of candidate emails and match them. A
deployment therefore sets ``HOKUSAI_PII_SECRET`` (at least 32 characters). A
laptop still has to run end to end, so without it a development secret is
generated once under the state directory, with mode 0600, and reused, which
keeps tokens stable across runs. The file says it is not for production.

The secret never appears in an error message.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from hokusai.private_files import create_private_file_once, tighten

ENV_VAR = "HOKUSAI_PII_SECRET"
MIN_SECRET_CHARS = 32
DEV_SECRET_RELPATH = Path("keys") / "pii_secret"
DEV_SECRET_HEADER = (
    "# DEVELOPMENT PII secret, generated locally by Hokusai because {env} was not set.\n"
    "# NOT for production: anyone who reads this file can re-identify hashed PII.\n"
    "# created {created}\n"
)
_SECRET_LINE = re.compile(r"^[0-9a-f]{64}$", re.MULTILINE)


def load_pii_secret(state_dir: Path, env: Mapping[str, str]) -> bytes:
    """``HOKUSAI_PII_SECRET`` if set, else the dev secret under ``state_dir/keys``.

    An empty variable counts as unset (compose files render ``VAR=``); a short one is
    an error, never a silent fallback to the dev secret.
    """
    raw = env.get(ENV_VAR)
    if raw is not None and raw.strip():
        value = raw.strip()
        if len(value) < MIN_SECRET_CHARS:
            raise ValueError(
                f"{ENV_VAR} is too short: {len(value)} characters, at least "
                f"{MIN_SECRET_CHARS} are required (the value is not shown)"
            )
        return value.encode("utf-8")
    path = Path(state_dir) / DEV_SECRET_RELPATH
    if not path.exists():
        _create_dev_secret(path)
    return _read_dev_secret(path)


def _create_dev_secret(path: Path) -> None:
    """Write a fresh secret with mode 0600, unless a concurrent first run got there first.

    The content goes to a private temp file that is hard-linked into place: the
    link fails if ``path`` exists, so racing processes agree on one secret and
    nobody reads a half-written file.
    """
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    content = DEV_SECRET_HEADER.format(env=ENV_VAR, created=created) + secrets.token_hex(32) + "\n"
    create_private_file_once(path, content)


def _read_dev_secret(path: Path) -> bytes:
    tighten(path)
    match = _SECRET_LINE.search(path.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"dev PII secret file {path} is malformed: expected a line of 64 hex "
                         f"characters (delete it to generate a new one; tokens will change)")
    return match.group().encode("ascii")
