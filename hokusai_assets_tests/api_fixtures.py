"""Fixtures for the REST API tests: an app on a fresh state folder, keys, an in-process client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai_assets_tests.conftest import isolated_settings


@dataclass
class ApiHarness:
    settings: Any
    state: Any
    app: Any

    def key(self, *scopes: str, name: str = "test", expires_days: float | None = None) -> str:
        from hokusai.api.keys import create_key

        secret, _ = create_key(self.state.engine, self.state.pepper, name, ",".join(scopes), expires_days)
        return secret

    def client(self, token: str | None = None, **kwargs: Any):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
                                 headers=headers, **kwargs)


def api_harness(home: Path, cache: Path, extra_env: dict[str, str] | None = None) -> ApiHarness:
    from hokusai.api.app import build_state, create_app

    settings = isolated_settings(home, cache, extra_env)
    state = build_state(settings)
    return ApiHarness(settings, state, create_app(settings, state=state))
