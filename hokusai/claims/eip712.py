"""EIP-712 typed data, digest, signatures and validation for DeltaVerifier mint requests.

The on-chain DeltaVerifier recomputes the EIP-712 digest of a ``MintRequest`` and
recovers each attester signature against it, so what we sign must be exactly what
it hashes. The wire message (``mint_request.v1``) is mapped onto the contract's
struct here and nowhere else; ``interop/mint_request_kav.json`` pins the mapping.

The EIP-712 encoding is done here, by hand, for our five fixed struct types: it is
short, and eth-account (the obvious library) costs ~1.4 s to import because
eth-keyfile pulls in py_ecc's BLS tables. Signing and recovery use eth-keys
(~0.35 s, shared with eth-utils) and keccak comes from pycryptodome; both, and
jsonschema, are imported on first use so importing this module stays cheap.
The tests cross-check the encoder against eth-account as a reference.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from importlib import resources

from hokusai.rules.wallets import ZERO_ADDRESS, to_checksum_address, validate_wallet_address

DOMAIN_NAME, DOMAIN_VERSION = "HokusaiDeltaVerifier", "1"
MAX_CONTRIBUTORS, TOTAL_WEIGHT_BPS = 100, 10_000
ZERO_BYTES32 = "0x" + "0" * 64
# secp256k1 group order; the contract rejects s > n/2 (EIP-2 malleability rule).
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_BYTES32_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_PRIVATE_KEY_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

_TYPE_SPECS = {  # the contract's structs, written as in Solidity
    "EIP712Domain": "string name,string version,uint256 chainId,address verifyingContract",
    "MintRequest": "uint256 modelId,MintRequestPayload payload,Contributor[] contributors",
    "MintRequestPayload": "string pipelineRunId,uint256 baselineScoreBps,"
    "uint256 candidateScoreBps,uint256 maxCostUsdMicro,uint256 actualCostUsdMicro,"
    "uint256 totalSamples,BenchmarkAnchors anchors,bytes32 baselineCommitment,"
    "bytes32 candidateCommitment,uint256 deadline",
    "BenchmarkAnchors": "bytes32 benchmarkSpecHash,bytes32 datasetHash,"
    "bytes32 attestationHash,bytes32 idempotencyKey,string metricName,string metricFamily",
    "Contributor": "address walletAddress,uint256 weight",
}


def _types() -> dict[str, list[dict[str, str]]]:
    return {name: [dict(zip(("type", "name"), f.split())) for f in spec.split(",")]
            for name, spec in _TYPE_SPECS.items()}


def _keccak(data: bytes) -> bytes:
    """keccak256. pycryptodome directly: eth_hash.auto ends up there anyway, slower."""
    from Crypto.Hash import keccak
    return keccak.new(digest_bits=256, data=data).digest()


def keccak256_utf8(text: str) -> str:
    """``0x`` + keccak256 of UTF-8 ``text``: how ``benchmarkSpecHash`` is derived."""
    return "0x" + _keccak(text.encode("utf-8")).hex()


def idempotency_key(model_id_uint: int | str, attestation_hash_0x: str) -> str:
    """``0x`` + SHA-256 of ASCII ``"{model_id_uint}:{bare lowercase attestation hex}"``.

    Deterministic, so re-running the pipeline on one attestation cannot mint twice.
    """
    bare = attestation_hash_0x.lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{64}", bare):
        raise ValueError("attestation hash must be 64 hex characters (optionally 0x-prefixed)")
    if int(model_id_uint) <= 0:
        raise ValueError("model_id_uint must be a positive integer")
    return "0x" + hashlib.sha256(f"{int(model_id_uint)}:{bare}".encode("ascii")).hexdigest()


def _b32(wire: dict, key: str) -> str:
    if not isinstance(wire[key], str) or not _BYTES32_RE.fullmatch(wire[key]):
        raise ValueError(f"{key} must be 0x + 64 hex characters, got {wire[key]!r}")
    return wire[key].lower()


def mint_request_typed_data(wire: dict, chain_id: int, verifying_contract: str) -> dict:
    """Full EIP-712 typed data (types/primaryType/domain/message) for a wire message.
    Contributors keep wire order (it is signed); addresses are emitted checksummed.
    This dict is the one source of the field mapping: the digest is computed from it."""
    ev = wire["evaluation"]
    anchors = {"benchmarkSpecHash": keccak256_utf8(wire["benchmark_spec_id"]),
               "datasetHash": _b32(wire, "dataset_hash"),
               "attestationHash": _b32(wire, "attestation_hash"),
               "idempotencyKey": _b32(wire, "idempotency_key"),
               "metricName": ev["metric_name"], "metricFamily": ev["metric_family"]}
    payload = {"pipelineRunId": wire["eval_id"],
               "baselineScoreBps": int(ev["baseline_score_bps"]),
               "candidateScoreBps": int(ev["new_score_bps"]),
               "maxCostUsdMicro": int(ev["max_cost_usd_micro"]),
               "actualCostUsdMicro": int(ev["actual_cost_usd_micro"]),
               "totalSamples": int(wire["totalSamples"]), "anchors": anchors,
               "baselineCommitment": _b32(wire, "baseline_commitment"),
               "candidateCommitment": _b32(wire, "candidate_commitment"),
               "deadline": int(wire["deadline"])}
    contributors = [{"walletAddress": to_checksum_address(c["wallet_address"]),
                     "weight": int(c["weight_bps"])} for c in wire["contributors"]]
    return {"types": _types(), "primaryType": "MintRequest",
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id),
                       "verifyingContract": to_checksum_address(verifying_contract)},
            "message": {"modelId": int(wire["model_id_uint"]), "payload": payload,
                        "contributors": contributors}}


# --- EIP-712 encoding (only the field types our structs use) ------------------

def _encode_type(primary: str, types: dict) -> str:
    """``Primary(...)`` then every struct it references, transitively, sorted by name."""
    deps, todo = set(), [primary]
    while todo:
        for field in types[todo.pop()]:
            ref = field["type"].removesuffix("[]")
            if ref in types and ref != primary and ref not in deps:
                deps.add(ref)
                todo.append(ref)
    return "".join(f"{name}({','.join(f['type'] + ' ' + f['name'] for f in types[name])})"
                   for name in [primary, *sorted(deps)])


def _hex_bytes(value: str, size: int, kind: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else b""
    if len(raw) != size:
        raise ValueError(f"{kind} must be 0x + {2 * size} hex characters, got {value!r}")
    return raw


def _encode_value(kind: str, value, types: dict) -> bytes:
    """One 32-byte ``encodeData`` word for a field of type ``kind``."""
    if kind.endswith("[]") and kind[:-2] in types:
        return _keccak(b"".join(_hash_struct(kind[:-2], v, types) for v in value))
    if kind in types:
        return _hash_struct(kind, value, types)
    if kind == "uint256":
        if type(value) is not int or not 0 <= value < 2**256:
            raise ValueError(f"uint256 value out of range: {value!r}")
        return value.to_bytes(32, "big")
    if kind == "string":
        return _keccak(value.encode("utf-8"))
    if kind == "bytes32":
        return _hex_bytes(value, 32, "bytes32")
    if kind == "address":
        return _hex_bytes(value, 20, "address").rjust(32, b"\0")
    raise ValueError(f"EIP-712 type {kind!r} is not supported by this encoder")


def _hash_struct(name: str, value: dict, types: dict) -> bytes:
    """keccak256(typeHash ‖ encodeData(value))."""
    return _keccak(_keccak(_encode_type(name, types).encode("utf-8")) + b"".join(
        _encode_value(f["type"], value[f["name"]], types) for f in types[name]))


def _digest(wire: dict, chain_id: int, verifying_contract: str) -> bytes:
    """Encoded from the typed-data dict, so that dict stays the one field mapping."""
    typed = mint_request_typed_data(wire, chain_id, verifying_contract)
    types = typed["types"]
    return _keccak(b"\x19\x01" + _hash_struct("EIP712Domain", typed["domain"], types)
                   + _hash_struct(typed["primaryType"], typed["message"], types))


def mint_request_digest(wire: dict, chain_id: int, verifying_contract: str) -> str:
    """``0x`` + keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(MintRequest))."""
    return "0x" + _digest(wire, chain_id, verifying_contract).hex()


# --- signatures -----------------------------------------------------------------

def _checked_signature(signature: str) -> bytes:
    """Refuse what the contract refuses before recovering: length, v, high s."""
    if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature):
        raise ValueError("signature must be 0x + 130 hex characters (65 bytes r||s||v)")
    raw = bytes.fromhex(signature[2:])
    if raw[64] not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {raw[64]}")
    if not 0 < int.from_bytes(raw[32:64], "big") <= _SECP256K1_N // 2:
        raise ValueError("signature s is not in the lower half of the curve order (high-s)")
    return raw


def _private_key_bytes(private_key_hex: str) -> bytes:
    """Checked here because eth-keys' range errors would print the key as an integer."""
    if (not isinstance(private_key_hex, str) or not _PRIVATE_KEY_RE.match(private_key_hex)
            or not 0 < int(private_key_hex, 16) < _SECP256K1_N):
        raise ValueError("private key must be 0x + 64 hex characters within the secp256k1 "
                         "range (the value is not shown)")
    return bytes.fromhex(private_key_hex.removeprefix("0x"))


