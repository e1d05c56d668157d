"""EIP-712 mint requests, wallet addresses and attester keys.

The known-answer vectors are the contract's own digests; matching them is what
makes our signatures acceptable on chain. Fixtures are repo copies of
``interop/`` files so the tests run on a clean clone.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from hokusai.claims import eip712
from hokusai.claims.attester_keys import DEV_KEY_RELPATH, ENV_VAR, load_attester_key
from hokusai.rules.wallets import to_checksum_address, validate_wallet_address
from hokusai.settings import SOURCE_PATH

FIXTURES = Path(__file__).parents[1] / "fixtures" / "interop"
KAV = json.loads((FIXTURES / "mint_request_kav.json").read_text())["vectors"]
EXAMPLE = json.loads((FIXTURES / "mint_request.v1.example.json").read_text())
CHAIN, CONTRACT = 31337, "0x1111111111111111111111111111111111111111"
KEYS = ["0x" + f"{i:064x}" for i in (1, 2, 3)]
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def wire() -> dict:
    return copy.deepcopy(EXAMPLE)


# --- digest ------------------------------------------------------------------

def test_kav_file_has_vectors():
    assert {v["name"] for v in KAV} >= {"single_contributor", "multi_contributor"}


@pytest.mark.parametrize("vector", KAV, ids=lambda v: v["name"])
def test_digest_matches_known_answer(vector):
    digest = eip712.mint_request_digest(
        vector["wire_message"], vector["chain_id"], vector["verifying_contract"]
    )
    assert digest == vector["expected_digest"]


@pytest.mark.parametrize("vector", KAV, ids=lambda v: v["name"])
def test_kav_wire_messages_are_valid(vector):
    assert eip712.validate_mint_request(vector["wire_message"]) == []


def test_typed_data_maps_wire_fields():
    typed = eip712.mint_request_typed_data(EXAMPLE, CHAIN, CONTRACT)
    assert typed["primaryType"] == "MintRequest"
    assert typed["domain"] == {"name": "HokusaiDeltaVerifier", "version": "1",
                               "chainId": CHAIN, "verifyingContract": CONTRACT}
    msg = typed["message"]
    assert msg["modelId"] == 12345678901234567890
    assert msg["payload"]["pipelineRunId"] == EXAMPLE["eval_id"]
    assert msg["payload"]["candidateScoreBps"] == 8100
    anchors = msg["payload"]["anchors"]
    assert anchors["benchmarkSpecHash"] == eip712.keccak256_utf8("spec-test-v1")
    assert anchors["idempotencyKey"] == EXAMPLE["idempotency_key"]
    assert [c["weight"] for c in msg["contributors"]] == [7000, 3000]
    assert msg["contributors"][0]["walletAddress"] == to_checksum_address(
        EXAMPLE["contributors"][0]["wallet_address"])


def test_keccak256_utf8_known_value():
    assert eip712.keccak256_utf8("") == (
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def test_address_case_does_not_change_digest_but_order_and_chain_do():
    base = eip712.mint_request_digest(EXAMPLE, CHAIN, CONTRACT)
    checksummed = wire()
    for c in checksummed["contributors"]:
        c["wallet_address"] = to_checksum_address(c["wallet_address"])
    assert eip712.mint_request_digest(checksummed, CHAIN, CONTRACT) == base
    reordered = wire()
    reordered["contributors"].reverse()
    assert eip712.mint_request_digest(reordered, CHAIN, CONTRACT) != base
    assert eip712.mint_request_digest(EXAMPLE, 1, CONTRACT) != base


# --- validation --------------------------------------------------------------

def test_example_validates():
    assert eip712.validate_mint_request(EXAMPLE) == []


ZERO32, ZERO_ADDRESS = "0x" + "0" * 64, "0x" + "0" * 40
FIRST_WALLET = EXAMPLE["contributors"][0]["wallet_address"]


def _set(*path_and_value):
    """A mutation that sets wire[path...] = value."""
    *path, value = path_and_value

    def mutate(w):
        for key in path[:-1]:
            w = w[key]
        w[path[-1]] = value
    return mutate


def _delete(key):
    return lambda w: w.pop(key)


def _many_contributors(n):
    return _set("contributors", [{"wallet_address": "0x%040x" % (i + 1),
                                  "weight_bps": 10_000 - (n - 1) if i == 0 else 1}
                                 for i in range(n)])


BROKEN = {  # name: (mutation, the reason that must be named)
    "bad_hash_pattern": (_set("dataset_hash", "0xABC"), "$.dataset_hash: '0xABC' does not match"),
    "weights_not_10000": (_set("contributors", 1, "weight_bps", 2999),
                          "weight_bps sum to 9999, must be 10000"),
    # same address in another (all-caps, checksum-free) spelling
    "duplicate_contributor": (_set("contributors", 1, "wallet_address",
                                   "0x" + FIRST_WALLET[2:].upper()),
                              "$.contributors[1].wallet_address: duplicate contributor"),
    "missing_field": (_delete("eval_id"), "'eval_id' is a required property"),
    "score_over_10000": (_set("evaluation", "new_score_bps", 10001),
                         "$.evaluation.new_score_bps: 10001 is greater than the maximum of 10000"),
    "zero_idempotency_key": (_set("idempotency_key", ZERO32),
                             "$.idempotency_key: must be non-zero"),
    "zero_candidate_commitment": (_set("candidate_commitment", ZERO32),
                                  "$.candidate_commitment: must be non-zero"),
    "zero_address": (_set("contributors", 1, "wallet_address", ZERO_ADDRESS),
                     "$.contributors[1].wallet_address: zero address not allowed"),
    "bad_checksum": (_set("contributors", 0, "wallet_address", "0x742D" + FIRST_WALLET[6:]),
                     "fails its EIP-55 checksum"),
    "too_many_contributors": (_many_contributors(101), "101 contributors, at most 100"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_variants_are_rejected_with_reason(name):
    mutate, reason = BROKEN[name]
    w = wire()
    mutate(w)
    problems = eip712.validate_mint_request(w)
    assert any(reason in p for p in problems), problems


def test_exactly_100_contributors_is_allowed():
    w = wire()
    _many_contributors(100)(w)
    assert eip712.validate_mint_request(w) == []


# --- signatures --------------------------------------------------------------

@pytest.mark.parametrize("vector", KAV, ids=lambda v: v["name"])
def test_sign_recover_round_trip(vector):
    w, chain, contract = vector["wire_message"], vector["chain_id"], vector["verifying_contract"]
    sig = eip712.sign_mint_request(w, chain, contract, KEYS[0])
    signer = Account.from_key(KEYS[0]).address
    assert eip712.recover_mint_request_signer(w, chain, contract, sig) == signer


def test_tampered_field_changes_digest_and_signer():
    sig = eip712.sign_mint_request(EXAMPLE, CHAIN, CONTRACT, KEYS[0])
    tampered = wire()
    tampered["evaluation"]["new_score_bps"] += 1
    assert (eip712.mint_request_digest(tampered, CHAIN, CONTRACT)
            != eip712.mint_request_digest(EXAMPLE, CHAIN, CONTRACT))
    assert (eip712.recover_mint_request_signer(tampered, CHAIN, CONTRACT, sig)
            != Account.from_key(KEYS[0]).address)


def test_a_hash_or_signature_with_a_trailing_newline_is_refused_not_signed_as_the_bare_one():
    """``bytes.fromhex`` skips whitespace: "0x…\\n" would give the bare hash's digest for another wire text."""
    spoiled = wire()
    spoiled["candidate_commitment"] += "\n"
    with pytest.raises(ValueError, match="candidate_commitment must be 0x"):
        eip712.mint_request_digest(spoiled, CHAIN, CONTRACT)
    sig = eip712.sign_mint_request(EXAMPLE, CHAIN, CONTRACT, KEYS[0])
    with pytest.raises(ValueError):
        eip712.recover_mint_request_signer(EXAMPLE, CHAIN, CONTRACT, sig + "\n")


