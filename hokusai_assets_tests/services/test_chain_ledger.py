"""The lineage chain's ledger on SQLite and on a real PostgreSQL 15: genesis once, compare-and-set
appends, idempotent re-appends, roll-backs that orphan what was built on them, re-base requests."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest

from hokusai.chain.ledger import GENESIS, MINTED, ORPHANED, PENDING, ROLLED_BACK, Chain, ChainLink
from hokusai.settlement.database import dispose_engines

TOKEN = "chain-test"


def commitment(tag: str) -> str:
    import hashlib

    return "0x" + hashlib.sha256(tag.encode()).hexdigest()


def genesis(tag: str = "genesis") -> ChainLink:
    return ChainLink(token_id=TOKEN, position=0, state=GENESIS, commitment=commitment(tag),
                     rows_root=commitment(f"rows-{tag}"), rows_count=150, model_uri=f"models:/{tag}")


def link(tag: str, parent: str) -> ChainLink:
    return ChainLink(token_id=TOKEN, position=-1, state=PENDING, commitment=commitment(tag),
                     rows_root=commitment(f"rows-{tag}"), rows_count=10, model_uri=f"models:/{tag}",
                     parent_commitment=commitment(parent), partition_key=f"{TOKEN}/w/{tag}.csv@1",
                     eval_id=f"eval-{tag}", idempotency_key=commitment(f"key-{tag}"))


@pytest.fixture
def chain(ledger_url):
    """A chain on an empty ledger of either kind (``ledger_url``, services/conftest.py)."""
    yield Chain(ledger_url)
    dispose_engines()


def test_genesis_is_recorded_once_and_the_second_one_is_told_so(chain):
    first, won = chain.start(genesis("a"))
    second, won_again = chain.start(genesis("b"))
    assert won and not won_again
    assert first == second and first.commitment == commitment("a") and first.state == GENESIS
    assert chain.head(TOKEN).commitment == commitment("a")


def test_append_is_a_compare_and_set_on_the_head(chain):
    chain.start(genesis())
    first = chain.append(link("a", "genesis"))
    assert first.appended and first.head.position == 1 and first.head.state == PENDING
    stale = chain.append(link("b", "genesis"))  # measured against genesis, but the head is now "a"
    assert not stale.appended and stale.head.commitment == commitment("a")
    assert chain.append(link("b", "a")).head.position == 2
    assert [x.commitment for x in chain.active_links(TOKEN)] == [commitment(t) for t in ("genesis", "a", "b")]
    assert [x.rows_root for x in chain.lineage_of(TOKEN, commitment("a"))] == [
        commitment("rows-genesis"), commitment("rows-a")]


def test_the_same_claim_appended_again_is_already_there(chain):
    chain.start(genesis())
    chain.append(link("a", "genesis"))
    chain.append(link("b", "a"))
    again = chain.append(link("a", "genesis"))
    assert again.appended and again.already and again.head.position == 1
    assert chain.head(TOKEN).commitment == commitment("b")


def test_a_rolled_back_link_takes_what_was_built_on_it_out_and_asks_for_rebases(chain):
    chain.start(genesis())
    chain.append(link("a", "genesis"))
    chain.append(link("b", "a"))
    chain.append(link("c", "b"))
    orphans = chain.roll_back(commitment("key-b"), "no_delta")
    assert [o.commitment for o in orphans] == [commitment("c")]
    assert chain.head(TOKEN).commitment == commitment("a")
    assert chain.link_by_key(commitment("key-b")).state == ROLLED_BACK
    assert chain.link_by_key(commitment("key-c")).state == ORPHANED
    assert "rolled back" in chain.rebase_requested(link("c", "b").partition_key)
    assert chain.rebase_requested(link("b", "a").partition_key) is None
    assert chain.roll_back(commitment("key-b"), "again") == []  # idempotent
    # the orphan, re-based on "a", appends again at position 2 and its re-base request is closed
    rebased = chain.append(ChainLink(**{**link("c2", "a").__dict__, "partition_key": link("c", "b").partition_key}))
    assert rebased.appended and rebased.head.position == 2
    assert chain.rebase_requested(link("c", "b").partition_key) is None


def test_a_claim_rolled_back_and_re_evaluated_on_the_same_head_rejoins_under_its_key(chain):
    """Its signature expired unsettled: re-evaluated on the same head it is the same claim (same key)."""
    chain.start(genesis())
    chain.append(link("a", "genesis"))
    chain.roll_back(commitment("key-a"), "its deadline passed before it settled")
    again = chain.append(link("a", "genesis"))
    assert again.appended and not again.already and again.head.position == 1 and again.head.state == PENDING
    assert chain.link_by_key(commitment("key-a")) == again.head
    assert [l.commitment for l in chain.active_links(TOKEN)] == [commitment("genesis"), commitment("a")]


def test_settling_marks_a_pending_link_minted(chain):
    chain.start(genesis())
    chain.append(link("a", "genesis"))
    assert chain.settle(commitment("key-a"), MINTED).state == MINTED
    assert chain.head(TOKEN).state == MINTED
    chain.set_model_version(commitment("key-a"), TOKEN, 7)
    assert chain.head(TOKEN).model_version == 7


def _append_many(url: str, worker: int, rounds: int, results) -> None:
    chain = Chain(url)
    won = 0
    for round_ in range(rounds):
        tag = f"w{worker}-{round_}-{uuid.uuid4().hex[:6]}"
        while True:  # re-base until appended: read the head, append on it
            head = chain.head(TOKEN)
            candidate = ChainLink(**{**link(tag, "x").__dict__, "parent_commitment": head.commitment})
            if chain.append(candidate).appended:
                won += 1
                break
    results.put(won)


def test_concurrent_appenders_in_separate_processes_end_as_one_linear_chain(chain, ledger_url):
    chain.start(genesis())
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_append_many, args=(ledger_url, w, 8, results)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert sum(results.get(timeout=5) for _ in workers) == 24
    links = chain.active_links(TOKEN)
    assert [x.position for x in links] == list(range(25))
    for parent, child in zip(links, links[1:]):  # each link's parent is the link before it: no fork, none lost
        assert child.parent_commitment == parent.commitment
