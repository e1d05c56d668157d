"""The signed claim, and the model version it registers."""


from typing import Any

from dagster import AssetExecutionContext, MetadataValue, Output, asset

from hokusai.attestation import attestation_hash, build_mint_request
from hokusai.claims import attestation_document, write_json_outputs
from hokusai.eip712 import mint_request_digest, validate_mint_request
from hokusai.pipeline import CandidateModel
from hokusai.registration import register_candidate
from hokusai.rejections import clear_rejection
from hokusai.zk import validate_zk_document, zk_document
from hokusai_assets.partitions import contributions
from hokusai_assets.pools import REGISTRY_POOL
from hokusai_assets.retries import MLFLOW_RETRY_POLICY
from resources.attester import AttesterResource
from resources.model_registry import ModelRegistryResource
from resources.outputs import OutputsResource
from resources.token_specs import TokenSpecsResource

GROUP = "attestation"


@asset(partitions_def=contributions, group_name=GROUP, kinds={"python", "ethereum"})
def attestation(
    context: AssetExecutionContext,
    delta_one: dict[str, Any],
    token_specs: TokenSpecsResource,
    attester: AttesterResource,
    outputs: OutputsResource,
) -> Output[dict[str, Any]]:
    """Canonical attestation + SHA-256, and the EIP-712 mint request signed by the attester key."""
    spec = token_specs.get_spec(delta_one["evaluation_metadata"]["token_id"])
    document = attestation_document(spec, delta_one)
    key = attester.get_key()
    mint_request = build_mint_request(
        document, chain_id=attester.chain_id, verifying_contract=attester.verifying_contract,
        attester_private_key=key.private_key_hex, deadline_seconds=attester.deadline_seconds,
        max_cost_usd_micro=attester.max_cost_usd_micro,
    )
    problems = validate_mint_request(mint_request)
    if problems:
        raise ValueError("mint request does not match mint_request.v1: " + "; ".join(problems))
    digest = mint_request_digest(mint_request, attester.chain_id, attester.verifying_contract)
    envelope = {
        "attestation": document,
        "attestation_hash": attestation_hash(document),
        "eip712": {"chain_id": attester.chain_id, "verifying_contract": attester.verifying_contract,
                   "digest": digest, "signer": key.address, "dev_key": key.is_dev_key},
    }
    prover_document = zk_document(
        envelope, delta_one, mint_request, environment="development" if key.is_dev_key else "production",
        dry_run=context.run.tags.get("hokusai/dry_run") == "true",
    )
    problems = validate_zk_document(prover_document)
    if problems:
        raise ValueError("prover document does not match zk_output_schema: " + "; ".join(problems))
    directory = outputs.dir_for(context.partition_key)
    clear_rejection(directory)
    files = write_json_outputs(
        directory,
        {"delta_one.json": delta_one, "attestation.json": envelope, "mint_request.json": mint_request,
         "zk_output.json": prover_document},
    )
    if key.is_dev_key:
        context.log.warning(f"Signed with a DEVELOPMENT attester key ({key.address}); not for production.")
    return Output(
        {**envelope, "delta_one": delta_one, "mint_request": mint_request, "files": files},
        metadata={
            "attestation_hash": envelope["attestation_hash"],
            "eip712_digest": digest,
            "idempotency_key": mint_request["idempotency_key"],
            "hash_tree_root": prover_document["attestation"]["hash_tree_root"],
            "signer": key.address,
            "dev_key": key.is_dev_key,
            "eval_id": document["eval_id"],
            "eligible": document["result"]["eligible"],
            "files": MetadataValue.json(files),
            "attestation": MetadataValue.json(document),
        },
    )


@asset(partitions_def=contributions, group_name=GROUP, kinds={"mlflow"}, pool=REGISTRY_POOL,
       retry_policy=MLFLOW_RETRY_POLICY)
def registered_token_model(
    context: AssetExecutionContext,
    new_model: CandidateModel,
    attestation: dict[str, Any],
    token_specs: TokenSpecsResource,
    model_registry: ModelRegistryResource,
) -> Output[dict[str, Any]]:
    """The new model as a version of the token's registered model; champion only if the gain is real."""
    spec = token_specs.get_spec(new_model.contribution.token_id)
    registry = model_registry.get_registry()
    outcome = register_candidate(registry, spec, new_model, attestation["delta_one"], attestation["attestation_hash"])
    # The signed claim travels with the model: the run's artifacts (S3 behind a server).
    documents = registry.log_run_documents(new_model.run_id, {
        "delta_one.json": attestation["delta_one"],
        "attestation.json": {key: attestation[key] for key in ("attestation", "attestation_hash", "eip712")},
        "mint_request.json": attestation["mint_request"],
    })
    context.log.info(outcome["summary"])
    return Output(
        outcome,
        metadata={
            "model_name": outcome["model_name"],
            "version": outcome["version"],
            "alias": outcome["alias"],
            "champion_moved": outcome["champion_moved"],
            "champion_reason": outcome["champion_reason"],
            "run_documents": MetadataValue.json(documents),
            "mlflow_run_id": new_model.run_id,
            "model_uri": MetadataValue.text(f"models:/{outcome['model_name']}/{outcome['version']}"),
            "tags": MetadataValue.json(outcome["tags"]),
        },
    )
