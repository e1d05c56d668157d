"""The claims outbox: every signed claim, recorded before it is published, and its settlement.

A claim's state moves ``recorded`` → ``published`` → one of the relayer's
statuses. ``minted``, ``no_delta`` and ``replay`` are final: a later settlement is
logged but changes nothing. ``budget_blocked`` and ``error`` may be retried: a
retry is a new publish *attempt* of the same signed message (same idempotency
key), so the publisher's once-only guard lets it through exactly once.

Every change is returned as a ``ClaimChange``; ``apply_settlements`` also calls
``on_changes(connection, changes)`` inside its transaction, so code that keeps
its own tables in this database (the lineage chain) updates them atomically with
the claim: if it raises, nothing is applied and the messages are read again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    inspect,
    select,
    text,
    update,
)

from hokusai.settlement.database import METADATA, fetch_all, key_in, schema_upgrade, write_many
from hokusai.settlement.settlement_messages import (
    BUDGET_BLOCKED,
    ERROR,
    FIELD_WIDTHS,
    MINTED,
    NO_DELTA,
    REPLAY,
    settlement_message,
    settlement_problems,
    superseded_reason,
)

RECORDED, PUBLISHED = "recorded", "published"
FINAL = frozenset({MINTED, NO_DELTA, REPLAY})
RETRYABLE = frozenset({BUDGET_BLOCKED, ERROR})
SETTLED_BY_RELAYER, SETTLED_BY_LOCAL = "relayer", "local"
# Errors that a re-publish of the same signed message cannot cure: left for the operator
# or the lineage chain's code (re-base, re-sign, seed the genesis).
PERMANENT_ERRORS = ("LineageParentMismatch", "LineageNotSeeded", "SignatureExpired", "SignerNotAttester")

# A recorded claim's place in the publisher's queue (its recorded_at, which a retry keeps), NULL otherwise.
QUEUED_AT = f"CASE WHEN status = '{RECORDED}' THEN recorded_at END"
CLAIMS_FILLFACTOR = 40  # percent of each PostgreSQL page of claims filled by inserts: room for HOT updates

claims = Table(
    "claims", METADATA,
    Column("idempotency_key", String(66), primary_key=True),
    Column("attestation_hash", String(66), nullable=False),
    Column("model_id", String(256), nullable=False),
    Column("model_id_uint", String(80), nullable=False),
    Column("eval_id", String(256), nullable=False),
    Column("token_id", String(64)),
    Column("partition_key", Text),
    Column("deadline", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # in no index: see queued_at
    Column("attempt", Integer, nullable=False),  # publish attempt; a retry is attempt + 1
    Column("error_retries", Integer, nullable=False),
    Column("next_retry_at", Float),  # unix time of the next automatic re-publish, if any
    Column("settled_by", String(16)),  # relayer | local
    Column("reward_amount", String(FIELD_WIDTHS["reward_amount"])),
    Column("tx_hash", String(FIELD_WIDTHS["tx_hash"])),
    Column("block_number", BigInteger),
    Column("gas_used", String(FIELD_WIDTHS["gas_used"])),
    Column("error", Text),
    Column("settled_at", String(FIELD_WIDTHS["settled_at"])),  # as the relayer says it
    Column("recorded_at", Float, nullable=False),
    Column("published_at", Float),
    Column("updated_at", Float, nullable=False),
    # Computed by the database from status (nothing to keep in step): the publisher's queue, oldest first.
    Column("queued_at", Float, Computed(QUEUED_AT, persisted=True)),
    # No index holds status: a settlement (published -> minted) changes no indexed value (queued_at and
    # next_retry_at stay NULL), so on PostgreSQL it is a HOT update, no index written (CLAIMS_FILLFACTOR).
    # The publisher reads ix_claims_queued_at in order (no sort), the retry query ix_claims_next_retry_at.
    Index("ix_claims_queued_at", "queued_at", sqlite_where=text("queued_at IS NOT NULL"),
          postgresql_where=text("queued_at IS NOT NULL")),
    Index("ix_claims_next_retry_at", "next_retry_at", sqlite_where=text("next_retry_at IS NOT NULL"),
          postgresql_where=text("next_retry_at IS NOT NULL")),
)

# The signed wire message, exactly as published, beside its claim row rather than in it: a claim row is
# then ~300 bytes, not ~1.7 kB, and a tick that changes 10,000 claims' status rewrites that much less.
claim_messages = Table(
    "claim_messages", METADATA,
    Column("idempotency_key", String(66), ForeignKey("claims.idempotency_key"), primary_key=True),
    Column("message", Text, nullable=False),
)

claim_settlements = Table(
    "claim_settlements", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_sha256", String(64), nullable=False, unique=True),  # the same message twice is one
    Column("idempotency_key", String(66)),  # not indexed: no code reads the log by key (see below)
    Column("status", String(16)),
    Column("outcome", String(16), nullable=False),  # applied | unchanged | rejected | superseded
    Column("reason", Text),
    Column("raw", Text),  # kept when not applied (rejected, unchanged, superseded); an applied one's is its claim row
    Column("received_at", Float, nullable=False),
)


_LOG_COLUMNS = ("message_sha256", "idempotency_key", "status", "outcome", "reason", "raw", "received_at")


class UnknownClaimError(LookupError):
    """No claim in the outbox has this idempotency key."""


@dataclass(frozen=True)
class RetryPolicy:
    """How ``error`` and ``budget_blocked`` claims are retried (docs/claims.md)."""

    max_error_retries: int = 3
    error_retry_base_seconds: float = 60.0  # then doubled per retry
    budget_retry_seconds: float | None = None  # None: only on operator request (a top-up is a human act)


class ClaimChange(NamedTuple):
    """One claim that changed state; what the lineage chain reacts to. A named tuple, not a
    dataclass: a busy tick makes 20,000 of them, and a tuple is built ~3x faster."""

    idempotency_key: str
    partition_key: str | None
    token_id: str | None
    model_id_uint: str
    attestation_hash: str
    eval_id: str
    model_id: str  # the registered model whose champion follows the chain (the follower names it)
    previous: str | None  # None: newly recorded
    status: str
    settlement: dict[str, Any] | None = None  # the relayer's message, when one caused the change


# What a ClaimChange names of its claim, in its order, then what the tick decides with
_CHANGE_FIELDS = ("idempotency_key", "partition_key", "token_id", "model_id_uint", "attestation_hash", "eval_id",
                  "model_id")
_SUMMARY = (*_CHANGE_FIELDS, "attempt", "status", "error_retries")
_SETTLING = (*_SUMMARY, "deadline")  # and what tells whether a settlement answers the current message


class PendingClaim(NamedTuple):
    """A recorded claim to publish (``claims_to_publish``): a plain tuple, cheap to read 10,000 times."""

    idempotency_key: str
    partition_key: str | None
    token_id: str | None
    model_id_uint: str
    attestation_hash: str
    eval_id: str
    model_id: str
    attempt: int
    status: str
    error_retries: int
    message: str


@dataclass
class ApplyReport:
    changes: list[ClaimChange] = field(default_factory=list)
    unchanged: int = 0  # settlements for a claim already final or already in that state
    duplicates: int = 0  # the same message seen before (e.g. re-read after a crash)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (raw, reason)
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (raw, reason): for a replaced message


OnChanges = Callable[[Any, list[ClaimChange]], None]


@schema_upgrade
def _move_messages_out_of_claim_rows(connection: Any) -> None:
    """Ledgers made before ``claim_messages`` keep each signed message in its claim row: move it there."""
    if "message" not in {column["name"] for column in inspect(connection).get_columns("claims")}:
        return
    connection.exec_driver_sql("INSERT INTO claim_messages (idempotency_key, message) "
                               "SELECT idempotency_key, message FROM claims")
    connection.exec_driver_sql("ALTER TABLE claims DROP COLUMN message")


@schema_upgrade
def _queue_claims_by_a_computed_column(connection: Any) -> None:
    """Ledgers made before ``queued_at`` found recorded claims by an index on (status, recorded_at), which
    every settlement wrote: add the computed column (``create_tables`` then makes its index) and drop
    that index. SQLite can add only a VIRTUAL computed column (new ledgers have it STORED): same values,
    same index. On PostgreSQL claims' pages keep room for HOT updates: set before the column is added,
    whose rewrite of the table then leaves that room in every page."""
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        options = connection.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE oid = 'claims'::regclass").scalar() or []
        if f"fillfactor={CLAIMS_FILLFACTOR}" not in options:
            connection.exec_driver_sql(f"ALTER TABLE claims SET (fillfactor = {CLAIMS_FILLFACTOR})")
    if "queued_at" not in {column["name"] for column in inspect(connection).get_columns("claims")}:
        kind = "double precision" if postgresql else "FLOAT"
        connection.exec_driver_sql(f"ALTER TABLE claims ADD COLUMN queued_at {kind} GENERATED ALWAYS AS "
                                   f"({QUEUED_AT}) {'STORED' if postgresql else 'VIRTUAL'}")
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_claims_status_recorded_at")


@schema_upgrade
def _log_without_a_key_index(connection: Any) -> None:
    """The settlement log was indexed by idempotency key, which nothing reads it by: each of a tick's
    10,000 rows wrote that index too (a quarter of the log INSERT's server time). The log is found by
    each message's SHA (unique: the duplicate check); an operator's look-up of one claim's settlements
    reads the table."""
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_claim_settlements_idempotency_key")


def _with_message() -> Any:
    """Claims with their message, as one row each (what ``get_claim`` and ``list_claims`` give); without
    ``queued_at``, which the database computes for the publisher from ``status``."""
    return select(*(column for column in claims.c if column is not claims.c.queued_at),
                  claim_messages.c.message).join(
        claim_messages, claim_messages.c.idempotency_key == claims.c.idempotency_key)


def _message_text(message: dict[str, Any]) -> str:
    return json.dumps(message, sort_keys=True, separators=(",", ":"))


def _change(row: Any, previous: str | None, status: str, settlement: dict[str, Any] | None = None) -> ClaimChange:
    return ClaimChange(row.idempotency_key, row.partition_key, row.token_id, row.model_id_uint, row.attestation_hash,
                       row.eval_id, row.model_id, previous, status, settlement)


def _insert_ignore(engine: Any, table: Table) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


# What a fresh signing of the same claim varies: its id, its time, its deadline and so its signature.
# Everything else in the message is the claim's evidence, fixed by the attestation.
PER_SIGNING_FIELDS = frozenset({"message_id", "timestamp", "deadline", "attester_signatures"})
NEW, REUSED, RESIGNED, SPENT = "new", "reused", "re-signed", "spent"


class ClaimConflict(ValueError):
    """A claim is recorded under this idempotency key with other evidence: one key, one signed message."""


@dataclass(frozen=True)
class ClaimResolution:
    """Which signed message stands for a key: the fresh one (``new``, ``re-signed``) or the recorded one."""

    action: str  # new | reused (the recorded message is live or settled) | re-signed (it expired unsettled)
    message: dict[str, Any]
    status: str | None = None  # the recorded claim's status

    @property
    def spent(self) -> bool:
        """Settled without a paying mint (``no_delta``, ``replay``): the key is used up, nothing to claim."""
        return self.action == REUSED and self.status in FINAL and self.status != MINTED


def evidence_differences(recorded: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """The fields, other than the per-signing ones, in which two messages for one key differ."""
    names = (set(recorded) | set(fresh)) - PER_SIGNING_FIELDS
    return sorted(name for name in names if recorded.get(name) != fresh.get(name))


def _resolve(row: Any, fresh: dict[str, Any], now: float) -> ClaimResolution:
    key = fresh["idempotency_key"]
    if row is None:
        return ClaimResolution(NEW, fresh)
    recorded = json.loads(row.message)
    differences = evidence_differences(recorded, fresh)
    if differences:  # the money path is adversarial: never a second signed message for a key
        raise ClaimConflict(
            f"claim {key} is already recorded ({row.status}, partition {row.partition_key}) with other "
            f"evidence: {', '.join(differences)} differ. One idempotency key stands for one signed message, so "
            "nothing was signed, recorded or written; the recorded claim stands. Compare this run's "
            "attestation with the recorded message (`hokusai claims list`) to find what changed")
    if row.status in FINAL or row.deadline > now:
        return ClaimResolution(REUSED, recorded, row.status)
    # its signature expired before it settled: the contract refuses it, so a fresh one replaces it
    return ClaimResolution(RESIGNED, fresh, row.status)


def resolve_claim(engine: Any, fresh: dict[str, Any], *, now: float | None = None) -> ClaimResolution:
    """Which message stands for ``fresh``'s key (read only; ``record_claim`` applies it): a re-run of an
    evaluation re-signs, but the recorded message is the claim while it is live or settled; an expired,
    unsettled one is replaced. Raises ``ClaimConflict`` when the recorded evidence is not the same."""
    now = time.time() if now is None else now
    return _resolve(get_claim(engine, fresh["idempotency_key"]), fresh, now)


def record_claim(engine: Any, message: dict[str, Any], *, token_id: str | None = None,
                 partition_key: str | None = None, now: float | None = None) -> tuple[Any, bool]:
    """Record a signed claim; a second record of the same idempotency key keeps the first (see
    ``record_or_resign``). Returns (the stored row, whether it was created now)."""
    row, action = record_or_resign(engine, message, token_id=token_id, partition_key=partition_key, now=now)
    return row, action == NEW


def record_or_resign(engine: Any, message: dict[str, Any], *, token_id: str | None = None,
                     partition_key: str | None = None, now: float | None = None) -> tuple[Any, str]:
    """Record a signed claim once per key; returns (the stored row, ``resolve_claim``'s action).

    The same evidence again keeps the recorded message (``reused``), unless it expired unsettled:
    then ``message`` replaces it as a new publish attempt (``re-signed``; compare-and-set on the
    expired text). Other evidence raises ``ClaimConflict`` and changes nothing.
    """
    now = time.time() if now is None else now
    text = _message_text(message)
    row = {"idempotency_key": message["idempotency_key"], "attestation_hash": message["attestation_hash"],
           "model_id": message["model_id"], "model_id_uint": message["model_id_uint"], "eval_id": message["eval_id"],
           "token_id": token_id, "partition_key": partition_key, "deadline": message["deadline"],
           "status": RECORDED, "attempt": 1, "error_retries": 0, "recorded_at": now, "updated_at": now}
    key = row["idempotency_key"]
    by_key = claims.c.idempotency_key == key
    with engine.begin() as connection:
        created = connection.execute(
            _insert_ignore(engine, claims).values(**row).on_conflict_do_nothing(
                index_elements=["idempotency_key"])).rowcount == 1
        if created:
            connection.execute(claim_messages.insert().values(idempotency_key=key, message=text))
        stored = connection.execute(_with_message().where(by_key)).one()
        if created:
            return stored, NEW
        resolution = _resolve(stored, message, now)
        if resolution.action == RESIGNED and stored.message != text:
            # compare-and-set on the expired text: of two re-signers, one replaces it
            replaced = connection.execute(update(claim_messages).where(and_(
                claim_messages.c.idempotency_key == key, claim_messages.c.message == stored.message)).values(
                message=text)).rowcount == 1
            if replaced:
                connection.execute(update(claims).where(by_key).values(
                    deadline=message["deadline"], status=RECORDED, attempt=stored.attempt + 1,
                    next_retry_at=None, error=None, updated_at=now))
            stored = connection.execute(_with_message().where(by_key)).one()
            return stored, RESIGNED if replaced else _resolve(stored, message, now).action
    return stored, resolution.action


def get_claim(engine: Any, idempotency_key: str) -> Any | None:
    with engine.connect() as connection:
        return connection.execute(_with_message().where(claims.c.idempotency_key == idempotency_key)).one_or_none()


def list_claims(engine: Any, statuses: Iterable[str] | None = None, limit: int | None = None) -> list[Any]:
    query = _with_message().order_by(claims.c.recorded_at, claims.c.idempotency_key)
    if statuses is not None:
        query = query.where(claims.c.status.in_(list(statuses)))
    with engine.connect() as connection:
        return list(connection.execute(query.limit(limit)))


def claims_to_publish(engine: Any, limit: int, keys: Sequence[str] | None = None) -> list[PendingClaim]:
    """Recorded claims, oldest first: key, attempt, message and what a ``ClaimChange`` names."""
    query = (select(*(claims.c[name] for name in _SUMMARY), claim_messages.c.message)
             .join(claim_messages, claim_messages.c.idempotency_key == claims.c.idempotency_key)
             .where(claims.c.queued_at.isnot(None)).order_by(claims.c.queued_at).limit(limit))
    if keys is not None:
        query = query.where(key_in(claims.c.idempotency_key, keys, engine.dialect.name))
    with engine.connect() as connection:
        return list(map(PendingClaim._make, connection.execute(query).all()))


def mark_published(engine: Any, pending: Sequence[PendingClaim], now: float | None = None) -> list[ClaimChange]:
    """Mark claims published (rows from ``claims_to_publish``) if still recorded at that attempt: a
    settlement may have arrived first, or an operator re-queued it."""
    now = time.time() if now is None else now
    changed: set[str] = set()
    with engine.begin() as connection:
        by_attempt: dict[int, list[str]] = {}
        for row in pending:
            by_attempt.setdefault(row.attempt, []).append(row.idempotency_key)
        for attempt, keys in by_attempt.items():
            changed |= set(connection.execute(
                update(claims).where(and_(key_in(claims.c.idempotency_key, keys, engine.dialect.name),
                                          claims.c.status == RECORDED, claims.c.attempt == attempt))
                .values(status=PUBLISHED, published_at=now, updated_at=now)
                .returning(claims.c.idempotency_key)).scalars())
    return [ClaimChange(*row[:len(_CHANGE_FIELDS)], RECORDED, PUBLISHED)
            for row in pending if row.idempotency_key in changed]


def _raw_bytes(raw: str) -> bytes:
    """The message's bytes: Redis's own for text read from it (surrogateescape), and never an error for a
    lone surrogate that is not one of those (a caller's text)."""
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogatepass")


def _sha(raw: str) -> str:
    return hashlib.sha256(_raw_bytes(raw)).hexdigest()


def _storable(raw: str) -> str:
    """The raw text as the ledger can hold it: bytes that are not UTF-8 and NUL (which PostgreSQL text
    cannot hold) become replacement characters. A message set aside must not fail the tick's write."""
    return _raw_bytes(raw).decode("utf-8", "replace").replace("\x00", "\ufffd")


def _parse(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The message, or why it is set aside.

    orjson parses a tick's thousands of messages ~4x faster than ``json``; a message it refuses or
    that breaks a rule is parsed again by ``json``, so what is set aside, and the reason, stay exactly
    as ``json`` gives them (orjson reads an integer beyond 64 bits as a float, ``json`` as an int).
    """
    try:
        message = orjson.loads(raw)  # refuses text holding a lone surrogate: only "\\u" escapes can hold one
        if not settlement_problems(message, texts="\\u" in raw):
            return message, None
    except ValueError:
        pass
    try:  # ASCII text parses as its bytes would; other text as its bytes (not UTF-8: not JSON)
        message = json.loads(raw if raw.isascii() else raw.encode("utf-8", "surrogateescape"))
    except ValueError as error:
        return None, f"not JSON: {error}"
    problems = settlement_problems(message)
    return (message, None) if not problems else (None, "; ".join(problems))


def _settled_values(row: dict[str, Any], message: dict[str, Any], now: float, policy: RetryPolicy,
                    settled_by: str) -> dict[str, Any]:
    """The columns a settlement sets, including when (if ever) the claim is retried by itself."""
    status = message["status"]
    values = {"status": status, "settled_by": settled_by, "reward_amount": message["reward_amount"],
              "tx_hash": message.get("tx_hash"), "block_number": message.get("block_number"),
              "gas_used": None if message.get("gas_used") is None else str(message["gas_used"]),
              "error": message.get("error"), "settled_at": message["settled_at"], "updated_at": now,
              "next_retry_at": None, "error_retries": row["error_retries"]}
    if status == ERROR:
        permanent = any(marker in (message.get("error") or "") for marker in PERMANENT_ERRORS)
        if not permanent and row["error_retries"] < policy.max_error_retries:
            values["next_retry_at"] = now + policy.error_retry_base_seconds * 2 ** row["error_retries"]
            values["error_retries"] = row["error_retries"] + 1
    elif status == BUDGET_BLOCKED and policy.budget_retry_seconds is not None:
        values["next_retry_at"] = now + policy.budget_retry_seconds
    return values


def apply_settlements(engine: Any, raws: Sequence[str], *, now: float | None = None,
                      policy: RetryPolicy = RetryPolicy(), on_changes: OnChanges | None = None,
                      settled_by: str = SETTLED_BY_RELAYER) -> ApplyReport:
    """Apply settlement messages (raw JSON text) in one transaction; idempotent.

    A message seen before (same bytes) is skipped; a malformed one, or one for an unknown
    claim or another attestation, is logged as ``rejected`` with the reason. A settlement
    for a final claim is logged as ``unchanged``.
    """
    now = time.time() if now is None else now
    report = ApplyReport()
    with engine.begin() as connection:
        shas = [_sha(raw) for raw in raws]
        dialect = engine.dialect.name
        seen = set(connection.execute(select(claim_settlements.c.message_sha256).where(
            key_in(claim_settlements.c.message_sha256, shas, dialect))).scalars()) if shas else set()
        parsed = []
        for raw, sha in zip(raws, shas):
            if sha in seen:
                report.duplicates += 1
                continue
            seen.add(sha)
            message, problem = _parse(raw)
            parsed.append((raw, sha, message, problem))
        keys = [m["idempotency_key"] for _, _, m, _ in parsed if m]
        rows = {}  # each claim as a dict of its columns: cheap to build 10,000 times, changed below as it is settled
        if keys:
            query = select(*(claims.c[name] for name in _SETTLING)).where(
                key_in(claims.c.idempotency_key, keys, dialect))
            rows = {row[0]: dict(zip(_SETTLING, row)) for row in fetch_all(connection, query)}
        current = _current_message_ids(connection, [m["idempotency_key"] for _, _, m, _ in parsed
                                                    if m and "message_id" in m], dialect)
        updates, log = {}, []
        for raw, sha, message, problem in parsed:
            row = rows.get(message["idempotency_key"]) if message else None
            if message and row is None:
                problem = f"no claim with idempotency key {message['idempotency_key']}"
            elif message and row["attestation_hash"] != message["attestation_hash"]:
                problem = f"attestation_hash {message['attestation_hash']} is not the claim's {row['attestation_hash']}"
            key, status = (message["idempotency_key"], message["status"]) if message else (None, None)
            if problem:
                report.rejected.append((raw, problem))
                log.append((sha, key, status, "rejected", problem, _storable(raw), now))
                continue
            superseded = superseded_reason(message, message_id=current.get(key), deadline=row["deadline"])
            if superseded and status not in FINAL:  # it answers one signed message, not the current one
                superseded += ": recorded, nothing changed"
                report.superseded.append((raw, superseded))
                log.append((sha, key, status, "superseded", superseded, _storable(raw), now))
                continue
            if row["status"] in FINAL or row["status"] == status:
                report.unchanged += 1
                log.append((sha, key, status, "unchanged", f"claim already {row['status']}", _storable(raw), now))
                continue
            values = _settled_values(row, message, now, policy, settled_by)
            updates[key] = values  # a claim settled twice in this batch is written once, with its last values
            report.changes.append(ClaimChange(key, row["partition_key"], row["token_id"], row["model_id_uint"],
                                              row["attestation_hash"], row["eval_id"], row["model_id"], row["status"],
                                              status, message))
            if superseded:  # minted, no_delta, replay: the key is spent on chain, whichever message spent it
                superseded += (": applied all the same: the key is spent on chain, and each message signed "
                               "under it carries the same evidence")
            log.append((sha, key, status, "applied", superseded, None, now))  # its fields live in the claim row
            row.update(values)  # a second message for this claim in the same batch sees it
        # every settlement sets the same columns: one UPDATE per tick, each claim once
        if updates:
            write_many(connection, claims, list(next(iter(updates.values()))),
                       [(*values.values(), key) for key, values in updates.items()], key="idempotency_key")
        write_many(connection, claim_settlements, _LOG_COLUMNS, log)
        if on_changes is not None and report.changes:
            on_changes(connection, report.changes)
    return report


def _current_message_ids(connection: Any, keys: Sequence[str], dialect: str) -> dict[str, Any]:
    """The ``message_id`` of each key's current signed message (only read for settlements that name one)."""
    if not keys:
        return {}
    query = select(claim_messages.c.idempotency_key, claim_messages.c.message).where(
        key_in(claim_messages.c.idempotency_key, keys, dialect))
    return {key: orjson.loads(text).get("message_id") for key, text in connection.execute(query).all()}


def settle_locally(engine: Any, idempotency_key: str, *, now: float | None = None) -> ApplyReport:
    """The embedded default has no relayer: a recorded claim settles at once as ``minted``."""
    now = time.time() if now is None else now
    row = get_claim(engine, idempotency_key)
    if row is None or row.status != RECORDED:
        return ApplyReport(unchanged=int(row is not None))
    from datetime import datetime, timezone

    message = settlement_message(json.loads(row.message), MINTED,
                                 settled_at=datetime.fromtimestamp(now, timezone.utc).isoformat(),
                                 error=None)
    return apply_settlements(engine, [json.dumps(message, sort_keys=True)], now=now, settled_by=SETTLED_BY_LOCAL)


def promote_due_retries(engine: Any, *, now: float | None = None) -> list[ClaimChange]:
    """Claims whose automatic retry is due go back to ``recorded`` as a new publish attempt;
    one whose signature has expired stays, with the reason, for the operator."""
    now = time.time() if now is None else now
    with engine.begin() as connection:
        due = connection.execute(select(claims).where(and_(claims.c.status.in_(list(RETRYABLE)),
                                                           claims.c.next_retry_at <= now))).all()
        return [change for row in due if (change := _requeue(connection, row, now)) is not None]


def _requeue(connection: Any, row: Any, now: float, message: dict[str, Any] | None = None) -> ClaimChange | None:
    deadline = message["deadline"] if message else row.deadline
    if deadline <= now:
        connection.execute(update(claims).where(claims.c.idempotency_key == row.idempotency_key).values(
            next_retry_at=None, updated_at=now,
            error=f"not re-published: its signature expired at {deadline}; re-sign it: re-materialize the "
                  "attestation partition (it re-signs the same claim and queues it again), or pass a freshly "
                  f"signed message to `hokusai claims retry {row.idempotency_key} --message mint_request.json`"))
        return None
    values = {"status": RECORDED, "attempt": row.attempt + 1, "next_retry_at": None, "updated_at": now}
    if message:
        values["deadline"] = message["deadline"]
        connection.execute(update(claim_messages).where(claim_messages.c.idempotency_key == row.idempotency_key)
                           .values(message=_message_text(message)))
    connection.execute(update(claims).where(claims.c.idempotency_key == row.idempotency_key).values(**values))
    return _change(row, row.status, RECORDED)


def retry_claim(engine: Any, idempotency_key: str, message: dict[str, Any] | None = None,
                *, now: float | None = None) -> ClaimChange:
    """The operator's retry of a ``budget_blocked`` (after a top-up) or ``error`` claim: publish it
    again, optionally as a freshly signed ``message`` for the same attestation (a later deadline)."""
    from hokusai.settlement.relayer_rules import mint_request_problems

    now = time.time() if now is None else now
    with engine.begin() as connection:
        row = connection.execute(select(claims).where(claims.c.idempotency_key == idempotency_key)).one_or_none()
        if row is None:
            raise UnknownClaimError(f"no claim with idempotency key {idempotency_key}")
        if row.status not in RETRYABLE:
            raise ValueError(f"claim {idempotency_key} is {row.status}: only budget_blocked or error claims "
                             "are retried")
        if message is not None:
            if (message.get("idempotency_key"), message.get("attestation_hash")) != (
                    row.idempotency_key, row.attestation_hash):
                raise ValueError("the new message is for another claim (idempotency key or attestation differ)")
            problems = mint_request_problems(message)
            if problems:
                raise ValueError("the new message would be refused: " + "; ".join(problems))
        change = _requeue(connection, row, now, message)
        if change is None:
            raise ValueError(f"claim {idempotency_key}'s signature has expired: pass a freshly signed message")
        return change
