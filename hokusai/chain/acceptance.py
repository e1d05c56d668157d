"""Whether an evaluation gets a claim: only an eligible one that becomes the chain's head.

The on-chain verifier pays any gain above its own minimum and knows nothing of our
statistics, so the platform is the only gate. An evaluation that is not eligible
keeps its DeltaOne and attestation as evidence and gets no claim. An eligible one is
appended to its token's chain on the head it was measured against; if another
contribution took that head first, it gets no claim now and is re-based: evaluated
again on the new head, where its DeltaOne is what it adds to that one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hokusai.chain.head_check import HeadCheck
from hokusai.chain.ledger import MINTED, PENDING, Chain, ChainLink
from hokusai.settlement.decision import ClaimDecision


@dataclass(frozen=True)
class ChainDecision:
    claim: bool  # sign and publish a mint request
    reason: str  # in words, for the UI and the CLI
    link: ChainLink | None = None  # the link this evaluation holds in the chain
    rebase: bool = False  # re-evaluate on the current head
    chain_head: HeadCheck | None = None  # what the chain's head said, when an RPC is configured

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "reason": self.reason, "rebase": self.rebase,
                "chain_position": self.link.position if self.link else None,
                **({"chain_head": self.chain_head.as_dict()} if self.chain_head else {})}

    @property
    def summary(self) -> str:
        return "claim" if self.claim else f"no claim: {self.reason}"


def admit(chain: Chain, eligibility: ClaimDecision, candidate: ChainLink) -> ChainDecision:
    """Append ``candidate`` (its ``parent_commitment``: the head it was measured against) if eligible."""
    if not eligibility.claim:
        return ChainDecision(False, eligibility.reason)
    result = chain.append(candidate)
    if result.already:
        return ChainDecision(True, f"already in the chain at position {result.head.position}", result.head)
    if result.appended:
        return ChainDecision(True, f"{eligibility.reason}, and the new head of the chain at position "
                                   f"{result.head.position}", result.head)
    reason = (f"eligible against the head it was measured on (position {candidate.position - 1}), but the "
              f"head moved to position {result.head.position} meanwhile: re-based on the new head")
    chain.request_rebase(candidate.partition_key, candidate.token_id, reason)
    return ChainDecision(False, reason, rebase=True)


def refuse_on_chain_head(chain: Chain, check: HeadCheck, partition_key: str, token_id: str) -> ChainDecision:
    """No claim: the chain's head would make the contract revert. Nothing joins the ledger's chain;
    re-based when the ledger's head is one the chain allows (``HeadCheck.rebase``)."""
    if check.rebase:
        chain.request_rebase(partition_key, token_id, check.reason)
    return ChainDecision(False, check.reason, rebase=check.rebase, chain_head=check)


def spent_claim(idempotency_key: str, status: str) -> ChainDecision:
    """No claim: this evaluation's claim settled before without a paying mint (``no_delta``,
    ``replay``), so its key is used up on chain; a re-run signs nothing and appends nothing."""
    return ChainDecision(False, f"its claim {idempotency_key} already settled as {status}: the key is spent on "
                                "chain, nothing is signed again")


def settle_locally(chain: Chain, idempotency_key: str) -> ChainLink | None:
    """With no relayer configured (the embedded default), a claim settles at once as minted."""
    link = chain.link_by_key(idempotency_key)
    if link is not None and link.state == PENDING:
        return chain.settle(idempotency_key, MINTED, note="settled locally: no relayer configured")
    return link
