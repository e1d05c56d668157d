"""A real local chain for the tests: Foundry's ``anvil`` with the real DeltaVerifier deployed.

``anvil`` comes from the npm package ``@foundry-rs/anvil-linux-amd64`` (the binary is inside the
package), installed by ``scripts/setup`` under ``.tools/``. The contracts are compiled once from the
upstream source into ``hokusai_assets_tests/fixtures/deltaverifier/`` (its README says how), so no
compiler runs here.
Transactions are sent from anvil's first unlocked account, which deploys and so governs everything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hokusai.harness.servers import free_ports

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "hokusai_assets_tests" / "fixtures" / "deltaverifier"
ANVIL_IN_TOOLS = REPO / ".tools" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
START_TIMEOUT_SECONDS = 20.0
# DeltaVerifier's constructor only checks these are not zero; the head view never calls them.
TOKEN_MANAGER_PLACEHOLDER = "0x" + "00" * 19 + "0a"
CONTRIBUTION_REGISTRY_PLACEHOLDER = "0x" + "00" * 19 + "0b"


def anvil_binary() -> str:
    """``$HOKUSAI_ANVIL``, else the one ``scripts/setup`` installs under ``.tools``, else ``anvil`` on PATH."""
    for candidate in (os.environ.get("HOKUSAI_ANVIL"), str(ANVIL_IN_TOOLS), shutil.which("anvil")):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("Foundry's `anvil` is not installed: run scripts/setup (npm @foundry-rs/anvil-linux-amd64)")


def contract(name: str) -> dict[str, Any]:
    """ABI and creation bytecode of a compiled fixture contract."""
    return json.loads((FIXTURE / f"{name}.json").read_text())


@dataclass
class Anvil:
    port: int
    chain_id: int
    process: subprocess.Popen
    account: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rpc(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def transact(self, data: str, to: str | None = None) -> dict[str, Any]:
        """Send from the first account (anvil mines it at once); the receipt, checked for success."""
        tx = {"from": self.account, "data": data, "gas": hex(20_000_000), **({"to": to} if to else {})}
        tx_hash, deadline = self.rpc("eth_sendTransaction", [tx]), time.monotonic() + 10
        while (receipt := self.rpc("eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"transaction {tx_hash} was not mined")
            time.sleep(0.01)
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"transaction reverted: {receipt}")
        return receipt

    def deploy(self, name: str, constructor_types: list[str] = (), args: list[Any] = ()) -> str:
        from eth_abi import encode

        data = contract(name)["bytecode"] + encode(list(constructor_types), list(args)).hex()
        return self.transact(data)["contractAddress"]

    def call(self, to: str, signature: str, types: list[str], args: list[Any]) -> str:
        return self.rpc("eth_call", [{"to": to, "data": _call_data(signature, types, args)}, "latest"])

    def send(self, to: str, signature: str, types: list[str], args: list[Any]) -> dict[str, Any]:
        return self.transact(_call_data(signature, types, args), to=to)


def _call_data(signature: str, types: list[str], args: list[Any]) -> str:
    from eth_abi import encode
    from eth_utils import keccak

    return "0x" + keccak(text=signature)[:4].hex() + encode(types, args).hex()


@contextmanager
def anvil(chain_id: int = 31337) -> Iterator[Anvil]:
    """``anvil`` on 127.0.0.1, mining each transaction at once; stopped by process group."""
    [port] = free_ports(1)
    process = subprocess.Popen(
        [anvil_binary(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id), "--silent",
         "--accounts", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    node = Anvil(port=port, chain_id=chain_id, process=process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                node.account = node.rpc("eth_accounts", [])[0]
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"anvil did not start on port {port}") from None
                time.sleep(0.05)
        yield node
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Verifier:
    """The deployed ModelRegistry and DeltaVerifier, and governance's two calls on the lineage head."""

    node: Anvil
    registry: str
    address: str

    def register_model(self, model_id: int, metric: str = "accuracy") -> None:
        """``ModelRegistry.registerModel`` with a placeholder token address (one per model id)."""
        token = "0x" + format(0x70000 + model_id, "040x")
        self.node.send(self.registry, "registerModel(uint256,address,string)", ["uint256", "address", "string"],
                       [model_id, token, metric])

    def set_genesis(self, model_id: int, commitment: str) -> None:
        self.node.send(self.registry, "setWeightGenesis(uint256,bytes32)", ["uint256", "bytes32"],
                       [model_id, bytes.fromhex(commitment[2:])])

    def reset_head(self, model_id: int, commitment: str) -> None:
        self.node.send(self.address, "resetModelHead(uint256,bytes32)", ["uint256", "bytes32"],
                       [model_id, bytes.fromhex(commitment[2:])])

    def head(self, model_id: int) -> str:
        return self.node.call(self.address, "currentModelHead(uint256)", ["uint256"], [model_id])


def deploy_verifier(node: Anvil) -> Verifier:
    """ModelRegistry, then DeltaVerifier on it (reward rate 1, minimum 1 bp, no reward cap)."""
    registry = node.deploy("ModelRegistry")
    verifier = node.deploy(
        "DeltaVerifier", ["address", "address", "address", "uint256", "uint256", "uint256"],
        [registry, TOKEN_MANAGER_PLACEHOLDER, CONTRIBUTION_REGISTRY_PLACEHOLDER, 1, 1, 0])
    return Verifier(node, registry, verifier)
