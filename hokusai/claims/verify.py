"""Independent verification of an evaluation's output files.

Given ``attestation.json`` (or its folder, with ``delta_one.json`` and, for an
eligible evaluation, ``mint_request.json`` beside it), recompute every hash and the
EIP-712 digest from the documents themselves and recover the signer: nothing is
trusted as written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai.rules.attestation import attestation_hash
from hokusai.rules.canonical import canonical_hash


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def verify_outputs(path: Path, expected_signer: str | None = None) -> list[Check]:
    """Every check on the files at ``path``; all must pass for the evidence (and any claim) to stand.

    An evaluation without a claim (not eligible) has no ``mint_request.json``: its attestation
    and DeltaOne hashes are still verified, and a ``claim`` check says there is none.
    """
    folder = path if path.is_dir() else path.parent
    envelope = _read(folder / "attestation.json")
    if not isinstance((envelope.get("attestation") or {}).get("result"), dict):
        raise ValueError(f"{folder / 'attestation.json'} is not an attestation envelope (no attestation.result)")
    checks = []
    recomputed = attestation_hash(envelope["attestation"])
    checks.append(Check("attestation_hash", recomputed == envelope.get("attestation_hash"),
                        f"recomputed {recomputed}, recorded {envelope.get('attestation_hash')}"))
    delta_path = folder / "delta_one.json"
    if delta_path.exists():
        delta_hash = canonical_hash(_read(delta_path))
        recorded = envelope["attestation"]["result"].get("delta_one_sha256")
        checks.append(Check("delta_one_sha256", delta_hash == recorded, f"recomputed {delta_hash}"))
    result = envelope["attestation"]["result"]
    if not (folder / "mint_request.json").exists():
        said = envelope.get("claim") or {}
        if said.get("claim", result.get("eligible")):
            checks.append(Check("claim", False, "the attestation is eligible for a claim but mint_request.json "
                                                "is missing"))
        else:
            reason = said.get("reason") or f"not eligible ({result.get('reason')})"
            checks.append(Check("claim", True, f"no claim: {reason}; nothing was signed"))
        return checks
    if not result.get("eligible"):
        checks.append(Check("claim", False, f"a mint request exists for an evaluation that is not eligible "
                                            f"({result.get('reason')})"))
    return checks + _mint_request_checks(folder, envelope, recomputed, expected_signer)


def _mint_request_checks(folder: Path, envelope: dict[str, Any], recomputed: str,
                         expected_signer: str | None) -> list[Check]:
    from hokusai.claims.eip712 import (
        idempotency_key,
        mint_request_digest,
        recover_mint_request_signer,
        validate_mint_request,
    )
    from hokusai.settlement.relayer_rules import relayer_problems

    mint_request = _read(folder / "mint_request.json")
    checks = [Check("mint_request.attestation_hash", mint_request.get("attestation_hash") == recomputed,
                    f"mint request carries {mint_request.get('attestation_hash')}")]
    key = idempotency_key(mint_request.get("model_id_uint", "0"), recomputed)
    checks.append(Check("idempotency_key", mint_request.get("idempotency_key") == key, f"expected {key}"))
    problems = validate_mint_request(mint_request)
    checks.append(Check("mint_request_schema", not problems, "; ".join(problems) or "valid mint_request.v1"))
    problems = relayer_problems(mint_request)
    checks.append(Check("relayer_rules", not problems, "; ".join(problems) or "the relayer would take it"))
    eip712 = envelope.get("eip712", {})
    chain_id, contract = eip712.get("chain_id"), eip712.get("verifying_contract")
    if chain_id is None or contract is None:
        return checks + [Check("eip712_digest", False, "attestation.json records no EIP-712 signing (chain, "
                                                       "contract): nothing here was signed for this attestation")]
    digest = mint_request_digest(mint_request, chain_id, contract)
    checks.append(Check("eip712_digest", digest == eip712.get("digest"), f"recomputed {digest}"))
    signer = (expected_signer or eip712.get("signer") or "").lower()
    for index, signature in enumerate(mint_request.get("attester_signatures", [])):
        try:
            recovered = recover_mint_request_signer(mint_request, chain_id, contract, signature)
        except ValueError as error:
            checks.append(Check(f"signature[{index}]", False, str(error)))
            continue
        checks.append(Check(f"signature[{index}]", recovered.lower() == signer,
                            f"recovered {recovered}, expected {signer or 'a signer'}"))
    if not mint_request.get("attester_signatures"):
        checks.append(Check("signature", False, "the mint request carries no signature"))
    return checks


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} holds JSON {type(document).__name__}, not an object")
    return document


def verify_path(path: Path, expected_signer: str | None = None, expected_root: str | None = None) -> list[Check]:
    """Verify whatever ``path`` is: a model folder, a row inclusion proof, or evaluation outputs."""
    if path.is_dir() and (path / "MLmodel").exists():
        return [verify_model_dir(path, expected_root)]
    if path.suffix == ".json" and path.is_file():
        document = _read(path)
        if document.get("scheme") == "sha256-rows-merkle-v1":
            return verify_proof(document, expected_root)
    return verify_outputs(path, expected_signer)


def verify_model_dir(path: Path, expected: str | None) -> Check:
    """Recompute a downloaded model's ``sha256-merkle-v1`` weights commitment."""
    from hokusai.rules.weights import weights_commitment

    commitment = weights_commitment(path)
    if expected is None:
        return Check("weights_commitment", True, commitment)
    return Check("weights_commitment", commitment == expected.lower(), f"recomputed {commitment}, expected {expected}")


def verify_proof(proof: dict[str, Any], expected_root: str | None) -> list[Check]:
    """A row inclusion proof: the row hashes up to the root, and the root is the committed one."""
    from hokusai.commitments.rows import verify_row

    checks = [Check("row_inclusion", verify_row(proof), f"row {proof.get('index')} under root {proof.get('root')}")]
    if expected_root is not None:
        checks.append(Check("root", proof.get("root") == expected_root.lower(), f"expected {expected_root}"))
    return checks
