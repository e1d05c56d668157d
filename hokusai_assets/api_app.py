"""The REST API as ``hokusai api`` serves it: with the Dagster instance telling queued from running.

``hokusai.api`` cannot import Dagster; this factory gives it ``run_state`` over the
platform's instance (the deployment's ``DAGSTER_HOME``, PostgreSQL in production; else
the embedded one under ``$HOKUSAI_HOME/dagster``), read by the run tag ``dagster/partition``,
so a contribution's status says "running" while the daemon's run is in progress.
"""

from __future__ import annotations

from typing import Any

_QUEUED = ("QUEUED", "NOT_STARTED", "STARTING")
_RUNNING = ("STARTED", "CANCELING")
_FAILED = ("FAILURE",)
_CANCELED = ("CANCELED",)


def api_instance(settings: Any) -> Any:
    """The Dagster instance whose runs the API reports (``Settings.api_dagster_home``)."""
    from dagster import DagsterInstance

    from hokusai_assets.runner import local_instance

    home = settings.dagster_instance_home
    if home is None:
        return local_instance(settings)
    if not (home / "dagster.yaml").is_file():
        raise RuntimeError(f"DAGSTER_HOME is {home} but it holds no dagster.yaml; point it at the folder of the "
                           "instance the daemon and the webserver use (deploy/dagster.postgres.yaml in production)")
    instance = DagsterInstance.from_config(str(home))
    instance.get_runs(limit=1)  # a wrong host or password fails here, at start, not on the first status request
    return instance


def dagster_run_state(settings: Any):
    return run_state_of(api_instance(settings))


def run_state_of(instance: Any):
    """``partition_key -> "queued" | "running" | "failed" | "canceled" | None`` from the newest run of
    that partition (None: no run, or it succeeded and the outputs tell the rest)."""
    from dagster import RunsFilter

    def run_state(partition_key: str) -> str | None:
        runs = instance.get_runs(filters=RunsFilter(tags={"dagster/partition": partition_key}), limit=1)
        if not runs:
            return None
        status = runs[0].status.value
        for names, state in ((_RUNNING, "running"), (_QUEUED, "queued"), (_FAILED, "failed"),
                             (_CANCELED, "canceled")):
            if status in names:
                return state
        return None

    return run_state


def app() -> Any:
    from hokusai.api.app import create_app
    from hokusai.settings import load_settings

    settings = load_settings()
    return create_app(settings, run_state=dagster_run_state(settings))