def test_signature_is_65_bytes_low_s_and_high_s_is_refused():
    sig = eip712.sign_mint_request(EXAMPLE, CHAIN, CONTRACT, KEYS[1])
    raw = bytes.fromhex(sig.removeprefix("0x"))
    assert sig.startswith("0x") and len(sig) == 132
    s, v = int.from_bytes(raw[32:64], "big"), raw[64]
    assert 0 < s <= SECP256K1_N // 2
    assert v in (27, 28)
    malleated = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    with pytest.raises(ValueError, match="high-s"):
        eip712.recover_mint_request_signer(EXAMPLE, CHAIN, CONTRACT, "0x" + malleated.hex())


def test_order_signatures_sorts_by_ascending_signer_address():
    sigs = [eip712.sign_mint_request(EXAMPLE, CHAIN, CONTRACT, k) for k in KEYS]
    by_address = sorted(KEYS, key=lambda k: int(Account.from_key(k).address, 16))
    expected = [sigs[KEYS.index(k)] for k in by_address]
    assert by_address != KEYS  # input order is not already the answer
    for perm in itertools.permutations(sigs):
        assert eip712.order_signatures(EXAMPLE, CHAIN, CONTRACT, list(perm)) == expected
    signers = [eip712.recover_mint_request_signer(EXAMPLE, CHAIN, CONTRACT, s) for s in expected]
    assert [int(a, 16) for a in signers] == sorted(int(a, 16) for a in signers)
    with pytest.raises(ValueError, match="same attester"):
        eip712.order_signatures(EXAMPLE, CHAIN, CONTRACT, [sigs[0], sigs[1], sigs[0]])


