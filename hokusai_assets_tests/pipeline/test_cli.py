"""The `hokusai` command as a person runs it: exit codes, summaries, files, verify."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hokusai_assets_tests.conftest import SAMPLES, WALLET, checked_mint_request

HOKUSAI = shutil.which("hokusai", path=str(Path(sys.executable).parent)) or "hokusai"


def run_cli(args, home, cache, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(home), "HOKUSAI_CACHE_DIR": str(cache), **(extra_env or {})})
    return subprocess.run([HOKUSAI, *args], capture_output=True, text=True, env=env, timeout=300)


def test_dry_run_is_deterministic_and_writes_its_files(tmp_path, shared_cache, monkeypatch, capsys):
    first = run_cli(["evaluate", "--dry-run", "--json", "--output-dir", str(tmp_path / "a")], tmp_path / "h", shared_cache)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "evaluated"
    assert set(summary) >= {"partition_key", "delta_one_bps", "eligible", "attestation_hash", "files"}
    assert set(summary["files"]) == {"delta_one.json", "attestation.json", "mint_request.json", "zk_output.json",
                                     "clean_rows.csv"}
    assert all(Path(p).parent == (tmp_path / "a").resolve() for p in summary["files"].values())
    checked_mint_request(tmp_path / "a")
    # Again in this process (another interpreter than the first, so another hash seed; its imports
    # already paid by the tests around it), with the command's own runner factory; HOKUSAI_TEST_MODE
    # makes it a dry run too.
    from hokusai.cli import main
    from hokusai_assets.cli import _runner_factory

    monkeypatch.setenv("HOKUSAI_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("HOKUSAI_CACHE_DIR", str(shared_cache))
    monkeypatch.setenv("HOKUSAI_TEST_MODE", "true")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # mlflow.set_tracking_uri writes them: undone after
        monkeypatch.setenv(name, os.environ.get(name, ""))
        monkeypatch.delenv(name)
    capsys.readouterr()
    assert main(["evaluate", "--json"], runner_factory=_runner_factory) == 0, capsys.readouterr().err
    again = json.loads(capsys.readouterr().out)
    assert again["status"] == "evaluated" and again["files"] != summary["files"]  # its own files, not the first's
    assert (again["delta_one_bps"], again["attestation_hash"]) == (summary["delta_one_bps"], summary["attestation_hash"])
    # a dry run signs with a throw-away state folder's key: not this installation's attester
    assert main(["verify", str(tmp_path / "a" / "attestation.json")]) == 2
    assert "FAIL signature[0]" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "a" / "attestation.json"), "--signer", summary["signer"]]) == 0
    verified = capsys.readouterr()
    assert "FAIL" not in verified.out and "ok   attestation_hash" in verified.out, verified.out + verified.err


def test_rejected_contribution_exits_2_with_one_line_and_no_traceback(tmp_path, shared_cache):
    path = tmp_path / "no-labels.csv"
    pd.read_csv(SAMPLES / "improving.csv").drop(columns=["digit"]).to_csv(path, index=False)
    result = run_cli(["evaluate", str(path), "--token", "digits-demo", "--wallet", WALLET], tmp_path / "h", shared_cache)
    assert result.returncode == 2
    assert "label column 'digit' is missing" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


@pytest.fixture
def cli(make_runner, tmp_path, shared_cache, monkeypatch, capsys):
    """Call the CLI in-process (warm) on a fresh state folder."""
    from hokusai.cli import main
    from hokusai_assets.runner import DagsterRunner

    monkeypatch.setenv("HOKUSAI_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOKUSAI_CACHE_DIR", str(shared_cache))

    def call(*args):
        code = main(list(args), runner_factory=lambda s, e: DagsterRunner(s, ephemeral=e))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def test_evaluate_prints_a_human_summary_and_copies_files(cli, tmp_path):
    code, out, err = cli("evaluate", str(SAMPLES / "improving.csv"), "--token", "digits-demo",
                         "--wallet", WALLET, "--output-dir", str(tmp_path / "out"))
    assert code == 0, err
    assert "DeltaOne: +" in out and "ELIGIBLE" in out and "registered as champion" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "attestation.json", "clean_rows.csv", "delta_one.json", "mint_request.json", "zk_output.json"]
    checked_mint_request(tmp_path / "out")
    code, printed, _ = cli("verify", str(tmp_path / "out"))  # pinned to this installation's own attester
    assert code == 0 and "FAIL" not in printed, printed
    assert "expected 0x" in printed and "(the DEVELOPMENT key in " in printed
    code, printed, _ = cli("verify", str(tmp_path / "out"), "--signer", "0x" + "11" * 20)
    assert code == 2 and "FAIL signature[0]" in printed and "(--signer)" in printed


def test_an_ineligible_contribution_says_no_claim_and_still_verifies(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mint_request.json").write_text("{}")  # left by an earlier run into the same folder
    code, printed, err = cli("evaluate", str(SAMPLES / "label-noise.csv"), "--token", "digits-demo",
                             "--wallet", WALLET, "--output-dir", str(out))
    assert code == 0, err
    assert "not eligible (delta_below_threshold)" in printed
    assert "no claim: not eligible (delta_below_threshold)" in printed and "signed by" not in printed
    assert sorted(p.name for p in out.iterdir()) == ["attestation.json", "clean_rows.csv", "delta_one.json"]
    code, printed, _ = cli("verify", str(out))
    assert code == 0, printed
    assert "ok   claim: no claim: not eligible (delta_below_threshold)" in printed
    assert "ok   attestation_hash" in printed and "ok   delta_one_sha256" in printed


@pytest.mark.parametrize("args, message", [
    (["--token", "digits-demo", "--wallet", "0x1234"], "not a wallet address"),
    (["--token", "no-such-token", "--wallet", WALLET], "unknown token"),
    (["--token", "Bad_Token", "--wallet", WALLET], "token"),
])
def test_bad_arguments_are_rejected_with_exit_2(cli, args, message):
    code, _, err = cli("evaluate", str(SAMPLES / "improving.csv"), *args)
    assert code == 2
    assert message in err


def test_verify_rejects_a_tampered_attestation(cli, tmp_path):
    code, _, _ = cli("evaluate", str(SAMPLES / "improving.csv"), "--token", "digits-demo", "--wallet", WALLET,
                     "--output-dir", str(tmp_path / "out"))
    assert code == 0
    envelope = json.loads((tmp_path / "out" / "attestation.json").read_text())
    envelope["attestation"]["result"]["delta_one_bps"] += 100
    (tmp_path / "out" / "attestation.json").write_text(json.dumps(envelope))
    code, out, _ = cli("verify", str(tmp_path / "out"))
    assert code == 2
    assert "FAIL attestation_hash" in out


@pytest.mark.parametrize("content", ['{"attestation": {}}', "[1, 2]", '{"schema": "something else"}'])
def test_verify_names_a_file_that_is_not_an_attestation(cli, tmp_path, content):
    (tmp_path / "attestation.json").write_text(content)
    code, _, err = cli("verify", str(tmp_path / "attestation.json"))
    assert code == 2 and "cannot verify" in err and "Traceback" not in err