def sign_mint_request(wire: dict, chain_id: int, verifying_contract: str,
                      private_key_hex: str) -> str:
    """Attester signature, ``0x`` + r‖s‖v (65 bytes), low-s, v in {27, 28}."""
    from eth_keys import keys
    key = keys.PrivateKey(_private_key_bytes(private_key_hex))
    raw = key.sign_msg_hash(_digest(wire, chain_id, verifying_contract)).to_bytes()
    signature = "0x" + (raw[:64] + bytes([raw[64] + 27])).hex()
    _checked_signature(signature)  # eth-keys signs low-s; fail here, not on chain, if not
    return signature


def recover_mint_request_signer(wire: dict, chain_id: int, verifying_contract: str,
                                signature: str) -> str:
    """EIP-55 address whose key produced ``signature`` over this request's digest."""
    from eth_keys import keys
    raw = _checked_signature(signature)
    vrs = (raw[64] - 27, int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))
    public_key = keys.Signature(vrs=vrs).recover_public_key_from_msg_hash(
        _digest(wire, chain_id, verifying_contract))
    return public_key.to_checksum_address()


def order_signatures(wire: dict, chain_id: int, verifying_contract: str,
                     signatures: list[str]) -> list[str]:
    """Sort by ascending recovered signer, as the contract requires. It wants them strictly
    ascending, so two signatures by one attester raise here rather than revert on chain."""
    keyed = sorted((int(recover_mint_request_signer(wire, chain_id, verifying_contract, s), 16), s)
                   for s in signatures)
    if any(a[0] == b[0] for a, b in zip(keyed, keyed[1:])):
        raise ValueError("two signatures recover to the same attester")
    return [s for _, s in keyed]


