"""The signed claim, and the model version it registers."""


from typing import Any

from dagster import AssetExecutionContext, MetadataValue, Output, asset

from hokusai.attestation import attestation_hash, build_mint_request
from hokusai.chain.acceptance import admit, settle_locally
from hokusai.claims import attestation_document, candidate_link, remove_outputs, write_json_outputs
from hokusai.data_commitments import ROWS_FILE
from hokusai.eip712 import idempotency_key, mint_request_digest, validate_mint_request
from hokusai.pipeline import BaselinePin, CandidateModel
from hokusai.registration import register_candidate
from hokusai.rejections import clear_rejection
from hokusai.zk import validate_zk_document, zk_document
from hokusai_assets.partitions import contributions
from hokusai_assets.pools import REGISTRY_POOL
from hokusai_assets.retries import MLFLOW_RETRY_POLICY
from resources.attester import AttesterResource
from resources.ledger import LedgerResource
from resources.model_registry import ModelRegistryResource
from resources.outputs import OutputsResource
from resources.token_specs import TokenSpecsResource

GROUP = "attestation"


@asset(partitions_def=contributions, group_name=GROUP, kinds={"python", "ethereum"})
def attestation(
    context: AssetExecutionContext,
    delta_one: dict[str, Any],
    baseline_model: BaselinePin,
    new_model: CandidateModel,
    token_specs: TokenSpecsResource,
    attester: AttesterResource,
    outputs: OutputsResource,
    ledger: LedgerResource,
) -> Output[dict[str, Any]]:
    """Canonical attestation + SHA-256 for every evaluation; a signed EIP-712 mint request only for an
    eligible one that becomes the head of the token's lineage chain."""
    spec = token_specs.get_spec(delta_one["evaluation_metadata"]["token_id"])
    document = attestation_document(spec, delta_one)
    envelope: dict[str, Any] = {"attestation": document, "attestation_hash": attestation_hash(document)}
    key = idempotency_key(spec.model_id_uint, envelope["attestation_hash"])
    directory = outputs.dir_for(context.partition_key)
    chain = ledger.get_chain()
    decision = admit(chain, eligible=bool(document["result"]["eligible"]), verdict_reason=document["result"]["reason"],
                     candidate=candidate_link(spec, baseline_model, new_model, document, key,
                                              directory / ROWS_FILE))
    envelope["claim"] = {"claimed": decision.claim, "reason": decision.reason, "rebase": decision.rebase}
    if not decision.rebase:
        chain.close_rebase(context.partition_key)  # evaluated on the head it was asked to re-base on
    documents: dict[str, Any] = {"delta_one.json": delta_one}
    mint_request, prover_document, digest = None, None, None
    clear_rejection(directory)
    if decision.claim:
        attester_key = attester.get_key()
        mint_request = build_mint_request(
            document, chain_id=attester.chain_id, verifying_contract=attester.verifying_contract,
            attester_private_key=attester_key.private_key_hex, deadline_seconds=attester.deadline_seconds,
            max_cost_usd_micro=attester.max_cost_usd_micro,
        )
        problems = validate_mint_request(mint_request)
        if problems:
            raise ValueError("mint request does not match mint_request.v1: " + "; ".join(problems))
        digest = mint_request_digest(mint_request, attester.chain_id, attester.verifying_contract)
        envelope["eip712"] = {"chain_id": attester.chain_id, "verifying_contract": attester.verifying_contract,
                              "digest": digest, "signer": attester_key.address, "dev_key": attester_key.is_dev_key}
        prover_document = zk_document(
            envelope, delta_one, mint_request,
            environment="development" if attester_key.is_dev_key else "production",
            dry_run=context.run.tags.get("hokusai/dry_run") == "true",
        )
        problems = validate_zk_document(prover_document)
        if problems:
            raise ValueError("prover document does not match zk_output_schema: " + "; ".join(problems))
        settled = settle_locally(chain, key)
        envelope["claim"]["settlement"] = settled.state if settled else None
        documents |= {"mint_request.json": mint_request, "zk_output.json": prover_document}
        if attester_key.is_dev_key:
            context.log.warning(f"Signed with a DEVELOPMENT attester key ({attester_key.address}); not for production.")
    else:
        remove_outputs(directory, ("mint_request.json", "zk_output.json"))
    documents["attestation.json"] = envelope
    files = write_json_outputs(directory, documents)
    context.log.info(decision.reason)
    return Output(
        {**envelope, "delta_one": delta_one, "mint_request": mint_request, "files": files},
        metadata={
            "attestation_hash": envelope["attestation_hash"],
            "claimed": decision.claim,
            "claim_reason": decision.reason,
            "rebase_requested": decision.rebase,
            "chain_position": decision.link.position if decision.link else -1,
            "eip712_digest": digest or "",
            "idempotency_key": key,
            "hash_tree_root": prover_document["attestation"]["hash_tree_root"] if prover_document else "",
            "signer": envelope.get("eip712", {}).get("signer", ""),
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
    ledger: LedgerResource,
) -> Output[dict[str, Any]]:
    """The new model as a version of the token's registered model; ``champion`` follows the chain's head."""
    spec = token_specs.get_spec(new_model.contribution.token_id)
    registry = model_registry.get_registry()
    outcome = register_candidate(registry, ledger.get_chain(), spec, new_model, attestation["delta_one"],
                                 attestation["attestation_hash"])
    # The evidence (and the signed claim, if any) travels with the model: the run's artifacts (S3 behind a server).
    documents = {"delta_one.json": attestation["delta_one"],
                 "attestation.json": {key: attestation[key] for key in ("attestation", "attestation_hash", "claim",
                                                                         "eip712") if key in attestation}}
    if attestation["mint_request"] is not None:
        documents["mint_request.json"] = attestation["mint_request"]
    documents = registry.log_run_documents(new_model.run_id, documents)
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
