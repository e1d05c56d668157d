"""The attestation (with a signed claim when eligible and the chain's new head), and the version it registers."""


from dataclasses import replace
from typing import Any

from dagster import AssetExecutionContext, Failure, MetadataValue, Output, RetryRequested, asset

from hokusai.chain.acceptance import admit, refuse_on_chain_head, spent_claim
from hokusai.chain.head_check import check_chain_head
from hokusai.chain.onchain_head import ChainReadError
from hokusai.rules.attestation import attestation_document, attestation_hash
from hokusai.claims.documents import (
    candidate_link,
    recorded_claim,
    sign_claim,
    write_evaluation_outputs,
    write_json_outputs,
)
from hokusai.commitments.rows import ROWS_FILE
from hokusai.claims.eip712 import idempotency_key
from hokusai.models.steps import BaselinePin, CandidateModel
from hokusai.models.registration import register_candidate
from hokusai.intake.rejections import clear_rejection
from hokusai.settlement.decision import claim_decision
from hokusai.settlement.genesis import GENESIS_FILE, weight_genesis
from hokusai.settlement.outbox import REUSED, ClaimResolution, resolve_claim
from hokusai.settlement.relay import submit_claim
from hokusai_assets.partitions import contributions
from hokusai_assets.retries import mlflow_step
from resources.attester import AttesterResource
from resources.model_registry import ModelRegistryResource
from resources.outputs import OutputsResource
from resources.settlement import ClaimsLedgerResource, RelayerResource
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
    claims_ledger: ClaimsLedgerResource,
    relayer: RelayerResource,
) -> Output[dict[str, Any]]:
    """Canonical attestation + SHA-256 for every evaluation; the signed EIP-712 mint request, recorded in
    the claims outbox, only for an eligible one that becomes the head of the token's lineage chain."""
    spec = token_specs.get_spec(delta_one["evaluation_metadata"]["token_id"])
    document = attestation_document(spec, delta_one)
    envelope: dict[str, Any] = {"attestation": document, "attestation_hash": attestation_hash(document)}
    directory = outputs.dir_for(context.partition_key)
    chain = claims_ledger.get_chain()
    key = idempotency_key(spec.model_id_uint, envelope["attestation_hash"])
    eligibility = claim_decision(delta_one)
    head_check = _chain_head_check(context, attester, chain, spec, delta_one, key) if eligibility.claim else None
    signed, attester_key, resolution = None, None, None
    if head_check is not None and not head_check.allowed:  # the contract would revert: not signed
        decision = refuse_on_chain_head(chain, head_check, context.partition_key, spec.token_id)
        context.log.warning(f"not signed: {head_check.reason}")
    else:
        if eligibility.claim:  # sign first: a key that cannot sign must not leave a link without its claim
            attester_key = attester.get_key()
            settings = {"signer": attester_key.address, "dev_key": attester_key.is_dev_key,
                        "chain_id": attester.chain_id, "verifying_contract": attester.verifying_contract,
                        "dry_run": context.run.tags.get("hokusai/dry_run") == "true"}
            signed = sign_claim(envelope, delta_one, private_key_hex=attester_key.private_key_hex,
                                deadline_seconds=attester.deadline_seconds,
                                max_cost_usd_micro=attester.max_cost_usd_micro, **settings)
            signed, resolution = _one_message_per_key(claims_ledger.get_engine(), envelope, delta_one, signed,
                                                      settings)
        if resolution is not None and resolution.spent:
            decision = spent_claim(key, resolution.status)
        else:
            decision = replace(admit(chain, eligibility, candidate_link(spec, baseline_model, new_model, document,
                                                                        key, directory / ROWS_FILE)),
                               chain_head=head_check)
    envelope["claim"] = decision.as_dict()
    if not decision.rebase:
        chain.close_rebase(context.partition_key)  # evaluated on the head it was asked to re-base on
    documents: dict[str, Any] = {"delta_one.json": delta_one}
    mint_request, signing, submission = None, {}, None
    if decision.claim:
        mint_request, envelope["eip712"] = signed.mint_request, signed.eip712
        documents |= {"mint_request.json": mint_request, "zk_output.json": signed.prover_document}
        signing = {"eip712_digest": signed.eip712["digest"], "idempotency_key": mint_request["idempotency_key"],
                   "hash_tree_root": signed.prover_document["attestation"]["hash_tree_root"],
                   "signer": attester_key.address, "dev_key": attester_key.is_dev_key}
        if attester_key.is_dev_key:
            context.log.warning(f"Signed with a DEVELOPMENT attester key ({attester_key.address}); "
                                "not for production.")
        submission = submit_claim(claims_ledger.get_engine(), relayer.get_client(), mint_request,
                                  token_id=spec.token_id, partition_key=context.partition_key)
        if submission.status == "minted":  # settled locally: no relayer configured
            chain.settle(mint_request["idempotency_key"], "minted", note=submission.note)
        context.log.info(f"claim {submission.idempotency_key} {submission.status}: {submission.note}")
    else:  # not eligible, or re-based: a message signed for a head that moved is dropped unpublished
        context.log.info(f"{decision.summary}: attestation and DeltaOne kept as evidence, nothing published")
    clear_rejection(directory)
    files = write_evaluation_outputs(directory, {**documents, "attestation.json": envelope})
    genesis = weight_genesis(model_id_uint=spec.model_id_uint, model_name=spec.model_name, token_id=spec.token_id,
                             baseline=delta_one["baseline_model"])
    if genesis:  # the token's first baseline: say what governance must seed on chain
        genesis["file"] = write_json_outputs(outputs.dir_for(spec.token_id), {GENESIS_FILE: genesis})[GENESIS_FILE]
    claim = {"claim_status": submission.status, "claim_note": submission.note} if submission else {}
    return Output(
        {**envelope, "delta_one": delta_one, "mint_request": mint_request, "files": files, **claim,
         "weight_genesis": genesis},
        metadata={
            "attestation_hash": envelope["attestation_hash"],
            "claim": decision.summary,
            "chain_position": decision.link.position if decision.link else -1,
            "rebase_requested": decision.rebase,
            **({"claim_message": resolution.action} if resolution else {}),
            **({"chain_head": head_check.code, "onchain_head": head_check.onchain_head} if head_check else {}),
            **claim,
            **({"weight_genesis": genesis["call"]} if genesis else {}),
            **signing,
            "eval_id": document["eval_id"],
            "eligible": document["result"]["eligible"],
            "files": MetadataValue.json(files),
            "attestation": MetadataValue.json(document),
        },
    )