TOTAL_BPS = 10_000


def _random_request(seed: int) -> tuple[dict, int, str]:
    """A valid request with every signed field varied (big ints, unicode, 1-6 contributors)."""
    rng = random.Random(seed)

    def h():
        return "0x" + rng.randbytes(32).hex()

    def text():
        return "".join(rng.choice("azAZ09-_. é漢🦊") for _ in range(rng.randint(1, 40)))

    def address():
        a = "0x" + rng.randbytes(20).hex()
        return to_checksum_address(a) if rng.random() < 0.5 else a

    cuts = sorted(rng.sample(range(1, TOTAL_BPS), rng.randint(0, 5)))
    w = wire()
    w.update(model_id_uint=str(rng.randrange(1, 2**256)), eval_id=text(),
             benchmark_spec_id=text(), dataset_hash=h(), attestation_hash=h(),
             idempotency_key=h(), baseline_commitment=h(), candidate_commitment=h(),
             totalSamples=rng.randrange(1, 2**64), deadline=rng.randrange(1, 2**40),
             contributors=[{"wallet_address": address(), "weight_bps": b - a}
                           for a, b in zip([0, *cuts], [*cuts, TOTAL_BPS])])
    w["evaluation"].update(metric_name=text(), metric_family=text(),
                           baseline_score_bps=rng.randint(0, TOTAL_BPS),
                           new_score_bps=rng.randint(0, TOTAL_BPS),
                           max_cost_usd_micro=rng.randrange(2**64),
                           actual_cost_usd_micro=rng.randrange(2**64))
    assert eip712.validate_mint_request(w) == []
    return w, rng.randrange(1, 2**64), address()


CROSS_CHECK_CASES = {**{v["name"]: v for v in KAV},
                     **{f"random_{seed}": seed for seed in range(3)}}


@pytest.mark.parametrize("name", CROSS_CHECK_CASES)
def test_digest_and_signatures_agree_with_eth_account(name):
    """eth-account is an independent EIP-712 encoder and signer: ours must agree with it."""
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak

    case = CROSS_CHECK_CASES[name]
    if isinstance(case, dict):
        w, chain, contract = case["wire_message"], case["chain_id"], case["verifying_contract"]
    else:
        w, chain, contract = _random_request(case)
    signable = encode_typed_data(full_message=eip712.mint_request_typed_data(w, chain, contract))
    reference = "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()
    assert eip712.mint_request_digest(w, chain, contract) == reference
    if isinstance(case, dict):
        assert reference == case["expected_digest"]

    key = "0x" + random.Random(name).randbytes(32).hex()
    address = Account.from_key(key).address
    ours = eip712.sign_mint_request(w, chain, contract, key)
    theirs = "0x" + bytes(Account.sign_message(signable, key).signature).hex()
    assert ours == theirs  # both RFC 6979 deterministic
    assert Account.recover_message(signable, signature=bytes.fromhex(ours[2:])) == address
    assert eip712.recover_mint_request_signer(w, chain, contract, theirs) == address
    other = "0x" + bytes(Account.sign_message(signable, KEYS[0]).signature).hex()
    assert eip712.recover_mint_request_signer(w, chain, contract, other) == (
        Account.from_key(KEYS[0]).address)


