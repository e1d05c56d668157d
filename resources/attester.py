"""The attester: the key that signs mint requests and the chain it signs for.

The key comes from ``HOKUSAI_ATTESTER_PRIVATE_KEY``; without it a development key
is generated once under the state folder and every output says it is one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource

from hokusai.attester_keys import AttesterKey, load_attester_key


class AttesterResource(ConfigurableResource):
    """Signs mint requests for one chain and verifying contract."""

    state_dir: str
    private_key: Optional[str] = None
    chain_id: int = 31337
    verifying_contract: str
    deadline_seconds: int
    max_cost_usd_micro: int = 0

    def get_key(self) -> AttesterKey:
        env = {"HOKUSAI_ATTESTER_PRIVATE_KEY": self.private_key} if self.private_key else {}
        return load_attester_key(Path(self.state_dir), env)
