"""Blocking checks: a contribution that fails them never reaches training."""


from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from hokusai.pipeline import ContributedDataset, check_schema
from hokusai_assets.assets.contribution import contributed_dataset
from hokusai_assets.partitions import contributions
from resources.token_specs import TokenSpecsResource


@asset_check(asset=contributed_dataset, blocking=True, partitions_def=contributions,
             description="The upload has the token's columns, dtypes, ranges and labels.")
def contribution_matches_token_schema(
    contributed_dataset: ContributedDataset, token_specs: TokenSpecsResource
) -> AssetCheckResult:
    spec = token_specs.get_spec(contributed_dataset.token_id)
    report = check_schema(contributed_dataset, spec)
    problems = [problem.as_dict() for problem in report.problems]
    return AssetCheckResult(
        passed=report.passed,
        severity=AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata={
            "problems": len(problems),
            "expected_columns": len(spec.feature_names) + 1,
            "observed_columns": contributed_dataset.frame.shape[1],
            "what_to_fix": MetadataValue.md("\n".join(f"- {p['message']}" for p in problems) or "nothing"),
            "details": MetadataValue.json(problems),
        },
    )
