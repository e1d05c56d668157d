"""The chain's view of a model's lineage head, read over JSON-RPC from the DeltaVerifier.

``DeltaVerifier.currentModelHead(uint256 modelId) returns (bytes32)`` is the head a
mint request's ``baselineCommitment`` must equal: the model's stored head, or the
registry's genesis (``ModelRegistry.weightGenesis``) until the first paying mint;
zero when governance has not seeded the genesis yet. Reading it before signing lets
the platform refuse a claim the contract would revert with ``LineageParentMismatch``.

The RPC URL may carry an API key (in its path or query): it is never put in a
message, an exception or a log line; errors name the setting instead.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

HEAD_FUNCTION = "currentModelHead(uint256)"  # DeltaVerifier's view; returns bytes32
RPC_SETTING = "the chain RPC (HOKUSAI_CHAIN_RPC_URL)"
DEFAULT_TIMEOUT_SECONDS = 10.0
ZERO_HEAD = "0x" + "0" * 64


class ChainReadError(RuntimeError):
    """The head could not be read. ``retryable``: the RPC was unreachable or answered badly
    (try again later); otherwise the configuration is wrong (another chain, no contract)."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ChainRpc:
    """Where to read: an RPC endpoint, the chain it must be, the verifier on it."""

    url: str
    chain_id: int
    verifying_contract: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __repr__(self) -> str:  # the URL may hold an API key: never in a repr
        return f"ChainRpc(url=<{RPC_SETTING}>, chain_id={self.chain_id}, verifying_contract={self.verifying_contract})"


@lru_cache(maxsize=None)
def selector(signature: str = HEAD_FUNCTION) -> str:
    """The 4-byte function selector: keccak-256 of the canonical signature."""
    from eth_utils import keccak

    return "0x" + keccak(text=signature)[:4].hex()


def head_call_data(model_id_uint: int) -> str:
    """ABI-encoded call of ``currentModelHead(modelId)``: the selector, then the uint256 in 32 bytes."""
    if not 0 < model_id_uint < 2 ** 256:
        raise ValueError(f"model id must be a positive uint256, got {model_id_uint}")
    return selector() + format(model_id_uint, "064x")


def read_model_head(rpc: ChainRpc, model_id_uint: int) -> str:
    """The model's head as ``0x`` + 64 lowercase hex (``ZERO_HEAD`` when not seeded).

    Checks first that the endpoint is the configured chain and that the verifier
    address holds code, so a wrong setting is named rather than read as a head.
    """
    chain_id = _hex_int(_rpc(rpc, "eth_chainId", []), "eth_chainId")
    if chain_id != rpc.chain_id:
        raise ChainReadError(f"{RPC_SETTING} serves chain id {chain_id}, but claims are signed for chain id "
                             f"{rpc.chain_id} (HOKUSAI_CHAIN_ID)", retryable=False)
    code = _rpc(rpc, "eth_getCode", [rpc.verifying_contract, "latest"])
    if not isinstance(code, str) or code in ("0x", "0x0", ""):
        raise ChainReadError(f"no contract at the verifying contract {rpc.verifying_contract} on chain {chain_id} "
                             "(HOKUSAI_VERIFYING_CONTRACT)", retryable=False)
    result = _rpc(rpc, "eth_call", [{"to": rpc.verifying_contract, "data": head_call_data(model_id_uint)}, "latest"])
    if not isinstance(result, str) or len(result) != 66 or not result.startswith("0x"):
        raise ChainReadError(f"{HEAD_FUNCTION} at {rpc.verifying_contract} returned {str(result)[:80]!r}, not one "
                             "bytes32: is it a DeltaVerifier?", retryable=False)
    try:
        int(result, 16)
    except ValueError:
        raise ChainReadError(f"{HEAD_FUNCTION} returned non-hex {result[:80]!r}", retryable=False) from None
    return result.lower()


def _rpc(rpc: ChainRpc, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call; every failure becomes a ``ChainReadError`` that does not show the URL."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(rpc.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=rpc.timeout_seconds) as response:  # noqa: S310 (http(s) only)
            raw = response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        # 4xx other than 429 is a refused request (a wrong key, a wrong path): not cured by waiting
        retryable = exc.code == 429 or exc.code >= 500
        raise ChainReadError(f"{RPC_SETTING} answered HTTP {exc.code} to {method}", retryable=retryable) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChainReadError(f"{RPC_SETTING} is unreachable ({method}: {_describe(reason)})", retryable=True) from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ChainReadError(f"{RPC_SETTING} answered {method} with something that is not JSON",
                             retryable=True) from None
    if not isinstance(answer, dict):
        raise ChainReadError(f"{RPC_SETTING} answered {method} with no JSON-RPC object", retryable=True)
    if answer.get("error"):
        error = answer["error"] if isinstance(answer["error"], dict) else {"message": str(answer["error"])}
        message = str(error.get("message", ""))[:200]
        # a revert of a view (no such function) is the contract's answer; anything else the node's trouble
        reverted = method == "eth_call" and ("revert" in message.lower() or error.get("code") == 3)
        raise ChainReadError(f"{method} failed: {message} (code {error.get('code')})"
                             + (f": {rpc.verifying_contract} has no {HEAD_FUNCTION}?" if reverted else ""),
                             retryable=not reverted)
    if "result" not in answer:
        raise ChainReadError(f"{RPC_SETTING} answered {method} with no result", retryable=True)
    return answer["result"]


def _describe(reason: Any) -> str:
    """The socket-level reason in words, never a URL (``URLError`` may wrap one)."""
    if isinstance(reason, OSError):
        return f"{type(reason).__name__}" + (f" [Errno {reason.errno}] {reason.strerror}" if reason.errno else "")
    return type(reason).__name__ if not isinstance(reason, str) else "unreachable"


def _hex_int(value: Any, method: str) -> int:
    try:
        return int(value, 16)
    except (TypeError, ValueError):
        raise ChainReadError(f"{RPC_SETTING} answered {method} with {str(value)[:40]!r}", retryable=True) from None
