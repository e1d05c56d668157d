"""Blocking checks: a contribution that fails them never reaches training.

Each runs a Great Expectations (GX Core 1.x) suite derived from the token spec;
the upload's check also runs Hokusai's own schema validation, which names every
bad column with its counts. A failure is recorded as the partition's rejection.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from hokusai.intake.expectations import clean_data_expectations, contribution_expectations, run_expectations
from hokusai.intake.read import CleanDataset, ContributedDataset, check_schema
from hokusai.intake.rejections import record_rejection
from hokusai_assets.assets.contribution import clean_dataset, contributed_dataset
from hokusai_assets.partitions import contributions
from resources.outputs import OutputsResource
from resources.token_specs import TokenSpecsResource


def _result(context, outputs: OutputsResource, stage: str, problems: list[str], details: list, evaluated: int,
            manifest) -> AssetCheckResult:
    passed = not problems
    if not passed:
        record_rejection(outputs.dir_for(context.partition_key), partition_key=context.partition_key,
                         stage=stage, reasons=problems, manifest=manifest, details=details)
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(problems) if problems else f"all {evaluated} checks passed",
        metadata={
            "checks_evaluated": evaluated,
            "checks_failed": len(problems),
            "what_to_fix": MetadataValue.md("\n".join(f"- {p}" for p in problems) or "nothing"),
            "details": MetadataValue.json(details),
        },
    )


def _said_already(failure: dict, schema) -> bool:
    """A GX failure the schema validation already put in a contributor's words (columns)."""
    column_problem = any(p.code in ("missing_column", "unknown_columns") for p in schema.problems)
    return column_problem and (failure["expectation"] == "ExpectTableColumnsToMatchSet"
                               or failure["problem"].startswith("cannot check"))


@asset_check(asset=contributed_dataset, blocking=True, partitions_def=contributions,
             description="The upload has the token's columns, dtypes, ranges, labels and a minimum of rows "
                         "(Great Expectations suite + schema validation).")
def contribution_matches_token_schema(
    context: AssetCheckExecutionContext,
    contributed_dataset: ContributedDataset,
    token_specs: TokenSpecsResource,
    outputs: OutputsResource,
) -> AssetCheckResult:
    spec = token_specs.get_spec(contributed_dataset.token_id)
    schema = check_schema(contributed_dataset, spec)
    expectations = run_expectations(contributed_dataset.frame, contribution_expectations(spec),
                                    f"{spec.token_id}-contribution")
    problems = [p.message for p in schema.problems]
    problems += [f["problem"] for f in expectations.failures if not _said_already(f, schema)]
    details = [p.as_dict() for p in schema.problems] + expectations.failures
    return _result(context, outputs, "contribution_matches_token_schema", problems, details,
                   expectations.evaluated, contributed_dataset.manifest)


@asset_check(asset=clean_dataset, blocking=True, partitions_def=contributions,
             description="Cleaned rows have valid labels, enough rows, and no personal data left "
                         "(Great Expectations suite).")
def clean_rows_meet_expectations(
    context: AssetCheckExecutionContext,
    clean_dataset: CleanDataset,
    token_specs: TokenSpecsResource,
    outputs: OutputsResource,
) -> AssetCheckResult:
    spec = token_specs.get_spec(clean_dataset.token_id)
    report = run_expectations(clean_dataset.frame, clean_data_expectations(spec, clean_dataset.frame),
                              f"{spec.token_id}-clean")
    problems = [f["problem"] for f in report.failures]
    return _result(context, outputs, "clean_rows_meet_expectations", problems, report.failures,
                   report.evaluated, None)
