"""Where a contribution stands, read from what the pipeline leaves behind; and a drop made by API.

The state comes from the platform's own records, not from Dagster (which this
package does not import): ``rejection.json`` or the DeltaOne/attestation files in
the partition's output folder, the claims outbox row of its partition, and the
drop zone object itself. "running" needs the orchestrator: the caller may pass a
``run_state(partition_key)`` that answers ``"queued"``/``"running"``/``"failed"``/
``"canceled"``/None (None: no run, or one that finished and left its records).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hokusai.claims.documents import output_dir_for
from hokusai.drops.store import (
    ContributionChangedError, ContributionMissingError, ContributionStore, resolve_partition,
)
from hokusai.drops.keys import InvalidDropError, StoredObject, parse_drop_key, parse_partition_key, partition_key_for
from hokusai.intake.rejections import read_rejection

RunState = Callable[[str], str | None]


class DropConflict(ValueError):
    """A different file already sits at that drop-zone key."""


def drop_target(token_id: str, wallet_address: str, filename: str, known_tokens: set[str]) -> str:
    """The drop-zone key an upload goes to, checked before any byte is read (InvalidDropError why not)."""
    drop = parse_drop_key(f"{token_id}/{wallet_address}/{filename}")  # the EIP-55 check sees the case given
    if drop.token_id not in known_tokens:
        raise InvalidDropError(f"unknown token {token_id!r}: no token spec has that id")
    return f"{drop.token_id}/{drop.wallet_address}/{drop.filename}"


def drop_spooled(store: ContributionStore, key: str, path: Path, md5_hex: str) -> tuple[str, StoredObject, bool]:
    """Put a complete upload (spooled to ``path``, MD5 ``md5_hex``) where an S3 drop of it would land;
    (partition key, object, created now).

    The same bytes again return the same partition key (the stored object's ETag is the
    MD5 of a single-part upload); other bytes under a taken name are refused (an S3
    overwrite would orphan the partition already queued).
    """
    try:
        existing = store.stat(key)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if existing.etag == md5_hex:
            return partition_key_for(existing), existing, False
        raise DropConflict(f"{key.rsplit('/', 1)[1]!r} was already contributed to {key.split('/')[0]} by this "
                           "wallet with other content; upload under another file name")
    stored = store.put_file(key, path)
    return partition_key_for(stored), stored, True


def drop_contribution(store: ContributionStore, token_id: str, wallet_address: str, filename: str,
                      data: bytes, known_tokens: set[str]) -> tuple[str, StoredObject, bool]:
    """``drop_target`` + ``drop_spooled`` for bytes already in memory (scripts, the benchmark)."""
    import hashlib
    import os
    import tempfile

    key = drop_target(token_id, wallet_address, filename, known_tokens)
    fd, name = tempfile.mkstemp(suffix=".upload")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return drop_spooled(store, key, Path(name), hashlib.md5(data, usedforsecurity=False).hexdigest())
    finally:
        Path(name).unlink(missing_ok=True)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def contribution_status(partition_key: str, *, outputs_dir: Path, store: ContributionStore,
                        claim_for_partition: Callable[[str], Any | None],
                        run_state: RunState | None = None) -> dict[str, Any]:
    """The contribution's state: queued, running, rejected (reasons), evaluated (DeltaOne, verdict, claim).

    Raises ValueError for a malformed key and LookupError when nothing is known of it.
    """
    object_key, _etag = parse_partition_key(partition_key)
    token_id, wallet, filename = object_key.split("/")
    base = {"partition_key": partition_key, "token_id": token_id, "wallet_address": wallet, "filename": filename}
    directory = output_dir_for(outputs_dir, partition_key)
    live = run_state(partition_key) if run_state else None
    if live == "running":
        return {**base, "state": "running"}
    rejection = read_rejection(directory)
    if rejection is not None:
        return {**base, "state": "rejected", "stage": rejection.get("stage"),
                "reasons": list(rejection.get("reasons") or [])}
    delta_one = _read_json(directory / "delta_one.json")
    attestation = _read_json(directory / "attestation.json")
    if delta_one is not None:
        computation = delta_one.get("delta_computation", {})
        verdict = delta_one.get("eligibility") or {}
        claim = claim_for_partition(partition_key)
        return {**base, "state": "evaluated",
                "delta_one_bps": computation.get("delta_one_bps"),
                "delta_one": computation.get("delta_one_score"),
                "eligible": verdict.get("eligible"), "verdict": verdict.get("reason"),
                "attestation_hash": (attestation or {}).get("attestation_hash"),
                "claim": None if claim is None else {"idempotency_key": claim.idempotency_key,
                                                     "status": claim.status}}
    try:
        resolve_partition(store, partition_key)
    except ContributionMissingError:
        raise LookupError(f"no contribution {partition_key!r} in the drop zone") from None
    except ContributionChangedError:
        return {**base, "state": "replaced", "reasons": [
            "the file was replaced after this partition was registered; drop it again to evaluate the new version"]}
    if live in _STOPPED:
        return {**base, "state": live, "reasons": [_STOPPED[live]]}
    return {**base, "state": live or "queued"}


# A run that ended without a rejection or an evaluation: not the contribution's fault.
_STOPPED = {
    "failed": "the evaluation run failed before reaching a verdict (not a rejection of the data); "
              "an operator re-executes it from the Dagster UI",
    "canceled": "the evaluation run was canceled before reaching a verdict; an operator re-executes it",
}
