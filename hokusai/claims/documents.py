"""From measurements to a claim: the DeltaOne document, the signed claim, the output files.

The attestation is assembled by the SDK's ``hokusai.rules.attestation.attestation_document``,
which a third party's ``PerformanceTracker`` shares.

The attestation and DeltaOne documents carry no run ids or timestamps, so one
evaluation (same contribution, same champion, same data) always hashes the same.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai.claims.mint_request import build_mint_request
from hokusai.rules.version import __version__
from hokusai.rules.delta_one import DELTA_ONE_DEFINITION, compute_delta_one
from hokusai.chain.ledger import PENDING, ChainLink
from hokusai.models.steps import BaselinePin, BenchmarkResult, CandidateModel
from hokusai.tokens.spec import TokenSpec


def delta_one_document(spec: TokenSpec, result: BenchmarkResult) -> dict[str, Any]:
    """The DeltaOne JSON for this evaluation."""
    contribution, measured = result.contribution, result.measured
    return compute_delta_one(
        baseline_metrics=measured["baseline"]["metrics"],
        new_metrics=measured["new"]["metrics"],
        primary_metric=spec.primary_metric,
        min_improvement_bps=spec.min_improvement_bps,
        baseline_model=result.baseline.as_dict(),
        new_model={"name": spec.model_name, **result.candidate},
        contributor={
            "contributor_id": contribution.wallet_address,
            "wallet_address": contribution.wallet_address,
            "data_hash": contribution.raw_sha256,
            "contributor_weights": {contribution.wallet_address: 1.0},
            "contributed_samples": contribution.rows,
            "total_samples": result.candidate["training_rows"],
            "data_manifest": {"partition_key": contribution.partition_key,
                              "clean_rows_sha256": contribution.rows_sha256,
                              "clean_rows_root": contribution.rows_root, **contribution.stats},
        },
        evaluation={
            "token_id": spec.token_id,
            "task": spec.task,
            "benchmark_spec_id": spec.benchmark_spec_id,
            "benchmark_sha256": measured["benchmark_sha256"],
            "benchmark_rows_root": measured["benchmark_rows_root"],
            "benchmark_rows": measured["benchmark_rows"],
            "sample_size": measured["sample_size"],
            "seed": spec.seed,
            "merge_strategy": spec.merge_strategy,
            "estimator": spec.estimator_class,
            "committed_columns": spec.committed_columns,
            # the champion's training set, as commitments: base rows, then each accepted contribution's
            "training_lineage": result.baseline.lineage_pins(),
            "near_copy_tolerance": spec.near_copy_tolerance,
            **({"dspy": measured["dspy"]} if "dspy" in measured else {}),  # the LM, its settings, its usage
        },
        pipeline={"pipeline": "hokusai-data-platform", "version": __version__,
                  "definition": DELTA_ONE_DEFINITION, "token_spec_sha256": spec.spec_sha256},
        significance=measured.get("bootstrap"),
        min_samples=spec.min_benchmark_samples,
        seed_robust=measured.get("seed_robust"),
    )


def candidate_link(spec: TokenSpec, pin: BaselinePin, candidate: CandidateModel, attestation: dict[str, Any],
                   key: str, rows_file: Path) -> ChainLink:
    """The chain link this evaluation's candidate would be, on the head it was measured against."""
    contribution = attestation["contribution"]
    return ChainLink(token_id=spec.token_id, position=pin.position + 1, state=PENDING,
                     commitment=candidate.weights_commitment, rows_root=contribution["clean_rows_root"],
                     rows_count=int(contribution["clean_rows"]), model_uri=candidate.model_uri, run_id=candidate.run_id,
                     parent_commitment=pin.weights_commitment, partition_key=contribution["partition_key"],
                     eval_id=attestation["eval_id"], idempotency_key=key, rows_path=str(rows_file))


@dataclass(frozen=True)
class SignedClaim:
    """The claim for an eligible evaluation: the signed wire message, its EIP-712 record, the prover input."""

    mint_request: dict[str, Any]
    eip712: dict[str, Any]
    prover_document: dict[str, Any]


