"""The champion a contribution is judged against, and the model trained with it."""


from dagster import AssetExecutionContext, AssetRecordsFilter, MetadataValue, Output

from hokusai.drops.keys import parse_drop_key, parse_partition_key
from hokusai.intake.read import CleanDataset
from hokusai.models.steps import (
    BaselinePin,
    CandidateModel,
    champion_training_set,
    ensure_baseline,
    pinned_baseline,
    train_candidate,
)
from hokusai.rules.redaction import redact_uri
from hokusai_assets.partitions import contributions
from hokusai_assets.retries import mlflow_step
from resources.settlement import ClaimsLedgerResource
from resources.model_registry import ModelRegistryResource
from resources.token_specs import TokenSpecsResource

GROUP = "models"


def token_of(partition_key: str) -> str:
    """The token a partition belongs to, read from the key itself."""
    return parse_drop_key(parse_partition_key(partition_key)[0]).token_id


@mlflow_step(partitions_def=contributions, group_name=GROUP, kinds={"mlflow", "scikitlearn"})
def baseline_model(
    context: AssetExecutionContext, token_specs: TokenSpecsResource, model_registry: ModelRegistryResource,
    claims_ledger: ClaimsLedgerResource,
) -> Output[BaselinePin]:
    """The head of the token's lineage chain when this contribution is evaluated (genesis trained on first use).

    A re-run of an evaluated partition keeps the head it was first measured against, so it
    reproduces its claim; a partition asked to re-base (its head moved or was rolled back)
    takes the current head.
    """
    spec = token_specs.get_spec(token_of(context.partition_key))
    registry, chain = model_registry.get_registry(), claims_ledger.get_chain()
    rebase = chain.rebase_requested(context.partition_key)
    pinned = None if rebase else _pinned_commitment(context)
    pin = pinned_baseline(chain, spec, pinned) if pinned else None
    if pin is not None:
        context.log.info(f"Re-run: baseline pinned to chain position {pin.position}, as when this contribution "
                         "was first evaluated")
    else:
        # one run at a time may find no chain and crown the token's genesis baseline
        with claims_ledger.token_lock(spec.token_id, on_wait=context.log.info):
            pin = ensure_baseline(registry, chain, spec, token_specs.base_data(spec),
                                  model_registry.experiment_for(spec.token_id))
        if rebase:
            context.log.info(f"Re-based on chain position {pin.position}: {rebase}")
    if pin.trained_now:
        context.log.info(f"No chain for {spec.token_id} yet: trained and registered its genesis baseline v{pin.version}")
    return Output(
        pin,
        metadata={
            "model_name": pin.model_name,
            "version": pin.version if pin.version is not None else -1,
            "chain_position": pin.position,
            "mlflow_run_id": pin.run_id or "",
            "weights_commitment": pin.weights_commitment,
            "training_rows": sum(link.rows_count for link in pin.lineage),
            "lineage": MetadataValue.json(pin.lineage_pins()),
            "trained_now": pin.trained_now,
            "pinned_from_earlier_run": pinned is not None and not rebase,
            "rebased": bool(rebase),
        },
    )


def _pinned_commitment(context: AssetExecutionContext) -> str | None:
    """The champion commitment this partition was first evaluated against, if it was."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records:
        return None
    commitment = records[0].asset_materialization.metadata.get("weights_commitment")
    return str(commitment.value) if commitment is not None else None


@mlflow_step(partitions_def=contributions, group_name=GROUP, kinds={"mlflow", "scikitlearn"})
def new_model(
    context: AssetExecutionContext,
    clean_dataset: CleanDataset,
    baseline_model: BaselinePin,
    token_specs: TokenSpecsResource,
    model_registry: ModelRegistryResource,
) -> Output[CandidateModel]:
    """The token's estimator trained on the champion's training set + this contribution's new rows."""
    spec = token_specs.get_spec(clean_dataset.token_id)
    champion_rows = champion_training_set(baseline_model, token_specs.base_data(spec), spec)
    candidate = train_candidate(
        model_registry.get_registry(), spec, champion_rows, clean_dataset, model_registry.experiment_for(spec.token_id),
    )
    return Output(
        candidate,
        metadata={
            "estimator": spec.estimator_class,
            "training_rows": candidate.training_rows,
            "champion_training_rows": len(champion_rows),
            "new_rows": len(clean_dataset.frame),
            "training_sha256": candidate.training_sha256,
            "merge_strategy": spec.merge_strategy,
            "mlflow_run_id": candidate.run_id,
            "model_uri": candidate.model_uri,
            "weights_commitment": candidate.weights_commitment,
            "mlflow_tracking_uri": MetadataValue.text(redact_uri(model_registry.tracking_uri)),
        },
    )
