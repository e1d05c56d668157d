"""The chain's view of a model's head: the JSON-RPC client against the real DeltaVerifier on a
real local chain (anvil), and the rule that decides whether a claim on a baseline may be signed."""

from __future__ import annotations

import socket
import threading
import traceback

import pytest

from hokusai.chain.head_check import MATCH, MISMATCH, NOT_SEEDED, STACKED, judge_head
from hokusai.chain.ledger import GENESIS, MINTED, PENDING, ChainLink
from hokusai.chain.onchain_head import (
    HEAD_FUNCTION,
    ZERO_HEAD,
    ChainReadError,
    ChainRpc,
    head_call_data,
    read_model_head,
    selector,
)
from hokusai.harness.anvil import anvil, contract, deploy_verifier

MODEL_ID = 1001
API_KEY = "k3y-0f-the-rpc-provider"  # fixed: it must never appear in a message
G, A, B, C, X = ("0x" + digit * 64 for digit in "abcde")


@pytest.fixture(scope="module")
def chain():
    with anvil() as node:
        yield deploy_verifier(node)


def rpc_for(verifier, **overrides) -> ChainRpc:
    values = {"url": f"{verifier.node.url}/?apikey={API_KEY}", "chain_id": verifier.node.chain_id,
              "verifying_contract": verifier.address, **overrides}
    return ChainRpc(**values)


def read_error(rpc: ChainRpc, model_id: int = MODEL_ID) -> ChainReadError:
    with pytest.raises(ChainReadError) as caught:
        read_model_head(rpc, model_id)
    shown = "".join(traceback.format_exception(caught.value))  # what a log of the failure would print
    assert API_KEY not in shown and "apikey" not in shown
    return caught.value


def test_the_selector_is_the_compiled_contracts_and_the_call_is_abi_encoded():
    abi = contract("DeltaVerifier")["abi"]
    [view] = [item for item in abi if item.get("name") == "currentModelHead"]
    assert [arg["type"] for arg in view["inputs"]] == ["uint256"] and view["outputs"][0]["type"] == "bytes32"
    assert view["stateMutability"] == "view"
    assert selector() == selector(HEAD_FUNCTION) == "0x8662f8b7"
    assert head_call_data(1001) == "0x8662f8b7" + "0" * 61 + "3e9"
    with pytest.raises(ValueError):
        head_call_data(0)


def test_the_head_is_zero_then_the_genesis_then_what_the_chain_moved_it_to(chain):
    rpc = rpc_for(chain)
    model = MODEL_ID + 1  # this test's own model: the module's chain is shared
    assert read_model_head(rpc, model) == ZERO_HEAD  # not seeded
    chain.register_model(model)
    chain.set_genesis(model, G)
    assert read_model_head(rpc, model) == G  # the registry's genesis until the first paying mint
    chain.reset_head(model, A)  # the head moved (a paying mint does the same)
    assert read_model_head(rpc, model) == A == chain.head(model)


def test_a_wrong_chain_id_is_named_and_not_retryable(chain):
    error = read_error(rpc_for(chain, chain_id=1))
    assert not error.retryable
    assert "chain id 31337" in str(error) and "chain id 1 " in str(error) and "HOKUSAI_CHAIN_ID" in str(error)


def test_an_address_without_code_is_named_and_not_retryable(chain):
    nobody = "0x" + "00" * 19 + "0a"
    error = read_error(rpc_for(chain, verifying_contract=nobody))
    assert not error.retryable and f"no contract at the verifying contract {nobody}" in str(error)


def test_a_contract_without_the_view_is_named_and_not_retryable(chain):
    error = read_error(rpc_for(chain, verifying_contract=chain.registry))  # the ModelRegistry: no such function
    assert not error.retryable and "reverted" in str(error) and HEAD_FUNCTION in str(error)


def test_an_unreachable_rpc_is_retryable_and_never_shows_the_url():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rpc = ChainRpc(url=f"http://127.0.0.1:{port}/v3/{API_KEY}", chain_id=31337, verifying_contract=G[:42])
    error = read_error(rpc)
    assert error.retryable and "unreachable" in str(error) and "HOKUSAI_CHAIN_RPC_URL" in str(error)
    assert str(port) not in str(error) and API_KEY not in repr(rpc)


def test_an_rpc_that_does_not_answer_in_time_is_retryable():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        rpc = ChainRpc(url=f"http://127.0.0.1:{listener.getsockname()[1]}/?apikey={API_KEY}", chain_id=31337,
                       verifying_contract=G[:42], timeout_seconds=0.3)
        error = read_error(rpc)
        assert error.retryable and "unreachable" in str(error) and "Timeout" in str(error)
    finally:
        for connection, _ in accepted:
            connection.close()
        listener.close()


def test_an_http_refusal_is_named_without_the_url(chain):
    error = read_error(rpc_for(chain, url=f"{chain.node.url}/v2/{API_KEY}"))  # anvil answers 404 off its root
    assert not error.retryable and "HTTP 404" in str(error)


# --- the rule -------------------------------------------------------------------------------------