@functools.lru_cache(maxsize=1)
def _schema_validator():
    from jsonschema import Draft202012Validator
    text = resources.files("hokusai.schemas").joinpath("mint_request.v1.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def validate_mint_request(wire: dict) -> list[str]:
    """Problems with ``wire`` (empty = valid): JSON schema, then contract rules it can't
    express (it already caps scores at 10000). Deadline and baseline head need chain state.
    """
    problems = [f"{e.json_path}: {e.message}" for e in
                sorted(_schema_validator().iter_errors(wire), key=lambda e: e.json_path)]
    if not isinstance(wire, dict):
        return problems
    for key in ("idempotency_key", "candidate_commitment"):
        if wire.get(key) == ZERO_BYTES32:
            problems.append(f"$.{key}: must be non-zero (the contract rejects a zero {key})")
    if str(wire.get("model_id_uint", "")).isdigit() and int(wire["model_id_uint"]) >= 2**256:
        problems.append("$.model_id_uint: does not fit in a uint256")
    contributors, where = wire.get("contributors"), "$.contributors"
    if not isinstance(contributors, list):
        return problems
    if len(contributors) > MAX_CONTRIBUTORS:
        problems.append(f"{where}: {len(contributors)} contributors, at most {MAX_CONTRIBUTORS}")
    seen: set[str] = set()
    for i, c in enumerate(contributors):
        try:
            address = validate_wallet_address(c["wallet_address"])
        except (KeyError, TypeError):
            continue  # missing field / not an object: the schema has reported it
        except ValueError as exc:
            problems.append(f"{where}[{i}].wallet_address: {exc}")
            continue
        if address == ZERO_ADDRESS or address in seen:
            why = "zero address not allowed" if address == ZERO_ADDRESS else "duplicate contributor"
            problems.append(f"{where}[{i}].wallet_address: {why} {address}")
        seen.add(address)
    weights = [c.get("weight_bps") for c in contributors if isinstance(c, dict)]
    if all(type(w) is int for w in weights) and sum(weights) != TOTAL_WEIGHT_BPS:
        problems.append(f"{where}: weight_bps sum to {sum(weights)}, must be {TOTAL_WEIGHT_BPS}")
    return problems