def test_digest_sign_recover_do_not_import_eth_account():
    """eth_account costs ~1.4 s of CLI cold start; the signing path must not load it."""
    code = ("import json, sys; from hokusai.claims import eip712; "
            "w, c = json.load(open(sys.argv[1])), '0x' + '11' * 20; "
            "eip712.mint_request_digest(w, 31337, c); "
            "sig = eip712.sign_mint_request(w, 31337, c, sys.argv[2]); "
            "print(eip712.recover_mint_request_signer(w, 31337, c, sig)); "
            "heavy = {'eth_account', 'eth_keyfile', 'py_ecc'} & set(sys.modules); "
            "assert not heavy, heavy")
    env = {**os.environ, "PYTHONPATH": SOURCE_PATH}
    example = str(FIXTURES / "mint_request.v1.example.json")
    out = subprocess.run([sys.executable, "-c", code, example, KEYS[1]],
                         check=True, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == Account.from_key(KEYS[1]).address


def test_private_key_errors_do_not_echo_the_key():
    """eth-keys would put an out-of-range key, as an integer, in its error message."""
    for bad in (f"0x{SECP256K1_N:064x}", "0x" + "f" * 64, "0x" + "ab" * 31):
        with pytest.raises(ValueError, match="not shown") as info:
            eip712.sign_mint_request(EXAMPLE, CHAIN, CONTRACT, bad)
        assert bad[2:] not in str(info.value) and str(int(bad, 16)) not in str(info.value)


def test_idempotency_key_matches_known_answer():
    single = next(v for v in KAV if v["name"] == "single_contributor")["wire_message"]
    key = eip712.idempotency_key(single["model_id_uint"], single["attestation_hash"])
    assert key == single["idempotency_key"]
    assert eip712.idempotency_key(int(single["model_id_uint"]),
                                  "0x" + single["attestation_hash"][2:].upper()) == key
    assert eip712.idempotency_key(1, single["attestation_hash"]) != key


# --- wallets -----------------------------------------------------------------

def test_wallet_validation():
    lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vector
    assert validate_wallet_address(lower) == lower
    assert validate_wallet_address(good) == lower
    assert to_checksum_address(lower) == good
    with pytest.raises(ValueError, match="EIP-55 checksum"):
        validate_wallet_address("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    for bad in (lower[:-1], lower + "0", lower[2:], "0x" + "g" * 40):
        with pytest.raises(ValueError, match="40 hex characters"):
            validate_wallet_address(bad)


# --- attester keys -----------------------------------------------------------

def test_dev_key_created_once_and_reused(tmp_path):
    first = load_attester_key(tmp_path, {})
    path = tmp_path / DEV_KEY_RELPATH
    assert first.is_dev_key and first.source == "dev-key-file"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(path.read_text())
    assert record["private_key_hex"] == first.private_key_hex
    assert record["address"] == first.address == Account.from_key(first.private_key_hex).address
    assert "DEVELOPMENT" in record["warning"] and "not for production" in record["warning"].lower()
    content = path.read_bytes()
    second = load_attester_key(tmp_path, {ENV_VAR: ""})
    assert second == first and path.read_bytes() == content
    assert first.private_key_hex not in repr(first)
    sig = eip712.sign_mint_request(EXAMPLE, CHAIN, CONTRACT, first.private_key_hex)
    assert eip712.recover_mint_request_signer(EXAMPLE, CHAIN, CONTRACT, sig) == first.address


def test_env_key_preferred_over_dev_file(tmp_path):
    load_attester_key(tmp_path, {})  # a dev key file exists
    key = load_attester_key(tmp_path, {ENV_VAR: "0x" + KEYS[2][2:].upper()})
    assert key.source == "environment" and not key.is_dev_key
    assert key.private_key_hex == KEYS[2]
    assert key.address == Account.from_key(KEYS[2]).address


@pytest.mark.parametrize("bad", ["0x" + "ab" * 31, "ab" * 32, "0x" + "zz" * 32, "0x" + "0" * 64,
                                 "0x" + "c" * 63, "0x" + "c" * 65])
def test_malformed_env_key_rejected_without_echo(tmp_path, capsys, bad):
    with pytest.raises(ValueError) as info:
        load_attester_key(tmp_path, {ENV_VAR: bad})
    assert ENV_VAR in str(info.value)
    assert bad not in str(info.value) and bad[2:] not in str(info.value)
    out, err = capsys.readouterr()
    assert bad not in out + err
    assert not (tmp_path / DEV_KEY_RELPATH).exists()  # no silent fallback


def test_importing_hokusai_modules_is_light():
    code = ("import sys, hokusai.claims.eip712, hokusai.rules.wallets, hokusai.claims.attester_keys; "
            "heavy = {'dagster', 'eth_account', 'jsonschema'} & set(sys.modules); "
            "assert not heavy, heavy")
    env = {**os.environ, "PYTHONPATH": SOURCE_PATH}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
