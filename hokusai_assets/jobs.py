"""The one job: evaluate a contribution end to end, one partition (``contributions``) per run."""

from dagster import AssetSelection, define_asset_job


EVALUATE_CONTRIBUTION_JOB = "evaluate_contribution"

evaluate_contribution = define_asset_job(
    EVALUATE_CONTRIBUTION_JOB,
    selection=AssetSelection.all(),
    description="Load, check, clean, train, benchmark, DeltaOne, attest and register one contribution.",
    tags={"hokusai/pipeline": "contribution-evaluation"},
)
