"""Independent verification of an evaluation's output files.

Given ``attestation.json`` (or its folder, with ``delta_one.json`` and, for an
eligible evaluation, ``mint_request.json`` beside it), recompute every hash and the
EIP-712 digest from the documents themselves, check that their figures agree with each
other and with the rules (``hokusai.claims.consistency``), and recover the signer and
compare it with one the verifier pins: nothing is trusted as written.
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


def verify_outputs(path: Path, expected_signer: str | None = None,
                   signer_source: str = "--signer", expected_benchmark_root: str | None = None) -> list[Check]:
    """Every check on the files at ``path``; all must pass for the evidence (and any claim) to stand.

    A signature proves something only against a signer the verifier trusts, never one the files
    name: without ``expected_signer`` a signed claim fails its signature check. An evaluation
    without a claim (not eligible) has no ``mint_request.json``: its hashes and figures are still
    verified, and a ``claim`` check says there is none. ``expected_benchmark_root``: the token's
    published benchmark commitment (``benchmark.rows_root``); the attestation must name it.
    """
    from hokusai.claims.consistency import attestation_problems, delta_one_problems, statistics_problems

    folder = path if path.is_dir() else path.parent
    envelope = _read(folder / "attestation.json")
    attestation = envelope.get("attestation")
    if not isinstance((attestation or {}).get("result"), dict):
        raise ValueError(f"{folder / 'attestation.json'} is not an attestation envelope (no attestation.result)")
    checks = []
    recomputed = attestation_hash(attestation)
    checks.append(Check("attestation_hash", recomputed == envelope.get("attestation_hash"),
                        f"recomputed {recomputed}, recorded {envelope.get('attestation_hash')}"))
    result = attestation["result"]
    if expected_benchmark_root is not None:
        attested = (attestation.get("data") or {}).get("benchmark_rows_root")
        checks.append(Check("benchmark_rows_root", attested == expected_benchmark_root,
                            f"attested {attested}, required {expected_benchmark_root}"))
    checks.append(_problems_check("attestation_figures", statistics_problems(
        result, (attestation.get("data") or {}).get("benchmark_sample_size")), "scores, DeltaOne and interval agree"))
    delta_path, recorded = folder / "delta_one.json", result.get("delta_one_sha256")
    if delta_path.exists():
        delta_one = _read(delta_path)
        delta_hash = canonical_hash(delta_one)
        checks.append(Check("delta_one_sha256", delta_hash == recorded, f"recomputed {delta_hash}, recorded {recorded}"))
        checks.append(_problems_check("delta_one_figures", delta_one_problems(delta_one) + attestation_problems(
            attestation, delta_one), "the verdict follows from the figures, and the attestation from delta_one.json"))
    elif recorded:
        checks.append(Check("delta_one_sha256", False, f"{delta_path.name} is missing: the attestation records its "
                                                       f"hash {recorded}, so its verdict cannot be checked"))
    has_claim = (folder / "mint_request.json").exists()
    checks.append(_claim_block_check(envelope.get("claim"), attestation, has_claim))
    if not has_claim:
        said = envelope.get("claim") or {}
        if said.get("claim", result.get("eligible")):
            checks.append(Check("claim", False, "the attestation is eligible for a claim but mint_request.json "
                                                "is missing"))
        else:
            reason = said.get("reason") or f"not eligible ({result.get('reason')})"
            checks.append(Check("claim", True, f"no claim: {reason}; nothing was signed (unsigned evidence: compare "
                                               "attestation_hash with the one the platform published)"))
        return checks
    if not result.get("eligible"):
        checks.append(Check("claim", False, f"a mint request exists for an evaluation that is not eligible "
                                            f"({result.get('reason')})"))
    return checks + _mint_request_checks(folder, envelope, recomputed, expected_signer, signer_source)


def _problems_check(name: str, problems: list[str], ok: str) -> Check:
    return Check(name, not problems, "; ".join(problems) or ok)


def _claim_block_check(said: Any, attestation: dict[str, Any], has_claim: bool) -> Check:
    """The envelope's ``claim`` block is the platform's account, outside the attestation hash: what can
    be checked is that it says what the files show (a claim exists, at the position after the baseline)."""
    if said is None:
        return Check("claim_block", True, "no claim block recorded")
    if not isinstance(said, dict):
        return Check("claim_block", False, f"the claim block is {type(said).__name__}, not an object")
    problems = []
    if "claim" in said and bool(said["claim"]) != has_claim:
        problems.append(f"it says claim={said['claim']} but mint_request.json is "
                        f"{'present' if has_claim else 'absent'}")
    baseline_position = (attestation.get("baseline_model") or {}).get("chain_position")
    if has_claim and isinstance(baseline_position, int) and said.get("chain_position") != baseline_position + 1:
        problems.append(f"it puts the claim at chain position {said.get('chain_position')}, but the baseline is "
                        f"at {baseline_position}")
    return _problems_check("claim_block", problems, "agrees with the files (its reason is the platform's words, "
                                                    "not covered by any hash)")


def _mint_request_checks(folder: Path, envelope: dict[str, Any], recomputed: str,
                         expected_signer: str | None, signer_source: str) -> list[Check]:
    from hokusai.claims.consistency import mint_request_field_problems
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
    checks.append(_problems_check("mint_request_fields", mint_request_field_problems(
        mint_request, envelope["attestation"]), "every attested field is the attestation's"))
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
    for index, signature in enumerate(mint_request.get("attester_signatures", [])):
        try:
            recovered = recover_mint_request_signer(mint_request, chain_id, contract, signature)
        except ValueError as error:
            checks.append(Check(f"signature[{index}]", False, str(error)))
            continue
        if not expected_signer:
            checks.append(Check(f"signature[{index}]", False, f"recovered {recovered}, but no signer is pinned: a "
                                "signature proves nothing against the address the files name; pass --signer "
                                "with the attester address you trust"))
            continue
        checks.append(Check(f"signature[{index}]", recovered.lower() == expected_signer.lower(),
                            f"recovered {recovered}, expected {expected_signer} ({signer_source})"))
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


def verify_path(path: Path, expected_signer: str | None = None, expected_root: str | None = None,
                signer_source: str = "--signer", expected_benchmark_root: str | None = None) -> list[Check]:
    """Verify whatever ``path`` is: a model folder, a row inclusion proof, or evaluation outputs."""
    if path.is_dir() and (path / "MLmodel").exists():
        return [verify_model_dir(path, expected_root)]
    if path.suffix == ".json" and path.is_file():
        document = _read(path)
        if document.get("scheme") == "sha256-rows-merkle-v1":
            return verify_proof(document, expected_root)
    return verify_outputs(path, expected_signer, signer_source, expected_benchmark_root)


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
