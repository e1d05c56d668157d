"""The drop zone: which uploaded objects are contributions, and which are new.

Pure functions over a listing, so the sensor is a thin wrapper and every rule
(layout, partition keys, the cursor) is unit-tested without Dagster or S3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hokusai.rules.token_ids import is_token_id, validate_token_id
from hokusai.rules.wallets import validate_wallet_address

TEXT_FORMATS = ("csv", "tsv", "json", "jsonl", "ndjson")
FORMATS = (*TEXT_FORMATS, "parquet")
ETAG_PREFIX_LENGTH = 12
_FILENAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_ETAG_PREFIX = re.compile(r"[0-9a-f-]{1,%d}" % ETAG_PREFIX_LENGTH)
_WALLET = re.compile(r"0x[0-9a-fA-F]{40}")
_USE = "use csv, tsv, json, jsonl, ndjson, parquet (text formats optionally .gz)"


class InvalidDropError(ValueError):
    """An object in the drop zone that is not a contribution; the message says why."""


@dataclass(frozen=True)
class StoredObject:
    """One object in a contribution store; ``etag`` is kept bare and lowercase."""

    key: str
    etag: str
    size: int
    last_modified: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", normalize_etag(self.etag))


@dataclass(frozen=True)
class DropKey:
    token_id: str
    wallet_address: str
    filename: str


@dataclass(frozen=True)
class DropPlan:
    """What one tick does: (object, partition key) to run, (key, reason) skipped."""

    accepted: list[tuple[StoredObject, str]]
    skipped: list[tuple[str, str]]
    cursor: str
    remaining: int


def normalize_etag(etag: str) -> str:
    """S3 returns ETags quoted; compare and store them bare and lowercase."""
    return etag.strip().strip('"').lower()


def _validate_filename(name: str) -> None:
    if name.startswith("."):
        raise InvalidDropError(f"hidden file {name!r} (leading '.') is not evaluated")
    if len(name) > 255 or "..." in name or not _FILENAME_CHARS.fullmatch(name):
        raise InvalidDropError(
            f"file name {name!r} must be at most 255 characters of A-Z a-z 0-9 . _ - "
            "without '...'"
        )
    parts = name.lower().split(".")
    ext, compressed = parts[-1], False
    if ext == "gz" and len(parts) > 2:
        ext, compressed = parts[-2], True
    if len(parts) < 2:
        raise InvalidDropError(f"file {name!r} has no file type extension; {_USE}")
    suffix = name[len(name) - len(ext) - (3 if compressed else 0) - 1 :]
    if ext not in FORMATS or suffix != suffix.lower():
        raise InvalidDropError(f"unsupported file type {suffix!r}; {_USE} in lowercase")
    if compressed and ext not in TEXT_FORMATS:
        raise InvalidDropError(f"{ext} is already compressed; drop it without .gz")


def parse_drop_key(key: str) -> DropKey:
    """Split ``{token_id}/{wallet}/{file}``; raise InvalidDropError saying what to fix."""
    segments = key.split("/")
    if len(segments) != 3 or "" in segments:
        got = "an empty path segment" if len(segments) == 3 else f"{len(segments)} path segments"
        raise InvalidDropError(f"expected {{token_id}}/{{wallet}}/{{file}}, got {got} in {key!r}")
    token_id, wallet, filename = segments
    try:
        validate_token_id(token_id)
    except ValueError as exc:
        raise InvalidDropError(f"{token_id!r} is not a token id: {exc}") from None
    try:
        if not _WALLET.fullmatch(wallet):  # stricter than a `$` match: no trailing newline
            raise ValueError("expected 0x followed by 40 hex digits")
        wallet_lower = validate_wallet_address(wallet)
    except ValueError as exc:
        raise InvalidDropError(f"{wallet!r} is not a wallet address: {exc}") from None
    _validate_filename(filename)
    return DropKey(token_id, wallet_lower, filename)


def partition_key_for(obj: StoredObject) -> str:
    """``{token_id}/{wallet_lowercase}/{file}@{etag[:12]}``: names the object and its version."""
    drop = parse_drop_key(obj.key)
    if not _ETAG_PREFIX.fullmatch(obj.etag[:ETAG_PREFIX_LENGTH]):
        raise ValueError(f"object {obj.key!r} has no usable ETag: {obj.etag!r}")
    etag_prefix = obj.etag[:ETAG_PREFIX_LENGTH]
    return f"{drop.token_id}/{drop.wallet_address}/{drop.filename}@{etag_prefix}"


def parse_partition_key(partition_key: str) -> tuple[str, str]:
    """(object key with the wallet lowercased, ETag prefix); ValueError if malformed."""
    key, sep, etag_prefix = partition_key.rpartition("@")
    if not sep or not _ETAG_PREFIX.fullmatch(etag_prefix):
        raise ValueError(f"{partition_key!r} is not a contribution partition key")
    drop = parse_drop_key(key)
    if key.split("/")[1] != drop.wallet_address:
        raise ValueError(f"{partition_key!r}: the wallet must be lowercase in a partition key")
    return key, etag_prefix


def _load_cursor(cursor: str | None) -> tuple[float | None, set[tuple[str, str]]]:
    try:
        state = json.loads(cursor or "")
        mark = state["mark"]
        seen = {(str(k), str(e)) for k, e in state["seen"]}
        if mark is not None and not isinstance(mark, (int, float)):
            raise TypeError(mark)
        return (None if mark is None else float(mark)), seen
    except (ValueError, TypeError, KeyError):
        return None, set()  # malformed or missing: start from scratch


def _dump_cursor(mark: float | None, seen: set[tuple[str, str]]) -> str:
    return json.dumps({"mark": mark, "seen": sorted(seen)}, separators=(",", ":"))


def _is_new(obj: StoredObject, mark: float | None, seen: set[tuple[str, str]]) -> bool:
    at_mark = obj.last_modified == mark and (obj.key, obj.etag) not in seen
    return mark is None or obj.last_modified > mark or at_mark


def plan_drops(
    listing: Iterable[StoredObject],
    cursor: str | None,
    max_runs: int,
    known_tokens: Collection[str] | None = None,
) -> DropPlan:
    """Decide what a sensor tick does with a listing.

    The cursor is a high-water ``last_modified`` plus the (key, etag) pairs
    handled at exactly that second: S3 timestamps have one-second precision, so
    a strict ``>`` would miss an upload landing in the same second.
    """
    if max_runs < 1:
        raise ValueError(f"max_runs must be at least 1, got {max_runs}")
    mark, seen = _load_cursor(cursor)
    new = sorted(
        (obj for obj in listing if _is_new(obj, mark, seen)),
        key=lambda obj: (obj.last_modified, obj.key),
    )
    accepted: list[tuple[StoredObject, str]] = []
    accepted_keys: set[str] = set()
    skipped: list[tuple[str, str]] = []
    for processed, obj in enumerate(new):
        if len(accepted) >= max_runs:
            break  # the cursor stays before ``obj``: the rest is new next tick
        if obj.last_modified != mark:
            mark, seen = obj.last_modified, set()
        seen.add((obj.key, obj.etag))
        try:
            partition_key = partition_key_for(obj)
        except ValueError as exc:
            skipped.append((obj.key, str(exc)))
            continue
        token_id = partition_key.split("/", 1)[0]
        if known_tokens is not None and token_id not in known_tokens:
            skipped.append((obj.key, f"unknown token {token_id!r}: no token spec has that id"))
        elif partition_key in accepted_keys:
            skipped.append((obj.key, f"same file and content as {partition_key}"))
        else:
            accepted.append((obj, partition_key))
            accepted_keys.add(partition_key)
    else:
        processed = len(new)
    return DropPlan(accepted, skipped, _dump_cursor(mark, seen), len(new) - processed)


def known_token_ids(tokens_dir: Path) -> set[str]:
    """Ids with a spec ``{tokens_dir}/{token_id}.yaml``; none if the folder is missing."""
    stems = {path.stem for path in Path(tokens_dir).glob("*.yaml") if path.is_file()}
    return {stem for stem in stems if is_token_id(stem)}


def caught_up_cursor(listing: Sequence[StoredObject]) -> str:
    """The cursor of a sensor that has handled every object in ``listing``: new objects
    only from here on (an operator skipping a backlog; the sensor benchmark's start).

    Planned over the newest second alone: everything older is behind that mark anyway.
    """
    newest = max(obj.last_modified for obj in listing)
    last_second = [obj for obj in listing if obj.last_modified == newest]
    return plan_drops(last_second, None, max_runs=len(last_second) + 1).cursor
