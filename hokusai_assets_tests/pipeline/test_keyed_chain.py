"""A keyed token (merge strategy ``update``) end to end on the embedded default: a contribution's rows
replace the champion's rows that share their key, the chain replays those replacements link by link,
and ``reproduce`` rebuilds the same training set from the pins."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hokusai.chain.ledger import Chain
from hokusai_assets_tests.conftest import OTHER_WALLET, SAMPLES, WALLET
from hokusai_assets_tests.pipeline.test_cli import run_cli
from hokusai_assets_tests.pipeline.test_lineage_chain import IMPROVING, attestation_of, write

KEYED_TOKEN = "digits-keyed"
THIRD_WALLET = "0x000000000000000000000000000000000000beef"


@pytest.fixture(scope="module")
def keyed_tokens_env(tmp_path_factory) -> dict[str, str]:
    """A tokens folder with ``KEYED_TOKEN``: the chain token's rules, keyed by ``image_id``, base rows keyed too."""
    from hokusai.harness.topology import token_copies

    tokens = token_copies(tmp_path_factory.mktemp("keyed-tokens"), [KEYED_TOKEN], overrides={KEYED_TOKEN: {
        "min_improvement_bps": 20, "merge_strategy": "update", "key_column": "image_id",
        "base_data": f"{KEYED_TOKEN}/base.csv"}})
    base = pd.read_csv(tokens / "digits-demo" / "base.csv")
    (tokens / KEYED_TOKEN).mkdir()
    base.assign(image_id=[f"base-{i}" for i in range(len(base))]).to_csv(tokens / KEYED_TOKEN / "base.csv", index=False)
    return {"HOKUSAI_TOKENS_DIR": str(tokens)}


def keyed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.reset_index(drop=True).assign(image_id=keys)


def test_updates_replace_rows_along_the_chain_and_reproduce_rebuilds_them(make_runner, tmp_path, shared_cache,
                                                                          keyed_tokens_env):
    runner = make_runner(extra_env=keyed_tokens_env)
    first_rows = keyed(IMPROVING.iloc[:175], [f"a-{i}" for i in range(175)])
    # the second's first 8 rows name 8 of the first's keys: they replace those rows
    second_rows = keyed(IMPROVING.iloc[175:], [f"a-{i}" if i < 8 else f"b-{i}" for i in range(175)])
    first = runner.evaluate(write(first_rows, tmp_path / "first.csv"), KEYED_TOKEN, WALLET)
    second = runner.evaluate(write(second_rows.sample(frac=1.0, random_state=5), tmp_path / "second.csv"),
                             KEYED_TOKEN, OTHER_WALLET)
    assert first.claim and second.claim, (first.claim_reason, second.claim_reason)
    doc_first, doc_second = attestation_of(runner, first)["attestation"], attestation_of(runner, second)["attestation"]
    delta_one = json.loads((Path(second.files["delta_one.json"])).read_text())
    assert delta_one["evaluation_metadata"]["committed_columns"][-2:] == ["digit", "image_id"]
    assert doc_second["data"]["training_rows"] == 150 + 175 - 8 + 175
    assert doc_second["baseline_model"]["weights_commitment"] == doc_first["candidate_model"]["weights_commitment"]

    # a third on top of both: its champion's training set is the base with both links' replacements replayed
    relabelled = keyed(pd.read_csv(SAMPLES / "label-noise.csv").iloc[:30], [f"b-{i}" for i in range(8, 38)])
    third = runner.evaluate(write(relabelled, tmp_path / "third.csv"), KEYED_TOKEN, THIRD_WALLET)
    assert third.status == "evaluated", third.reason
    doc_third = attestation_of(runner, third)["attestation"]
    assert [pin["rows_root"] for pin in doc_third["data"]["training_lineage"]] == [
        doc_first["data"]["training_lineage"][0]["rows_root"], doc_first["contribution"]["clean_rows_root"],
        doc_second["contribution"]["clean_rows_root"]]
    assert doc_third["data"]["training_rows"] == 492  # every one of its keys replaces a row: the count stays
    result = run_cli(["reproduce", third.partition_key], runner.settings.home, shared_cache, keyed_tokens_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "ok   training_lineage: identical" in result.stdout

    # the first's rows the second did not replace, again under another wallet (their keys or fresh ones):
    # nothing new, nothing paid (its 8 replaced rows would be new: sent again, they would undo the update)
    for keys in ([f"a-{i}" for i in range(8, 175)], [f"z-{i}" for i in range(8, 175)]):
        again = runner.evaluate(write(keyed(IMPROVING.iloc[8:175], keys), tmp_path / "again.csv"), KEYED_TOKEN,
                                "0x000000000000000000000000000000000000c0de")
        assert again.status == "rejected", again.reason
        assert again.reason.startswith("no new rows: of 167 rows, 167 are already in the champion's training set")
    links = Chain(runner.settings.ledger_database_url).active_links(KEYED_TOKEN)
    assert [link.partition_key for link in links[1:3]] == [first.partition_key, second.partition_key]


def test_an_update_with_a_key_carrying_two_rows_is_rejected_with_the_key(make_runner, tmp_path, keyed_tokens_env):
    rows = keyed(IMPROVING.iloc[:20], [f"k-{i % 10}" for i in range(20)])
    outcome = make_runner(extra_env=keyed_tokens_env).evaluate(write(rows, tmp_path / "clash.csv"), KEYED_TOKEN, WALLET)
    assert outcome.status == "rejected"
    assert "10 'image_id' value(s) carry two or more different rows (k-0, k-1, k-2, k-3, k-4 (+5 more))" in outcome.reason
    assert json.loads(open(outcome.files["rejection.json"]).read())["reasons"]
