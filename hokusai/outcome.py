"""What one evaluation ended in, as the CLI and SDK report it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

EXIT_CODES = {"evaluated": 0, "rejected": 2, "error": 1}


@dataclass
class EvaluationOutcome:
    status: str  # evaluated | rejected | error
    partition_key: str
    run_id: str | None = None
    reason: str | None = None
    delta_one_bps: int | None = None
    eligible: bool | None = None
    attestation_hash: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    model_version: int | None = None
    champion_moved: bool | None = None
    summary: str | None = None
    signer: str | None = None  # None: nothing was signed (no claim)
    dev_key: bool | None = None
    claim: bool | None = None  # a signed mint request exists (eligible, and the new head of the chain)
    claim_reason: str | None = None  # why there is (or is not) a claim
    claim_status: str | None = None  # the claim's state in the outbox (recorded, published, minted, ...)
    claim_note: str | None = None  # e.g. "settled locally: no relayer configured"
    weight_genesis: str | None = None  # the first baseline's seed call governance must make on chain
    check: str | None = None
    step: str | None = None
    rebased: bool = False  # the chain's head moved during the evaluation: to be run again on the new head

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