def link(position: int, commitment: str, state: str) -> ChainLink:
    return ChainLink(token_id="t", position=position, state=state, commitment=commitment, rows_root=G, rows_count=1,
                     model_uri="models:/m")


@pytest.mark.parametrize("head, baseline, links, code, allowed, rebase", [
    # the chain's head is the baseline: sign
    (G, G, [link(0, G, GENESIS)], MATCH, True, False),
    (A, A, [link(0, G, GENESIS), link(1, A, MINTED)], MATCH, True, False),
    # claims stacked on pending links: the chain is at G, A's claim (pending) goes first
    (G, A, [link(0, G, GENESIS), link(1, A, PENDING)], STACKED, True, False),
    (G, B, [link(0, G, GENESIS), link(1, A, PENDING), link(2, B, PENDING)], STACKED, True, False),
    # the ledger says A was minted, the chain is still at G: it would revert; a re-base would too
    (G, A, [link(0, G, GENESIS), link(1, A, MINTED)], MISMATCH, False, False),
    (G, B, [link(0, G, GENESIS), link(1, A, MINTED), link(2, B, PENDING)], MISMATCH, False, False),
    # the chain is past the baseline, at a model of the ledger followed only by pending links: re-base
    (B, A, [link(0, G, GENESIS), link(1, A, MINTED), link(2, B, MINTED)], MISMATCH, False, True),
    (A, G, [link(0, G, GENESIS), link(1, A, MINTED), link(2, B, PENDING)], MISMATCH, False, True),
    # ... but not when the ledger minted links after the chain's head
    (A, G, [link(0, G, GENESIS), link(1, A, MINTED), link(2, B, MINTED), link(3, C, PENDING)], MISMATCH, False, False),
    # a model the ledger does not hold (a governance reset, another writer): no re-base
    (X, A, [link(0, G, GENESIS), link(1, A, MINTED)], MISMATCH, False, False),
    # nothing on chain: the genesis is not seeded
    (ZERO_HEAD, G, [link(0, G, GENESIS)], NOT_SEEDED, False, False),
])
def test_when_the_chains_head_allows_a_claim_on_the_baseline(head, baseline, links, code, allowed, rebase):
    check = judge_head(head, baseline, MODEL_ID, links)
    assert (check.code, check.allowed, check.rebase) == (code, allowed, rebase), check.reason
    assert check.onchain_head == head and check.baseline_commitment == baseline
    if not allowed:  # the reason names both commitments, so an operator can compare them with the chain
        assert check.reason.startswith(code) and head in check.reason and baseline in check.reason
        assert str(MODEL_ID) in check.reason
    if code == NOT_SEEDED:  # says what governance must call, with the ledger's genesis
        assert f"ModelRegistry.setWeightGenesis({MODEL_ID}, {links[0].commitment})" in check.reason


def test_the_rule_ignores_the_case_of_hex_digits():
    check = judge_head(A.upper().replace("0X", "0x"), A, MODEL_ID, [link(0, A, GENESIS)])
    assert check.allowed and check.code == MATCH


# --- configuration: the URL is a secret -----------------------------------------------------------

def test_the_rpc_url_enters_the_attester_as_an_env_var_and_settings_never_show_it(tmp_path):
    from dagster._config.field_utils import EnvVar as EnvVarType

    from hokusai.settings import CHAIN_RPC_URL_VAR, load_settings
    from resources import build_resources

    url = f"https://rpc.example.invalid/v2/{API_KEY}"
    settings = load_settings({"HOKUSAI_HOME": str(tmp_path), CHAIN_RPC_URL_VAR: url,
                              "HOKUSAI_CHAIN_RPC_TIMEOUT_SECONDS": "2.5"})
    assert settings.chain_rpc_url == url and CHAIN_RPC_URL_VAR in settings.secret_variables
    assert API_KEY not in repr(settings)
    attester = build_resources(settings)["attester"]
    assert isinstance(attester.chain_rpc_url, EnvVarType) and attester.chain_rpc_url.env_var_name == CHAIN_RPC_URL_VAR
    assert attester.chain_rpc_timeout_seconds == 2.5


def test_unset_the_chain_is_not_read_and_a_url_not_from_the_environment_is_refused(tmp_path):
    import dataclasses

    from hokusai.settings import load_settings
    from resources import build_resources
    from resources.attester import AttesterResource

    settings = load_settings({"HOKUSAI_HOME": str(tmp_path)})
    assert settings.chain_rpc_url is None and build_resources(settings)["attester"].chain_rpc_url is None
    assert AttesterResource(state_dir=str(tmp_path), verifying_contract=G[:42], deadline_seconds=60).get_chain_rpc() \
        is None  # the embedded default: no check, claims signed as before
    with pytest.raises(ValueError, match="HOKUSAI_CHAIN_RPC_URL is a secret") as refused:
        build_resources(dataclasses.replace(settings, chain_rpc_url=f"https://rpc.example.invalid/{API_KEY}"))
    assert API_KEY not in str(refused.value)
