"""The ``hokusai`` command: evaluate a contribution, run the demo, verify an attestation.

Running the evaluation graph needs the Dagster code location, which this package
must not import; the entry point (``hokusai_assets.cli``) passes a runner factory in.
Exit codes: 0 evaluated (eligible or not) or verified, 2 rejected or not verified,
1 internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from hokusai.outcome import EvaluationOutcome
from hokusai.workers import configure as configure_workers
from hokusai.settings import Settings, load_settings, secret_environment

DEMO_WALLET = "0x00000000000000000000000000000000000d1617"
DEMO_TOKEN = "digits-demo"
OUTPUT_FILES = ("delta_one.json", "attestation.json", "mint_request.json", "zk_output.json", "rejection.json",
                "clean_rows.csv")


class Runner(Protocol):
    def evaluate(self, path: Path, token_id: str, wallet_address: str) -> EvaluationOutcome: ...


# (settings, dry_run) -> runner; a dry-run runner keeps no Dagster history.
RunnerFactory = Callable[[Settings, bool], Runner]


OUTPUT_DIR_HELP = "copy the evaluation's output files here (those it wrote): " + ", ".join(OUTPUT_FILES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hokusai", description=__doc__.splitlines()[0],
        epilog="also: hokusai api (serve the REST API) and hokusai api-key create|list|revoke; "
               "see hokusai api --help")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate one contribution file end to end")
    evaluate.add_argument("path", nargs="?", type=Path, help="the contribution file (csv, tsv, json, jsonl, parquet)")
    evaluate.add_argument("--token", help="token id, e.g. digits-demo")
    evaluate.add_argument("--wallet", help="contributor wallet address (0x + 40 hex)")
    evaluate.add_argument("--output-dir", type=Path, help=OUTPUT_DIR_HELP)
    evaluate.add_argument("--json", action="store_true", help="print a machine-readable summary")
    evaluate.add_argument("--dry-run", action="store_true",
                          help="evaluate a deterministic mock contribution in a throw-away state folder")
    demo = commands.add_parser("demo", help="evaluate the demo token's improving sample contribution")
    demo.add_argument("--output-dir", type=Path, help=OUTPUT_DIR_HELP)
    demo.add_argument("--json", action="store_true", help="print a machine-readable summary")
    verify = commands.add_parser(
        "verify", help="check evaluation outputs (hashes, EIP-712 digest, signer), a row proof, or a model folder")
    verify.add_argument("file", type=Path, help="attestation.json or its folder; a proof .json; a model folder")
    verify.add_argument("--signer", help="require this attester address (default: this installation's attester, "
                                         "from HOKUSAI_ATTESTER_PRIVATE_KEY or its development key)")
    verify.add_argument("--root", help="require this Merkle root (row proof) or weights commitment (model)")
    verify.add_argument("--benchmark-root", help="require this benchmark commitment (the token's published "
                                                 "benchmark.rows_root) in the attestation")
    again = commands.add_parser("reproduce", help="re-run an evaluation from its pins; compare the claim hash")
    again.add_argument("partition", help="the partition key, e.g. digits-demo/0x…/improving.csv@c30ca20e4ebc")
    prove = commands.add_parser("prove-row", help="prove one cleaned row belongs to an evaluated contribution")
    prove.add_argument("outputs", type=Path, help="the evaluation's output folder (holding clean_rows.csv)")
    prove.add_argument("index", type=int, help="row number, from 0")
    claims = commands.add_parser("claims", help="the claims outbox: list claims, retry a blocked one")
    claim_commands = claims.add_subparsers(dest="claims_command", required=True)
    listing = claim_commands.add_parser("list", help="every claim with its state")
    listing.add_argument("--status", action="append", help="only these states (repeatable)")
    retry = claim_commands.add_parser("retry", help="publish a budget_blocked or error claim again")
    retry.add_argument("key", help="the claim's idempotency key")
    retry.add_argument("--message", type=Path, help="a freshly signed mint_request.json for the same attestation")
    return parser


def _claims(args: argparse.Namespace, settings: Settings) -> int:
    from hokusai.settlement import outbox
    from hokusai.settlement.database import ledger_engine

    engine = ledger_engine(settings.ledger_database_url)
    if args.claims_command == "list":
        for row in outbox.list_claims(engine, args.status):
            print(f"{row.idempotency_key} {row.status:<14} attempt {row.attempt} {row.partition_key}"
                  + (f" ({row.error})" if row.error else ""))
        return 0
    message = json.loads(args.message.read_text()) if args.message else None
    try:
        outbox.retry_claim(engine, args.key, message)
    except (outbox.UnknownClaimError, ValueError) as error:
        print(f"hokusai claims retry: {error}", file=sys.stderr)
        return 2
    print(f"{args.key} recorded again: the settlement sensor publishes it on its next tick")
    return 0


def main(argv: list[str] | None = None, runner_factory: RunnerFactory | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    configure_workers(settings.intake_workers)
    logging.basicConfig(level=settings.log_level or "WARNING", format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries that set their own logger levels stay quiet too
        handler.setLevel(settings.log_level or "WARNING")
    try:
        if args.command == "verify":
            return _verify(args, settings)
        if args.command == "prove-row":
            return _prove_row(args)
        if args.command == "reproduce":
            return _reproduce(args, settings)
        if args.command == "claims":
            return _claims(args, settings)
        if runner_factory is None:
            raise RuntimeError("evaluation needs a runner (use the installed `hokusai` command)")
        if args.command == "demo":
            path = settings.tokens_dir / DEMO_TOKEN / "samples" / "improving.csv"
            return _evaluate(runner_factory(settings, False), settings, path, DEMO_TOKEN, DEMO_WALLET, args)
        if args.dry_run or settings.test_mode:
            return _dry_run(runner_factory, settings, args)
        missing = [flag for flag, value in (("PATH", args.path), ("--token", args.token),
                                            ("--wallet", args.wallet)) if not value]
        if missing:
            print(f"hokusai evaluate: missing {', '.join(missing)}", file=sys.stderr)
            return 2
        if not args.path.is_file():
            print(f"hokusai evaluate: no such file: {args.path}", file=sys.stderr)
            return 2
        return _evaluate(runner_factory(settings, False), settings, args.path, args.token, args.wallet, args)
    except Exception as error:  # the one place an unexpected error becomes exit 1
        logging.getLogger("hokusai").debug("internal error", exc_info=True)
        print(f"hokusai: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def _dry_run(runner_factory: RunnerFactory, settings: Settings, args: argparse.Namespace) -> int:
    """A deterministic mock contribution through all the real logic, in a throw-away state."""
    import pandas as pd

    from hokusai.tokens.demo_data import mock_contribution

    token_id = args.token or DEMO_TOKEN
    improving = pd.read_csv(settings.tokens_dir / token_id / "samples" / "improving.csv")
    scratch = Path(tempfile.mkdtemp(prefix="hokusai-dry-run-"))
    try:
        # No relayer and a throw-away ledger: a dry run's claim settles locally and reaches no queue.
        # No chain RPC either: the throw-away chain's genesis is on no real chain.
        dry_settings = replace(settings, home=scratch, drop_zone=scratch / "drop-zone", s3_bucket=None,
                               ledger_url=None, relayer_redis_url=None, chain_rpc_url=None,
                               mlflow_tracking_uri=f"sqlite:///{scratch / 'mlflow.db'}",
                               mlflow_artifact_root=(scratch / "mlflow-artifacts").as_uri())
        path = scratch / f"dry-run-seed-{settings.random_seed}.csv"
        # the digits token's mock is resampled with the seed; another token's (a DSPy token's text
        # examples) is its improving sample as it is
        mock = mock_contribution(improving, settings.random_seed) if token_id == DEMO_TOKEN else improving
        mock.to_csv(path, index=False, lineterminator="\n")
        args.output_dir = args.output_dir or settings.outputs_dir / "dry-run"
        return _evaluate(runner_factory(dry_settings, True), dry_settings, path, token_id, DEMO_WALLET, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _evaluate(runner: Runner, settings: Settings, path: Path, token_id: str, wallet: str,
              args: argparse.Namespace) -> int:
    from hokusai.drops.keys import InvalidDropError, parse_drop_key

    try:
        parse_drop_key(f"{token_id}/{wallet}/{path.name}")
    except InvalidDropError as error:
        print(f"hokusai evaluate: rejected: {error}", file=sys.stderr)
        return 2
    from hokusai.tokens.spec import UnknownTokenError, token_spec_path

    try:
        token_spec_path(settings.tokens_dir, token_id)
    except UnknownTokenError as error:
        print(f"hokusai evaluate: rejected: {error}", file=sys.stderr)
        return 2
    outcome = runner.evaluate(path, token_id, wallet)
    if outcome.files and args.output_dir:
        outcome.files = _copy_outputs(outcome.files, args.output_dir)
    if args.json:
        print(json.dumps(_machine_summary(outcome), indent=2))
    elif outcome.status == "evaluated":
        print(_human_summary(outcome))
    if outcome.status != "evaluated":
        record = outcome.files.get("rejection.json")
        where = f" (record: {record})" if record else ""
        print(f"hokusai evaluate: {outcome.status}: {outcome.reason}{where}", file=sys.stderr)
    return outcome.exit_code


def _copy_outputs(files: dict[str, str], output_dir: Path) -> dict[str, str]:
    from hokusai.claims.documents import CLAIM_FILES

    output_dir.mkdir(parents=True, exist_ok=True)
    for name in CLAIM_FILES:  # a claim copied here by an earlier run is not this evaluation's
        if name not in files:
            (output_dir / name).unlink(missing_ok=True)
    copied = {}
    for name in OUTPUT_FILES:
        if name in files:
            copied[name] = str(Path(shutil.copy2(files[name], output_dir / name)).resolve())
    return copied


def _machine_summary(outcome: EvaluationOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "partition_key": outcome.partition_key,
        "delta_one_bps": outcome.delta_one_bps,
        "eligible": outcome.eligible,
        "reason": outcome.reason,
        "attestation_hash": outcome.attestation_hash,
        "model_version": outcome.model_version,
        "champion_moved": outcome.champion_moved,
        "run_id": outcome.run_id,
        "signer": outcome.signer,
        "dev_key": outcome.dev_key,
        "claimed": outcome.claim,
        "claim": _claim_line(outcome),
        "claim_status": outcome.claim_status,
        "weight_genesis": outcome.weight_genesis,
        "files": outcome.files,
    }


def _claim_line(outcome: EvaluationOutcome) -> str | None:
    """``no claim: not eligible (not_significant)`` or ``claim minted (settled locally: ...)``."""
    if outcome.claim is None:
        return None
    if not outcome.claim:
        return f"no claim: {outcome.claim_reason}"
    state = f" {outcome.claim_status}" if outcome.claim_status else " signed"
    return f"claim{state}" + (f" ({outcome.claim_note})" if outcome.claim_note else "")


def _human_summary(outcome: EvaluationOutcome) -> str:
    verdict = "ELIGIBLE" if outcome.eligible else f"not eligible ({outcome.reason})"
    lines = [
        f"Contribution {outcome.partition_key}",
        f"  DeltaOne: {outcome.delta_one_bps:+d} bps ({outcome.delta_one_bps / 100:+.2f} DeltaOne) - {verdict}",
        f"  {outcome.summary}",
        f"  attestation {outcome.attestation_hash}",
    ]
    if outcome.signer:
        lines.append(f"  signed by {outcome.signer}" + (" (DEVELOPMENT key, not for production)" if outcome.dev_key
                                                       else ""))
    if outcome.claim is not None:
        lines.append(f"  {_claim_line(outcome)}")
    if outcome.weight_genesis:
        lines.append(f"  first baseline: governance seeds the chain once with {outcome.weight_genesis}")
    lines += [f"  wrote {path}" for path in outcome.files.values()]
    return "\n".join(lines)


def _reproduce(args: argparse.Namespace, settings: Settings) -> int:
    from hokusai.core.registry import ModelRegistry
    from hokusai.intake.read import IntakePolicy
    from hokusai.intake.limits import LoadLimits
    from hokusai.pii.scrub import pii_key
    from hokusai.claims.reproduce import reproduce
    from hokusai.drops.s3 import contribution_store_for
    from hokusai.pii.secret import load_pii_secret
    from hokusai.tokens.spec import load_token_spec, read_token_table, token_spec_path
    from hokusai.evaluation.benchmark import load_benchmark

    secret = load_pii_secret(settings.home, secret_environment())
    from hokusai.chain.ledger import Chain

    checks = reproduce(
        args.partition,
        outputs_root=settings.outputs_dir,
        chain=Chain(settings.ledger_database_url),
        store=contribution_store_for(settings),
        registry=ModelRegistry(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, settings.cache_dir),
        spec_for=lambda token: load_token_spec(token_spec_path(settings.tokens_dir, token)),
        pii_key_for=lambda token: pii_key(secret, token),
        base_for=lambda spec: read_token_table(spec.base_data_path),
        benchmark_for=load_benchmark,
        policy=IntakePolicy(LoadLimits(settings.max_upload_bytes, settings.max_rows, settings.max_columns),
                            settings.max_benchmark_share),
    )
    for check in checks:
        print(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    return 0 if all(check.passed for check in checks) else 2


def _prove_row(args: argparse.Namespace) -> int:
    from hokusai.commitments.rows import ROWS_FILE, prove_row, read_rows_file

    rows = args.outputs / ROWS_FILE
    if not rows.exists():
        print(f"hokusai prove-row: no {ROWS_FILE} in {args.outputs}", file=sys.stderr)
        return 2
    try:
        proof = prove_row(read_rows_file(rows), args.index).as_dict()
    except IndexError as error:
        print(f"hokusai prove-row: {error}", file=sys.stderr)
        return 2
    attestation = args.outputs / "attestation.json"
    if attestation.exists():
        committed = json.loads(attestation.read_text())["attestation"]["contribution"].get("clean_rows_root")
        if committed != proof["root"]:
            print(f"hokusai prove-row: {ROWS_FILE} does not match the attested root {committed}", file=sys.stderr)
            return 2
    print(json.dumps(proof, indent=2))
    return 0


def _own_attester(settings: Settings) -> tuple[str, str] | None:
    from hokusai.claims.attester_keys import configured_attester_address

    return configured_attester_address(settings.home, secret_environment())


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from hokusai.claims.verify import verify_path

    signer, source = args.signer, "--signer"
    try:
        if signer is None:  # this installation's own attester, never an address the files name
            signer, source = _own_attester(settings) or (None, "")
        checks = verify_path(args.file, expected_signer=signer, expected_root=args.root, signer_source=source,
                             expected_benchmark_root=args.benchmark_root)
    except (FileNotFoundError, ValueError) as error:
        print(f"hokusai verify: cannot verify {args.file}: {error}", file=sys.stderr)
        return 2
    for check in checks:
        print(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    return 0 if all(check.passed for check in checks) else 2