def _one_message_per_key(engine: Any, envelope: dict[str, Any], delta_one: dict[str, Any], fresh: Any,
                         settings: dict[str, Any]) -> tuple[Any, ClaimResolution]:
    """A re-run gets the claim the outbox holds for its key, never a second signed message; other
    evidence under the key fails the step before anything is appended or written."""
    try:
        resolution = resolve_claim(engine, fresh.mint_request)
        if resolution.action == REUSED:
            return recorded_claim(envelope, delta_one, resolution.message, **settings), resolution
    except ValueError as exc:  # ClaimConflict, or a recorded signature that is not this attester's
        raise Failure(description=f"not signed: {exc}", allow_retries=False) from None
    return fresh, resolution


def _chain_head_check(context: AssetExecutionContext, attester: AttesterResource, chain: Any, spec: Any,
                      delta_one: dict[str, Any], key: str):
    """The chain's view of the baseline, when an RPC is configured; fail closed when it cannot be read:
    an unreachable RPC retries the step (nothing was signed or appended), a wrong setting fails it."""
    rpc = attester.get_chain_rpc()
    if rpc is None:
        return None
    try:
        return check_chain_head(rpc, chain, token_id=spec.token_id, model_id_uint=spec.model_id_uint,
                                baseline_commitment=delta_one["baseline_model"]["weights_commitment"],
                                idempotency_key=key)
    except ChainReadError as exc:
        message = f"not signed: the chain's head could not be read: {exc}"
        if exc.retryable and context.retry_number < attester.chain_rpc_retries:
            context.log.warning(f"{message}; retry {context.retry_number + 1} of {attester.chain_rpc_retries} "
                                f"in {attester.chain_rpc_retry_seconds} s")
            raise RetryRequested(max_retries=attester.chain_rpc_retries,
                                 seconds_to_wait=attester.chain_rpc_retry_seconds) from None
        if exc.retryable:
            message += "; retryable: run the evaluation again once the RPC answers"
        raise Failure(description=message, allow_retries=False) from None


@mlflow_step(partitions_def=contributions, group_name=GROUP, kinds={"mlflow"})
def registered_token_model(
    context: AssetExecutionContext,
    new_model: CandidateModel,
    attestation: dict[str, Any],
    token_specs: TokenSpecsResource,
    model_registry: ModelRegistryResource,
    claims_ledger: ClaimsLedgerResource,
) -> Output[dict[str, Any]]:
    """The new model as a version of the token's registered model; ``champion`` follows the chain's head."""
    spec = token_specs.get_spec(new_model.contribution.token_id)
    registry = model_registry.get_registry()
    with claims_ledger.token_lock(spec.token_id, on_wait=context.log.info):  # the champion alias is read, then moved
        outcome = register_candidate(registry, claims_ledger.get_chain(), spec, new_model, attestation["delta_one"],
                                     attestation["attestation_hash"])
    # The evidence, and the signed claim if any, travel with the model: the run's artifacts (S3 behind a server).
    envelope_keys = ("attestation", "attestation_hash", "claim", "eip712")
    documents = registry.log_run_documents(new_model.run_id, {
        "delta_one.json": attestation["delta_one"],
        "attestation.json": {key: attestation[key] for key in envelope_keys if key in attestation},
        **({"mint_request.json": attestation["mint_request"]} if attestation["mint_request"] else {}),
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
