"""The signed claim, and the model version it registers."""


from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, MetadataValue, Output, asset

from hokusai.attestation import attestation_hash, build_mint_request
from hokusai.claims import attestation_document, output_dir_for, write_json_outputs
from hokusai.eip712 import mint_request_digest, validate_mint_request
from hokusai.pipeline import CandidateModel
from hokusai.registration import register_candidate
from hokusai_assets.partitions import contributions
from resources.attester import AttesterResource
from resources.model_registry import ModelRegistryResource
from resources.token_specs import TokenSpecsResource

GROUP = "attestation"


@asset(partitions_def=contributions, group_name=GROUP, kinds={"python", "ethereum"})
def attestation(
    context: AssetExecutionContext,
    delta_one: dict[str, Any],
    token_specs: TokenSpecsResource,
    attester: AttesterResource,
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
    files = write_json_outputs(
        output_dir_for(Path(attester.outputs_dir), context.partition_key),
        {"delta_one.json": delta_one, "attestation.json": envelope, "mint_request.json": mint_request},
    )
    if key.is_dev_key:
        context.log.warning(f"Signed with a DEVELOPMENT attester key ({key.address}); not for production.")
    return Output(
        {**envelope, "delta_one": delta_one, "mint_request": mint_request, "files": files},
        metadata={
            "attestation_hash": envelope["attestation_hash"],
            "eip712_digest": digest,
            "idempotency_key": mint_request["idempotency_key"],
            "signer": key.address,
            "dev_key": key.is_dev_key,
            "eval_id": document["eval_id"],
            "eligible": document["result"]["eligible"],
            "files": MetadataValue.json(files),
            "attestation": MetadataValue.json(document),
        },
    )


@asset(partitions_def=contributions, group_name=GROUP, kinds={"mlflow"})
def registered_token_model(
    context: AssetExecutionContext,
    new_model: CandidateModel,
    attestation: dict[str, Any],
    token_specs: TokenSpecsResource,
    model_registry: ModelRegistryResource,
) -> Output[dict[str, Any]]:
    """The new model as a version of the token's registered model; champion only if the gain is real."""
    spec = token_specs.get_spec(new_model.contribution.token_id)
    outcome = register_candidate(
        model_registry.get_registry(), spec, new_model, attestation["delta_one"], attestation["attestation_hash"]
    )
    context.log.info(outcome["summary"])
    return Output(
        outcome,
        metadata={
            "model_name": outcome["model_name"],
            "version": outcome["version"],
            "alias": outcome["alias"],
            "champion_moved": outcome["champion_moved"],
            "mlflow_run_id": new_model.run_id,
            "model_uri": MetadataValue.text(f"models:/{outcome['model_name']}/{outcome['version']}"),
            "tags": MetadataValue.json(outcome["tags"]),
        },
    )
