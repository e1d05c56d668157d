"""The factory uvicorn calls in each worker process: settings from the environment, no orchestrator."""

from __future__ import annotations

from typing import Any


def app() -> Any:
    from hokusai.api.app import create_app
    from hokusai.settings import load_settings

    return create_app(load_settings())
