"""A data contribution as the SDK's callers describe it, read one way for every SDK call.

``data_contribution`` is a dict. Its contributor is ``contributor_address`` (also
``contributor`` or ``wallet_address``), its size ``samples`` (or
``contributed_samples``), its commitment ``data_hash``, and ``quality_score``; every
other key is kept as metadata. A ``data_hash`` that is missing or not a SHA-256 (say
``"abc123"``) does not fail the call: the contribution is **not committed** — its
documents and tags say so, and carry no data hash, so nothing downstream can take it
for an attestable claim (the mint request's ``datasetHash`` is the SHA-256 of the data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hokusai.core.tags import data_hash_value, integer_value, is_sha256, numeric_value
from hokusai.rules.wallets import validate_wallet_address

WALLET_KEYS = ("contributor_address", "contributor", "wallet_address")
SAMPLES_KEYS = ("samples", "contributed_samples")
_OWN_KEYS = {*WALLET_KEYS, *SAMPLES_KEYS, "data_hash", "quality_score"}
NOT_COMMITTED = "not committed"


@dataclass(frozen=True)
class DataContribution:
    wallet: str | None
    data_hash: str | None  # SHA-256 as bare lowercase hex; None: the data is not committed
    given_data_hash: Any  # what the caller passed as data_hash, kept as evidence
    samples: int | None
    quality_score: float | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def committed(self) -> bool:
        return self.data_hash is not None

    def commitment(self) -> dict[str, Any]:
        """The statement documents and tags carry: committed or not, and why not in words."""
        if self.committed:
            return {"committed": True, "data_hash": self.data_hash}
        reason = ("no data_hash was given" if self.given_data_hash is None else
                  f"data_hash {self.given_data_hash!r} is not a SHA-256 of the data (64 hex characters)")
        return {"committed": False, "claimable": False, "given_data_hash": _text(self.given_data_hash),
                "reason": f"{reason}: the data is {NOT_COMMITTED}, so this is evidence, not an attestable claim"}


def read_contribution(data: Any, *, contributor_address: str | None = None, consumed: set[str] | frozenset[str] = frozenset(),
                      wallet_required: bool = True) -> DataContribution:
    """The contribution in ``data``; ``consumed``: keys the caller reads itself (not metadata)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"data_contribution must be a dict, got {type(data).__name__}")
    wallet = _wallet(data, contributor_address, wallet_required)
    given = data.get("data_hash")
    samples = next((data[key] for key in SAMPLES_KEYS if data.get(key) is not None), None)
    quality = data.get("quality_score")
    return DataContribution(
        wallet=wallet,
        data_hash=data_hash_value(given) if is_sha256(given) else None,
        given_data_hash=given,
        samples=None if samples is None else integer_value(samples, "samples"),
        quality_score=None if quality is None else numeric_value(quality, "quality_score"),
        metadata={key: value for key, value in data.items() if key not in _OWN_KEYS and key not in consumed},
    )


def _wallet(data: dict[str, Any], contributor_address: str | None, required: bool) -> str | None:
    given = {key: data[key] for key in WALLET_KEYS if data.get(key) is not None}
    wallets = {validate_wallet_address(value) for value in given.values()}
    if contributor_address is not None:
        wallets.add(validate_wallet_address(contributor_address))
    if len(wallets) > 1:
        raise ValueError(f"data_contribution names more than one contributor: {sorted(wallets)}")
    if not wallets and required:
        raise ValueError("data_contribution needs 'contributor_address' (or 'contributor'): the contributor's wallet")
    return next(iter(wallets), None)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:200]
