"""Whether the chain's head allows a claim on this baseline: checked before signing.

The contract accepts a mint request only when its ``baselineCommitment`` is the
model's on-chain head. Claims are stacked, though: an eligible contribution measured
on a head whose own claim is still on its way (pending) is signed at once, and the
relayer submits them in order. So a claim is allowed when the chain's head is its
baseline, or a link of the baseline's lineage followed only by pending links (their
claims go first and move the chain's head up to the baseline). Anything else would
revert, and nothing is signed:

- the chain's head is a model the ledger holds past the baseline, followed in the
  ledger only by pending links (the chain moved past this evaluation's baseline):
  re-based, like a lost race, since the ledger's head is then a head the chain allows;
- a model the ledger does not know (another writer, a governance head reset, a genesis
  seeded with another commitment), or one the ledger has minted links after: not
  re-based, since the ledger's own head is not the chain's either, and a re-evaluation
  would be refused again; the operator reconciles them first;
- no head at all: the genesis is not seeded (``LineageNotSeeded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hokusai.chain.ledger import ACTIVE_STATES, PENDING, Chain, ChainLink
from hokusai.chain.onchain_head import ZERO_HEAD, ChainRpc, read_model_head

MATCH, STACKED = "chain_head_match", "chain_head_pending"
MISMATCH, NOT_SEEDED = "chain_head_mismatch", "chain_not_seeded"


@dataclass(frozen=True)
class HeadCheck:
    allowed: bool
    code: str  # one of the constants above
    reason: str  # in words, naming the commitments
    onchain_head: str
    baseline_commitment: str
    rebase: bool = False  # re-evaluate on the ledger's head

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "code": self.code, "reason": self.reason,
                "onchain_head": self.onchain_head, "baseline_commitment": self.baseline_commitment}


def judge_head(onchain_head: str, baseline_commitment: str, model_id_uint: int,
               active_links: list[ChainLink]) -> HeadCheck:
    """The rule above, over the token's active chain (genesis first) from the ledger."""
    head, baseline = onchain_head.lower(), baseline_commitment.lower()

    def check(allowed: bool, code: str, reason: str, rebase: bool = False) -> HeadCheck:
        return HeadCheck(allowed, code, reason, head, baseline, rebase)

    if head == baseline:
        return check(True, MATCH, f"the chain's head for model {model_id_uint} is the claim's baseline {baseline}")
    if head == ZERO_HEAD:
        genesis = active_links[0].commitment if active_links else "<the token's genesis weights commitment>"
        return check(False, NOT_SEEDED, f"{NOT_SEEDED}: the chain's head for model {model_id_uint} is {head} (its "
                     f"genesis is not seeded), not the claim's baseline {baseline}; governance calls "
                     f"ModelRegistry.setWeightGenesis({model_id_uint}, {genesis}) once, then the evaluation is "
                     "run again")
    position = {link.commitment.lower(): index for index, link in enumerate(active_links)}
    at_head, at_baseline = position.get(head), position.get(baseline)
    if at_head is not None and at_baseline is not None and at_head < at_baseline:
        between = active_links[at_head + 1:at_baseline + 1]
        if all(link.state == PENDING for link in between):
            return check(True, STACKED, f"the chain's head for model {model_id_uint} is {head} (position {at_head}); "
                         f"the pending claims of positions {at_head + 1}..{at_baseline} take it to the claim's "
                         f"baseline {baseline} first")
    if at_head is not None and all(link.state == PENDING for link in active_links[at_head + 1:]) and (
            at_baseline is None or at_head > at_baseline):
        # the chain moved past the baseline to a model of the ledger: measure again on the ledger's head
        return check(False, MISMATCH, f"{MISMATCH}: the chain's head for model {model_id_uint} is {head} (position "
                     f"{at_head} of the ledger's chain), not the claim's baseline {baseline}: re-based on the "
                     "ledger's head", rebase=True)
    known = f" (position {at_head} of the ledger's chain, which records later links as minted)" if at_head is not None \
        else ", a model the ledger does not hold"
    return check(False, MISMATCH, f"{MISMATCH}: the chain's head for model {model_id_uint} is {head}{known}, not "
                 f"the claim's baseline {baseline}: nothing is signed until the ledger is reconciled with the chain "
                 "(see docs/claims.md)")


def check_chain_head(rpc: ChainRpc, chain: Chain, *, token_id: str, model_id_uint: int, baseline_commitment: str,
                     idempotency_key: str) -> HeadCheck | None:
    """Read the model's head and judge it; ``None`` when this claim is already in the ledger's chain
    (a re-run re-signs the same claim, which was checked when it was admitted and may since be minted).

    Raises ``ChainReadError`` when the head cannot be read: nothing may be signed then (fail closed).
    """
    earlier = chain.link_by_key(idempotency_key)
    if earlier is not None and earlier.state in ACTIVE_STATES:
        return None
    head = read_model_head(rpc, model_id_uint)
    return judge_head(head, baseline_commitment, model_id_uint, chain.active_links(token_id))
