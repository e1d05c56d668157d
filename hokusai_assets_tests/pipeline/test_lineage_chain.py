"""The reward path's lineage, end to end on the embedded default (SQLite Dagster, local MLflow):
values are properties of the data, accepted rows accumulate in a chain, only new rows count,
and two evaluations started at once end as one linear chain."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.chain.ledger import Chain
from hokusai.claims.documents import output_dir_for
from hokusai_assets_tests.conftest import CHAIN_TOKEN, OTHER_WALLET, SAMPLES, WALLET
from hokusai_assets_tests.pipeline.test_cli import HOKUSAI, run_cli

IMPROVING = pd.read_csv(SAMPLES / "improving.csv")


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def attestation_of(runner, outcome) -> dict:
    return json.loads((output_dir_for(runner.settings.outputs_dir, outcome.partition_key)
                       / "attestation.json").read_text())


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    folder = tmp_path_factory.mktemp("halves")
    return write(IMPROVING.iloc[:175], folder / "first-half.csv"), write(IMPROVING.iloc[175:], folder / "second-half.csv")


def run_at_once(commands: list[list[str]], env: dict[str, str], timeout: float = 300) -> list[tuple[int, str, str]]:
    """Start every command at once; (exit code, stdout, stderr) of each. One still running after
    ``timeout`` seconds is stopped with SIGABRT, so Python's fault handler prints where each of its
    threads was, and the test fails with that instead of a bare timeout."""
    import signal
    import time

    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**env, "PYTHONFAULTHANDLER": "1"})
                 for command in [[str(part) for part in command] for command in commands]]
    deadline = time.monotonic() + timeout
    results = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            for still in processes:
                if still.poll() is None:
                    still.send_signal(signal.SIGABRT)
            dumps = [still.communicate(timeout=60)[1] for still in processes if still.returncode is None]
            pytest.fail(f"still running after {timeout:.0f} s; where each was:\n" + "\n----\n".join(dumps))
        results.append((process.returncode, stdout, stderr))
    return results


def test_the_same_rows_in_another_order_under_another_name_give_the_same_model_and_delta_one(make_runner, tmp_path):
    """Rows shuffled, columns reversed, another file name and wallet: the same values, byte for byte."""
    shuffled = IMPROVING.sample(frac=1.0, random_state=11)
    shuffled = write(shuffled[shuffled.columns[::-1]], tmp_path / "renamed-and-shuffled.csv")
    first, second = make_runner("one"), make_runner("two")
    a = first.evaluate(SAMPLES / "improving.csv", "digits-demo", WALLET)
    b = second.evaluate(shuffled, "digits-demo", OTHER_WALLET)
    assert a.status == b.status == "evaluated" and a.eligible
    doc_a, doc_b = attestation_of(first, a)["attestation"], attestation_of(second, b)["attestation"]
    assert doc_a["candidate_model"]["weights_commitment"] == doc_b["candidate_model"]["weights_commitment"]
    assert doc_a["result"]["delta_one_bps"] == doc_b["result"]["delta_one_bps"] == a.delta_one_bps
    assert doc_a["contribution"]["clean_rows_root"] == doc_b["contribution"]["clean_rows_root"]
    assert doc_a["contribution"]["clean_rows_sha256"] == doc_b["contribution"]["clean_rows_sha256"]
    assert doc_a["data"]["training_sha256"] == doc_b["data"]["training_sha256"]


def test_accepted_rows_accumulate_and_each_contribution_is_measured_against_the_previous_one(
        make_runner, halves, tmp_path, shared_cache, chain_tokens_env):
    runner = make_runner(extra_env=chain_tokens_env)
    first = runner.evaluate(halves[0], CHAIN_TOKEN, WALLET)
    second = runner.evaluate(halves[1], CHAIN_TOKEN, OTHER_WALLET)
    assert first.claim and second.claim, (first.claim_reason, second.claim_reason)
    doc_first, doc_second = attestation_of(runner, first)["attestation"], attestation_of(runner, second)["attestation"]
    # the second is trained on base + first + second, and measured against the first's model
    assert doc_second["baseline_model"]["weights_commitment"] == doc_first["candidate_model"]["weights_commitment"]
    assert doc_second["data"]["training_rows"] == 150 + 175 + 175
    assert [p["rows_root"] for p in doc_second["data"]["training_lineage"]] == [
        doc_first["data"]["training_lineage"][0]["rows_root"], doc_first["contribution"]["clean_rows_root"]]
    chain = Chain(runner.settings.ledger_database_url)
    head = chain.head(CHAIN_TOKEN)
    assert head.position == 2 and head.commitment == doc_second["candidate_model"]["weights_commitment"]
    from hokusai.core.registry import CHAMPION_ALIAS, ModelRegistry

    registry = ModelRegistry(runner.settings.mlflow_tracking_uri, runner.settings.mlflow_artifact_root)
    assert registry.get_alias(f"hokusai-{CHAIN_TOKEN}", CHAMPION_ALIAS).version == second.model_version
    # reproduce rebuilds the second's training set from the chain's pins and gets the same claim
    result = run_cli(["reproduce", second.partition_key], runner.settings.home, shared_cache, chain_tokens_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "ok   training_lineage: identical" in result.stdout

    # the first half again, under another wallet and name: nothing new, nothing paid
    again = runner.evaluate(write(pd.read_csv(halves[0]).iloc[::-1], tmp_path / "mine-now.csv"), CHAIN_TOKEN,
                            "0x000000000000000000000000000000000000c0de")
    assert again.status == "rejected"
    assert again.reason.startswith("no new rows: of 175 rows, 175 are already in the champion's training set")
    record = json.loads(Path(again.files["rejection.json"]).read_text())
    assert record["reasons"] == [again.reason]


def jittered(frame: pd.DataFrame, seed: int, step: int, share: float) -> pd.DataFrame:
    """Each pixel nudged by ±``step`` with probability ``share`` (clipped to 0..16): no new information."""
    rng = np.random.default_rng(seed)
    pixels = frame.columns.drop("digit")
    values = frame[pixels].to_numpy()
    nudge = rng.choice([-step, step], size=values.shape) * (rng.random(values.shape) < share)
    out = frame.copy()
    out[pixels] = np.clip(values + nudge, 0, 16)
    return out


def test_jittered_copies_of_the_champions_rows_are_near_copies_and_rejected(make_runner, tmp_path):
    from hokusai.tokens.spec import load_token_spec, read_token_table
    from hokusai.settings import REPO_ROOT

    base = read_token_table(load_token_spec(REPO_ROOT / "tokens" / "digits-demo.yaml").base_data_path)
    runner = make_runner()
    outcome = runner.evaluate(write(jittered(base, 3, 1, 0.15), tmp_path / "jitter.csv"), "digits-demo", WALLET)
    assert outcome.status == "rejected"
    assert "150 are near-copies of its rows" in outcome.reason


def test_benchmark_rows_edited_past_the_near_copy_rule_are_rejected_as_copies(make_runner, tmp_path):
    """3 pixels of each benchmark row moved by 8 levels: new rows by the near-copy rule, paid +900 bps
    before the data-copying test; now refused at intake, with the reason recorded."""
    from hokusai_assets_tests.unit.test_unit_benchmark_copying import BENCHMARK, edited

    runner = make_runner()
    outcome = runner.evaluate(write(edited(BENCHMARK, 3), tmp_path / "fresh-digits.csv"), "digits-demo", WALLET)
    assert outcome.status == "rejected" and not outcome.claim
    assert "rejected as copies made from the benchmark" in outcome.reason
    assert "than the champion's training rows are" in outcome.reason
    record = json.loads(Path(outcome.files["rejection.json"]).read_text())
    assert record["reasons"] == [outcome.reason]


def test_two_evaluations_started_at_once_on_a_fresh_state_end_as_one_linear_chain(halves, tmp_path, shared_cache,
                                                                                 chain_tokens_env):
    """Two `hokusai evaluate` processes: both succeed; the one that lost the head is re-based, not dropped."""
    import os

    home = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(shared_cache), **chain_tokens_env})
    results = run_at_once([[HOKUSAI, "evaluate", path, "--token", CHAIN_TOKEN, "--wallet", wallet, "--json"]
                           for path, wallet in zip(halves, (WALLET, OTHER_WALLET))], env)
    for code, _, stderr in results:
        assert code == 0, stderr
    summaries = [json.loads(stdout) for _, stdout, _ in results]
    assert all(summary["claimed"] for summary in summaries), [s["claim"] for s in summaries]
    links = Chain(f"sqlite:///{home / 'ledger.db'}").active_links(CHAIN_TOKEN)
    assert [link.position for link in links] == [0, 1, 2]
    assert {links[1].partition_key, links[2].partition_key} == {s["partition_key"] for s in summaries}
    for parent, child in zip(links, links[1:]):
        assert child.parent_commitment == parent.commitment
    for summary in summaries:  # each claim's baseline is the link before it
        signed = json.loads(Path(summary["files"]["mint_request.json"]).read_text())
        link = next(x for x in links if x.partition_key == summary["partition_key"])
        assert signed["baseline_commitment"] == links[link.position - 1].commitment
        assert signed["candidate_commitment"] == link.commitment


def test_the_same_rows_raced_under_two_wallets_are_paid_once(halves, tmp_path, shared_cache, chain_tokens_env):
    """Two contributors send the same rows at once: one claim; the other, re-based on the head the
    first made, finds every row already in the champion's training set and is rejected with that."""
    import os
    import shutil

    first_half = halves[0]
    copy = tmp_path / "someone-elses-rows.csv"
    shutil.copy(first_half, copy)
    home = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(shared_cache), **chain_tokens_env})
    results = run_at_once([[HOKUSAI, "evaluate", path, "--token", CHAIN_TOKEN, "--wallet", wallet, "--json"]
                           for path, wallet in ((first_half, WALLET), (copy, OTHER_WALLET))], env)
    assert sorted(code for code, _, _ in results) == [0, 2], [stderr for _, _, stderr in results]
    [winner] = [stdout for code, stdout, _ in results if code == 0]
    [loser] = [stderr for code, _, stderr in results if code == 2]
    assert json.loads(winner)["claimed"] is True
    assert "no new rows: of 175 rows, 175 are already in the champion's training set" in loser
    links = Chain(f"sqlite:///{home / 'ledger.db'}").active_links(CHAIN_TOKEN)
    assert [link.position for link in links] == [0, 1]


def test_an_evaluation_against_a_benchmark_the_token_did_not_publish_stops_and_pays_nothing(make_runner, tmp_path):
    """A spec that commits to a benchmark (``benchmark.rows_root``) and a file that differs: no score,
    no claim, and the contribution is not blamed (it is not rejected; the operator fixes the file)."""
    from hokusai.harness.topology import token_copies

    tokens = token_copies(tmp_path / "pinned", ["digits-pinned"], overrides={"digits-pinned": {"benchmark": {
        "path": "digits-demo/benchmark.csv", "spec_id": "digits-demo-benchmark-v1", "min_samples": 500,
        "rows_root": "0x" + "00" * 32}}})
    runner = make_runner(extra_env={"HOKUSAI_TOKENS_DIR": str(tokens)})
    outcome = runner.evaluate(SAMPLES / "improving.csv", "digits-pinned", WALLET)
    assert outcome.status == "error" and not outcome.claim, (outcome.status, outcome.reason)
    assert "the benchmark of token digits-pinned does not match its published commitment" in outcome.reason
    assert "mint_request.json" not in outcome.files and "rejection.json" not in outcome.files
