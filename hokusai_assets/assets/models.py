"""The champion a contribution is judged against, and the model trained with it."""


from dagster import AssetExecutionContext, AssetRecordsFilter, MetadataValue, Output, asset

from hokusai.drops import parse_drop_key, parse_partition_key
from hokusai.intake import CleanDataset
from hokusai.pipeline import BaselinePin, CandidateModel, ensure_baseline, pinned_baseline, train_candidate
from hokusai.redaction import redact_uri
from hokusai_assets.partitions import contributions
from hokusai_assets.pools import REGISTRY_POOL
from hokusai_assets.retries import MLFLOW_RETRY_POLICY
from resources.model_registry import ModelRegistryResource
from resources.token_specs import TokenSpecsResource

GROUP = "models"


def token_of(partition_key: str) -> str:
    """The token a partition belongs to, read from the key itself."""
    return parse_drop_key(parse_partition_key(partition_key)[0]).token_id


@asset(partitions_def=contributions, group_name=GROUP, kinds={"mlflow", "scikitlearn"},
       retry_policy=MLFLOW_RETRY_POLICY, pool=REGISTRY_POOL)
def baseline_model(
    context: AssetExecutionContext, token_specs: TokenSpecsResource, model_registry: ModelRegistryResource
) -> Output[BaselinePin]:
    """The token's champion model version when this contribution is evaluated (trained on first use)."""
    spec = token_specs.get_spec(token_of(context.partition_key))
    registry = model_registry.get_registry()
    pinned_version = _pinned_version(context)
    if pinned_version is not None:
        pin = pinned_baseline(registry, spec, pinned_version)
        context.log.info(f"Re-run: baseline pinned to v{pin.version}, as when this contribution was first evaluated")
    else:
        pin = ensure_baseline(registry, spec, token_specs.base_data(spec), model_registry.experiment_for(spec.token_id))
    if pin.trained_now:
        context.log.info(f"No champion for {spec.model_name}: trained and registered baseline v{pin.version}")
    return Output(
        pin,
        metadata={
            "model_name": pin.model_name,
            "version": pin.version,
            "mlflow_run_id": pin.run_id or "",
            "weights_commitment": pin.weights_commitment,
            "trained_now": pin.trained_now,
            "pinned_from_earlier_run": pinned_version is not None,
        },
    )


def _pinned_version(context: AssetExecutionContext):
    """The champion version this partition was first evaluated against, if it was."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records:
        return None
    version = records[0].asset_materialization.metadata.get("version")
    return int(version.value) if version is not None else None


@asset(partitions_def=contributions, group_name=GROUP, kinds={"mlflow", "scikitlearn"},
       retry_policy=MLFLOW_RETRY_POLICY)
def new_model(
    context: AssetExecutionContext,
    clean_dataset: CleanDataset,
    token_specs: TokenSpecsResource,
    model_registry: ModelRegistryResource,
) -> Output[CandidateModel]:
    """The token's estimator trained on base data + this contribution, logged to MLflow."""
    spec = token_specs.get_spec(clean_dataset.token_id)
    candidate = train_candidate(
        model_registry.get_registry(), spec, token_specs.base_data(spec), clean_dataset,
        model_registry.experiment_for(spec.token_id),
    )
    return Output(
        candidate,
        metadata={
            "estimator": spec.estimator_class,
            "training_rows": candidate.training_rows,
            "training_sha256": candidate.training_sha256,
            "merge_strategy": spec.merge_strategy,
            "mlflow_run_id": candidate.run_id,
            "model_uri": candidate.model_uri,
            "weights_commitment": candidate.weights_commitment,
            "mlflow_tracking_uri": MetadataValue.text(redact_uri(model_registry.tracking_uri)),
        },
    )
