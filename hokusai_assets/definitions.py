"""The code location: assembles assets, checks, the job, the sensor and resources."""

from dagster import Definitions, in_process_executor, multiprocess_executor

from hokusai.settings import Settings, load_settings
from hokusai_assets import checks
from hokusai_assets.assets import build_assets
from hokusai_assets.jobs import EVALUATE_CONTRIBUTION_JOB, evaluate_contribution
from resources import build_resources
from sensors.drop_zone import build_contribution_drop_sensor
from sensors.rebase import build_contribution_rebase_sensor
from sensors.settlement import build_claim_settlement_sensor


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Definitions bound to ``settings`` (the environment's by default): the composition root."""
    settings = settings or load_settings()
    interval = settings.sensor_interval_seconds
    return Definitions(
        assets=build_assets(settings),
        asset_checks=[checks.contribution_matches_token_schema, checks.clean_rows_meet_expectations],
        jobs=[evaluate_contribution],
        sensors=[build_contribution_drop_sensor(interval), build_claim_settlement_sensor(interval),
                 build_contribution_rebase_sensor(interval)],
        resources=build_resources(settings),
        # One process per run by default: a step-per-process executor re-imports the code
        # location (pandas, sklearn, mlflow) for each of the eight steps.
        executor=multiprocess_executor if settings.step_executor == "multiprocess" else in_process_executor,
    )


defs = build_definitions()


def evaluate_contribution_job():
    """The job as this module builds it from the environment: what ``reconstructable`` needs
    to run its steps in processes of their own (``HOKUSAI_STEP_EXECUTOR=multiprocess``)."""
    return defs.resolve_job_def(EVALUATE_CONTRIBUTION_JOB)
