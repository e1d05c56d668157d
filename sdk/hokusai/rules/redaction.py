"""Passwords inside URIs: found so they stay out of resource config, masked wherever a URI is shown.

A tracking URI such as ``postgresql+psycopg2://mlflow:PASSWORD@db/mlflow`` (MLflow on its
database directly) carries a credential. The UI shows resource config and asset metadata
to anyone who opens it, and error messages travel into the event log, so a URI that is
shown is first passed through ``redact_uri``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def uri_has_password(uri: str) -> bool:
    """True when ``uri``'s authority has a ``user:password@`` part."""
    try:
        return bool(urlsplit(uri).password)
    except ValueError:  # not a URI at all: nothing to find
        return False


def redact_uri(uri: str) -> str:
    """``uri`` with its password replaced by ``***``; user, host, path and query are kept."""
    if not uri_has_password(uri):
        return uri
    parts = urlsplit(uri)
    user_info, _, host = parts.netloc.rpartition("@")
    user = user_info.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))