def sign_claim(envelope: dict[str, Any], delta_one: dict[str, Any], *, private_key_hex: str, signer: str,
               dev_key: bool, chain_id: int, verifying_contract: str, deadline_seconds: int,
               max_cost_usd_micro: int = 0, dry_run: bool = False) -> SignedClaim:
    """Sign the mint request for ``envelope``'s attestation; raises ``ValueError`` if the message or the
    prover document would be refused (schema, contract or relayer rules)."""
    mint_request = build_mint_request(
        envelope["attestation"], chain_id=chain_id, verifying_contract=verifying_contract,
        attester_private_key=private_key_hex, deadline_seconds=deadline_seconds,
        max_cost_usd_micro=max_cost_usd_micro)
    return _claim_documents(envelope, delta_one, mint_request, signer=signer, dev_key=dev_key, chain_id=chain_id,
                            verifying_contract=verifying_contract, dry_run=dry_run)


def recorded_claim(envelope: dict[str, Any], delta_one: dict[str, Any], mint_request: dict[str, Any], *,
                   signer: str, dev_key: bool, chain_id: int, verifying_contract: str,
                   dry_run: bool = False) -> SignedClaim:
    """The claim documents of a message the outbox already holds for this attestation (a re-run
    returns it rather than a second signature). Raises ``ValueError`` if it was signed by another
    attester or for another chain or contract than the ones configured now."""
    from hokusai.claims.eip712 import recover_mint_request_signer

    signatures = mint_request.get("attester_signatures") or []
    recovered = [recover_mint_request_signer(mint_request, chain_id, verifying_contract, s) for s in signatures]
    if signer.lower() not in {address.lower() for address in recovered}:
        raise ValueError(
            f"claim {mint_request['idempotency_key']} is recorded with a signature that is not the configured "
            f"attester's ({signer}) for chain {chain_id} and contract {verifying_contract}: the attester key, "
            "HOKUSAI_CHAIN_ID or HOKUSAI_VERIFYING_CONTRACT changed since it was signed. Nothing was signed again "
            "(one key, one signed message); the recorded claim stands")
    return _claim_documents(envelope, delta_one, mint_request, signer=signer, dev_key=dev_key, chain_id=chain_id,
                            verifying_contract=verifying_contract, dry_run=dry_run)


def _claim_documents(envelope: dict[str, Any], delta_one: dict[str, Any], mint_request: dict[str, Any], *,
                     signer: str, dev_key: bool, chain_id: int, verifying_contract: str,
                     dry_run: bool) -> SignedClaim:
    from hokusai.claims.eip712 import mint_request_digest
    from hokusai.claims.prover_document import validate_zk_document, zk_document

    eip712 = {"chain_id": chain_id, "verifying_contract": verifying_contract,
              "digest": mint_request_digest(mint_request, chain_id, verifying_contract),
              "signer": signer, "dev_key": dev_key}
    prover = zk_document({**envelope, "eip712": eip712}, delta_one, mint_request,
                         environment="development" if dev_key else "production", dry_run=dry_run)
    problems = validate_zk_document(prover)
    if problems:
        raise ValueError("prover document does not match zk_output_schema: " + "; ".join(problems))
    return SignedClaim(mint_request, eip712, prover)


def output_dir_for(outputs_root: Path, partition_key: str) -> Path:
    """Where a partition's files go: ``{root}/{token}/{wallet}/{file}@{etag}``."""
    return Path(outputs_root).joinpath(*partition_key.split("/"))


CLAIM_FILES = ("mint_request.json", "zk_output.json")


def write_evaluation_outputs(directory: Path, documents: dict[str, Any]) -> dict[str, str]:
    """Write the documents; remove a claim file an earlier run of this partition left and
    this one does not write (an evaluation that is no longer eligible has no claim)."""
    for name in CLAIM_FILES:
        if name not in documents:
            (Path(directory) / name).unlink(missing_ok=True)
    return write_json_outputs(directory, documents)


def write_json_outputs(directory: Path, documents: dict[str, Any]) -> dict[str, str]:
    """Write each document as pretty JSON (atomically); returns name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, document in documents.items():
        path = directory / name
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, path)
        paths[name] = str(path)
    return paths
