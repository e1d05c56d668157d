"""``hokusai api`` (serve) and ``hokusai api-key create|list|revoke``; FastAPI is imported only to serve."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

from hokusai.settings import API_KEY_PEPPER_VAR, Settings, load_settings, read_secret


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hokusai", description="The REST API and its keys")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("api", help="serve the REST API (127.0.0.1:8001 by default)")
    serve.add_argument("--host", help="listen address (HOKUSAI_API_HOST)")
    serve.add_argument("--port", type=int, help="port (HOKUSAI_API_PORT)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (share limits only with Redis)")
    keys = commands.add_parser("api-key", help="create, list or revoke API keys")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", help="create a key; it is printed once, never stored")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated, e.g. models:read,mlflow:read")
    create.add_argument("--expires-days", type=float, help="days until it expires (default: never)")
    key_commands.add_parser("list", help="every key: prefix, state, name, scopes, expiry")
    revoke = key_commands.add_parser("revoke", help="revoke a key by its prefix (hk_xxxxxxxx)")
    revoke.add_argument("prefix")
    return parser


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _key_command(args: argparse.Namespace, settings: Settings) -> int:
    from hokusai.api import keys
    from hokusai.api.pepper import load_pepper
    from hokusai.settlement.database import ledger_engine

    engine = ledger_engine(settings.api_keys_database_url)
    if args.key_command == "list":
        now = time.time()
        for key in keys.list_keys(engine):
            print(f"{key.display_prefix}  {key.state(now):<8} {key.name:<24} {','.join(key.scopes)}  "
                  f"expires {_when(key.expires_at)}")
        return 0
    if args.key_command == "revoke":
        try:
            key = keys.revoke_key(engine, args.prefix)
        except KeyError as error:
            print(f"hokusai api-key revoke: {error.args[0]}", file=sys.stderr)
            return 2
        print(f"{key.display_prefix} revoked")
        return 0
    pepper = load_pepper(settings.home, read_secret(API_KEY_PEPPER_VAR))
    try:
        secret, key = keys.create_key(engine, pepper, args.name, args.scopes, args.expires_days)
    except ValueError as error:
        print(f"hokusai api-key create: {error}", file=sys.stderr)
        return 2
    print(secret)
    print(f"# {key.display_prefix} '{key.name}' scopes {','.join(key.scopes)}, expires {_when(key.expires_at)}. "
          "This is the only time the key is shown.", file=sys.stderr)
    return 0


def serve(settings: Settings, host: str | None, port: int | None, workers: int,
          app_factory: str = "hokusai.api.serve:app") -> int:
    import uvicorn

    # uvloop and httptools when installed ("auto"); no access log (its formatting costs every request:
    # the API logs what matters itself, and a TLS proxy in front keeps the access log).
    uvicorn.run(app_factory, factory=True, host=host or settings.api_host, port=port or settings.api_port,
                workers=workers, proxy_headers=False, server_header=False, log_level="warning", access_log=False,
                loop="auto", http="auto")
    return 0


def main(argv: list[str], app_factory: str = "hokusai.api.serve:app",
         settings_loader: Callable[[], Settings] = load_settings) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_loader()
    if args.command == "api":
        return serve(settings, args.host, args.port, args.workers, app_factory)
    return _key_command(args, settings)
