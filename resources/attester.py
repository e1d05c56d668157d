"""The attester: the key that signs mint requests and the chain it signs for.

The key comes from ``HOKUSAI_ATTESTER_PRIVATE_KEY``, given to the resource as
``EnvVar`` so the UI shows the variable's name only; without it a development key
is generated once under the state folder and every output says it is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from hokusai.attester_keys import ENV_VAR, AttesterKey, load_attester_key


class AttesterResource(ConfigurableResource):
    """Signs mint requests for one chain and verifying contract."""

    state_dir: str
    private_key: Optional[str] = Field(
        default=None, description=f"EnvVar('{ENV_VAR}') (0x + 64 hex); unset: the dev key under state_dir/keys.")
    chain_id: int = 31337
    verifying_contract: str
    deadline_seconds: int
    max_cost_usd_micro: int = 0

    def get_key(self) -> AttesterKey:
        """The key, checked: a malformed one is an error naming the variable, never showing the value."""
        env = {ENV_VAR: self.private_key} if self.private_key else {}
        return load_attester_key(Path(self.state_dir), env)
