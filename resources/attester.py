"""The attester: the key that signs mint requests and the chain it signs for.

The key comes from ``HOKUSAI_ATTESTER_PRIVATE_KEY``, given to the resource as
``EnvVar`` so the UI shows the variable's name only; without it a development key
is generated once under the state folder and every output says it is one.

With ``HOKUSAI_CHAIN_RPC_URL`` (an ``EnvVar`` too: it may hold an API key) the
attester reads the model's head on that chain before it signs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from dagster import ConfigurableResource
from pydantic import Field

from hokusai.claims.attester_keys import ENV_VAR, AttesterKey, load_attester_key
from hokusai.settings import CHAIN_RPC_URL_VAR


class AttesterResource(ConfigurableResource):
    """Signs mint requests for one chain and verifying contract."""

    state_dir: str
    private_key: Optional[str] = Field(
        default=None, description=f"EnvVar('{ENV_VAR}') (0x + 64 hex); unset: the dev key under state_dir/keys.")
    chain_id: int = 31337
    verifying_contract: str
    deadline_seconds: int
    max_cost_usd_micro: int = 0
    chain_rpc_url: Optional[str] = Field(
        default=None, description=f"EnvVar('{CHAIN_RPC_URL_VAR}'); unset: the chain's head is not read.")
    chain_rpc_timeout_seconds: float = 10.0
    chain_rpc_retries: int = 3  # step retries while the RPC is unreachable
    chain_rpc_retry_seconds: int = 10

    def get_chain_rpc(self) -> Any | None:
        """Where to read the chain's head, or ``None`` when no RPC is configured (the embedded default)."""
        if not self.chain_rpc_url:
            return None
        from hokusai.chain.onchain_head import ChainRpc

        return ChainRpc(url=self.chain_rpc_url, chain_id=self.chain_id, verifying_contract=self.verifying_contract,
                        timeout_seconds=self.chain_rpc_timeout_seconds)

    def get_key(self) -> AttesterKey:
        """The key, checked: a malformed one is an error naming the variable, never showing the value."""
        env = {ENV_VAR: self.private_key} if self.private_key else {}
        return load_attester_key(Path(self.state_dir), env)
