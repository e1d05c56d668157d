"""The contribution as uploaded (personal data already hashed), then as cleaned for training."""

from dagster import AssetExecutionContext, Failure, MetadataValue, Output, asset

from hokusai.drops.store import ContributionChangedError, ContributionMissingError
from hokusai.commitments.rows import ROWS_FILE
from hokusai.drops.keys import InvalidDropError
from hokusai.intake.read import CleanDataset, ContributedDataset, ContributionRejected, clean, read_contribution
from hokusai.intake.loading import ContributionFormatError
from hokusai.models.steps import BaselinePin, champion_training_set
from hokusai.intake.rejections import record_rejection
from hokusai.tokens.spec import UnknownTokenError
from hokusai_assets.partitions import contributions
from resources.contribution_store import ContributionStoreResource
from resources.intake import IntakeResource
from resources.outputs import OutputsResource
from resources.token_specs import TokenSpecsResource

GROUP = "contribution"
UNUSABLE_UPLOAD = (ContributionFormatError, InvalidDropError, ContributionChangedError, ContributionMissingError,
                   ContributionRejected, UnknownTokenError)


def reject(context: AssetExecutionContext, outputs: OutputsResource, stage: str, reason: str,
           manifest=None) -> Failure:
    """Record the rejection next to the partition's outputs and build the step failure."""
    path = record_rejection(outputs.dir_for(context.partition_key), partition_key=context.partition_key,
                            stage=stage, reasons=[reason], manifest=manifest)
    return Failure(description=f"Contribution rejected: {reason}", allow_retries=False,
                   metadata={"reason": reason, "stage": stage, "rejection_record": str(path)})


@asset(partitions_def=contributions, group_name=GROUP, kinds={"pandas", "s3"})
def contributed_dataset(
    context: AssetExecutionContext,
    contribution_store: ContributionStoreResource,
    token_specs: TokenSpecsResource,
    intake: IntakeResource,
    outputs: OutputsResource,
) -> Output[ContributedDataset]:
    """The uploaded file parsed, personal data replaced by keyed hashes, with its manifest.

    The manifest records source, ETag, bytes, SHA-256 of the raw bytes, format, encoding,
    and per column: dtype, nulls, distinct values; plus PII counts per type.
    """
    try:
        contributed = read_contribution(contribution_store.get_store(), context.partition_key,
                                        token_specs.get_spec, intake.pii_key_for, intake.policy())
    except UNUSABLE_UPLOAD as error:
        raise reject(context, outputs, "contributed_dataset", str(error).strip("'\"")) from None
    manifest = contributed.manifest
    return Output(
        contributed,
        metadata={
            "token_id": contributed.token_id,
            "wallet_address": contributed.wallet_address,
            "source_uri": manifest["source_uri"],
            "etag": manifest["etag"],
            "bytes": manifest["bytes"],
            "sha256": manifest["sha256"],
            "format": manifest["format"],
            "encoding": manifest["encoding"],
            "dagster/row_count": manifest["rows"],
            "columns": len(manifest["columns"]),
            "nulls": sum(manifest["nulls"].values()),
            "pii_values_hashed": sum(manifest["pii"]["counts"].values()),
            "pii_counts": MetadataValue.json(manifest["pii"]["counts"]),
            "manifest": MetadataValue.json(manifest),
        },
    )


@asset(partitions_def=contributions, group_name=GROUP, kinds={"pandas"})
def clean_dataset(
    context: AssetExecutionContext,
    contributed_dataset: ContributedDataset,
    baseline_model: BaselinePin,
    token_specs: TokenSpecsResource,
    intake: IntakeResource,
    outputs: OutputsResource,
) -> Output[CleanDataset]:
    """The contribution's new rows: validated, coerced, without duplicates, benchmark copies, or rows
    (and near-copies of rows) the champion was already trained on; in canonical order."""
    spec = token_specs.get_spec(contributed_dataset.token_id)
    try:
        cleaned = clean(contributed_dataset, spec, token_specs.benchmark(spec), intake.policy(),
                        rows_file=outputs.dir_for(context.partition_key) / ROWS_FILE,
                        training=champion_training_set(baseline_model, token_specs.base_data(spec), spec))
    except ContributionRejected as error:
        raise reject(context, outputs, "clean_dataset", str(error), contributed_dataset.manifest) from None
    return Output(
        cleaned,
        metadata={
            "dagster/row_count": len(cleaned.frame),
            "rows_in": cleaned.stats["rows_in"],
            "duplicates_removed": cleaned.stats["duplicates_removed"],
            "benchmark_rows_removed": cleaned.stats["benchmark_rows_removed"],
            "known_rows_removed": cleaned.stats.get("known_rows_removed", 0),
            "near_copies_removed": cleaned.stats.get("near_copies_removed", 0),
            "champion_chain_position": baseline_model.position,
            "quality_score": cleaned.quality["score"],
            "quality_parts": MetadataValue.json(cleaned.quality["parts"]),
            "rows_sha256": cleaned.rows_sha256,
            "rows_root": cleaned.rows_root,
            "benchmark_copying": MetadataValue.json(cleaned.copying),
            "label_counts": MetadataValue.json(
                {str(k): int(v) for k, v in cleaned.frame[spec.label_column].value_counts().sort_index().items()}
            ),
        },
    )
