"""The REST API as ``hokusai api`` serves it: with the Dagster instance telling queued from running.

``hokusai.api`` cannot import Dagster; this factory gives it ``run_state`` over the
local instance's runs (tag ``dagster/partition``), so a contribution's status says
"running" while its run is in progress.
"""

from __future__ import annotations

from typing import Any

_QUEUED = ("QUEUED", "NOT_STARTED", "STARTING")
_RUNNING = ("STARTED",)


def dagster_run_state(settings: Any):
    """The run states of the local instance (``$HOKUSAI_HOME/dagster``, what the CLI and UI use)."""
    from hokusai_assets.runner import local_instance

    return run_state_of(local_instance(settings))


def run_state_of(instance: Any):
    """``partition_key -> "queued" | "running" | None`` from the newest run of that partition."""
    from dagster import RunsFilter

    def run_state(partition_key: str) -> str | None:
        runs = instance.get_runs(filters=RunsFilter(tags={"dagster/partition": partition_key}), limit=1)
        if not runs:
            return None
        status = runs[0].status.value
        return "running" if status in _RUNNING else "queued" if status in _QUEUED else None

    return run_state


def app() -> Any:
    from hokusai.api.app import create_app
    from hokusai.settings import load_settings

    settings = load_settings()
    return create_app(settings, run_state=dagster_run_state(settings))
