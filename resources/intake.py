"""What an upload may be, and the key that hashes its personal data."""

from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from hokusai.intake.read import IntakePolicy
from hokusai.intake.limits import LoadLimits
from hokusai.pii.scrub import pii_key
from hokusai.pii.secret import ENV_VAR, MIN_SECRET_CHARS, load_pii_secret
from hokusai.settings import default_intake_workers
from hokusai.workers import configure as configure_workers


class IntakeResource(ConfigurableResource):
    """Upload limits, the benchmark-leakage limit and the PII hashing secret."""

    state_dir: str
    pii_secret: Optional[str] = Field(
        default=None,
        description=f"EnvVar('{ENV_VAR}') (at least {MIN_SECRET_CHARS} characters); unset: the dev secret "
                    "under state_dir/keys.")
    max_upload_bytes: int = LoadLimits.max_bytes
    max_rows: int = LoadLimits.max_rows
    max_columns: int = LoadLimits.max_columns
    max_benchmark_share: float = IntakePolicy.max_benchmark_share
    workers: int = Field(default_factory=default_intake_workers,
                         description="processes that hash an upload of 200,000 rows or more; 0 or 1: none")

    def setup_for_execution(self, context) -> None:
        configure_workers(self.workers)  # the run's process pool is sized by the settings, not the environment

    def policy(self) -> IntakePolicy:
        limits = LoadLimits(self.max_upload_bytes, self.max_rows, self.max_columns)
        return IntakePolicy(limits=limits, max_benchmark_share=self.max_benchmark_share)

    def pii_key_for(self, token_id: str) -> bytes:
        """The token's hashing key; a too-short secret is an error naming the variable, never the value."""
        env = {ENV_VAR: self.pii_secret} if self.pii_secret else {}
        return pii_key(load_pii_secret(Path(self.state_dir), env), token_id)
