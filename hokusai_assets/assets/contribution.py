"""The contribution as uploaded, then as cleaned for training."""


from dagster import AssetExecutionContext, Failure, MetadataValue, Output, asset

from hokusai.contribution_store import ContributionChangedError, ContributionMissingError
from hokusai.drops import InvalidDropError
from hokusai.loading import ContributionFormatError
from hokusai.pipeline import CleanDataset, ContributedDataset, ContributionRejected, clean, read_contribution
from hokusai_assets.partitions import contributions
from resources.contribution_store import ContributionStoreResource
from resources.token_specs import TokenSpecsResource

GROUP = "contribution"


@asset(partitions_def=contributions, group_name=GROUP, kinds={"pandas", "s3"})
def contributed_dataset(
    context: AssetExecutionContext, contribution_store: ContributionStoreResource
) -> Output[ContributedDataset]:
    """The uploaded file, parsed, with its manifest: source, ETag, bytes, SHA-256, column profile."""
    try:
        contributed = read_contribution(contribution_store.get_store(), context.partition_key)
    except (ContributionFormatError, InvalidDropError, ContributionChangedError, ContributionMissingError) as error:
        raise Failure(
            description=f"Contribution rejected: {error}",
            metadata={"reason": str(error), "partition": context.partition_key},
            allow_retries=False,
        ) from None
    manifest = contributed.manifest
    return Output(
        contributed,
        metadata={
            "token_id": contributed.token_id,
            "wallet_address": contributed.wallet_address,
            "source_uri": MetadataValue.url(manifest["source_uri"]) if manifest["source_uri"].startswith(("s3://", "http")) else manifest["source_uri"],
            "etag": manifest["etag"],
            "bytes": manifest["bytes"],
            "sha256": manifest["sha256"],
            "format": manifest["format"],
            "dagster/row_count": manifest["rows"],
            "columns": len(manifest["columns"]),
            "nulls": sum(manifest["nulls"].values()),
            "manifest": MetadataValue.json(manifest),
        },
    )


@asset(partitions_def=contributions, group_name=GROUP, kinds={"pandas"})
def clean_dataset(
    context: AssetExecutionContext, contributed_dataset: ContributedDataset, token_specs: TokenSpecsResource
) -> Output[CleanDataset]:
    """The contribution validated against the token's schema, coerced, without duplicates or benchmark rows."""
    spec = token_specs.get_spec(contributed_dataset.token_id)
    try:
        cleaned = clean(contributed_dataset, spec, token_specs.benchmark(spec))
    except ContributionRejected as error:
        raise Failure(description=f"Contribution rejected: {error}", metadata={"reason": str(error)},
                      allow_retries=False) from None
    return Output(
        cleaned,
        metadata={
            "dagster/row_count": len(cleaned.frame),
            "rows_in": cleaned.stats["rows_in"],
            "duplicates_removed": cleaned.stats["duplicates_removed"],
            "benchmark_rows_removed": cleaned.stats["benchmark_rows_removed"],
            "rows_sha256": cleaned.rows_sha256,
            "label_counts": MetadataValue.json(
                {str(k): int(v) for k, v in cleaned.frame[spec.label_column].value_counts().sort_index().items()}
            ),
        },
    )
