"""The chain of a token's champions, kept in the platform's database.

Link 0 (genesis) is the baseline trained on the token's base data. Each accepted
contribution appends a link: its model was trained on the parent's training set
plus the contribution's new rows, and its DeltaOne was measured against the
parent. The head (the last active link) is the champion new contributions build
on. Appending is a compare-and-set on the head: of two contributions measured
against the same head, the first to append wins and the other is told the head
moved, so it is re-based (re-evaluated on the new head) instead of forking the
lineage. A link whose claim does not settle is rolled back; the links built on it
are orphaned and their contributions re-based.

States: ``genesis``; ``pending`` (claim signed, not settled); ``minted`` (settled on
chain); ``rolled_back`` / ``orphaned`` (no longer part of the chain).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hokusai.settlement.database import METADATA, key_in, ledger_engine, schema_upgrade

GENESIS, PENDING, MINTED, ROLLED_BACK, ORPHANED = "genesis", "pending", "minted", "rolled_back", "orphaned"
ACTIVE_STATES = (GENESIS, PENDING, MINTED)

metadata = METADATA  # the platform's one database: the claims outbox lives beside the chain

heads = Table(
    "chain_heads", metadata,
    Column("token_id", String(64), primary_key=True),
    Column("head_position", Integer, nullable=False),
    Column("head_commitment", String(66), nullable=False),
)

links = Table(
    "chain_links", metadata,
    Column("link_id", Integer, primary_key=True, autoincrement=True),
    Column("token_id", String(64), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("commitment", String(66), nullable=False),
    Column("parent_commitment", String(66)),
    Column("partition_key", Text, index=True),
    Column("eval_id", String(64)),
    Column("idempotency_key", String(66), unique=True),
    Column("rows_root", String(66), nullable=False),
    Column("rows_count", Integer, nullable=False),
    Column("rows_path", Text),
    Column("model_uri", Text, nullable=False),
    Column("run_id", String(64)),
    Column("model_version", Integer),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("note", Text),
)

LINKS_FILLFACTOR = 50  # percent of each PostgreSQL page filled by inserts


@schema_upgrade
def _links_leave_room_for_hot_updates(connection: Any) -> None:
    """On PostgreSQL, link pages keep half their room free (``fillfactor``), so a link's change of state
    (pending → minted, a model version) is a HOT update: its new version goes on the same page and none
    of the table's four indexes is written (none holds a column that changes). On full pages each such
    update wrote all four: a tick's 10,000 links settled took 0.43–0.57 s of server time, 0.09 s with
    room. Only pages filled after it are affected; SQLite has no such setting."""
    if connection.dialect.name != "postgresql":
        return
    options = connection.exec_driver_sql(
        "SELECT reloptions FROM pg_class WHERE oid = 'chain_links'::regclass").scalar() or []
    if f"fillfactor={LINKS_FILLFACTOR}" not in options:
        connection.exec_driver_sql(f"ALTER TABLE chain_links SET (fillfactor = {LINKS_FILLFACTOR})")


rebases = Table(
    "chain_rebases", metadata,
    Column("partition_key", Text, primary_key=True),
    Column("token_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_at", String(40), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
)


@dataclass(frozen=True)
class ChainLink:
    """One link: a model, the rows it added to its parent's training set, its state."""

    token_id: str
    position: int
    state: str
    commitment: str
    rows_root: str
    rows_count: int
    model_uri: str  # where the model is logged (loaded, after checking its commitment, before registration)
    run_id: str | None = None
    parent_commitment: str | None = None
    partition_key: str | None = None
    eval_id: str | None = None
    idempotency_key: str | None = None
    rows_path: str | None = None
    model_version: int | None = None
    link_id: int | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "state": self.state, "commitment": self.commitment,
                "rows_root": self.rows_root, "rows_count": self.rows_count,
                "partition_key": self.partition_key, "model_version": self.model_version}


@dataclass(frozen=True)
class AppendResult:
    """Whether the link joined the chain, and the head after the attempt."""

    appended: bool
    head: ChainLink
    already: bool = False  # the same claim was appended by an earlier run


def now_iso() -> str:
    """The time a ledger row records: UTC, to the second, ISO 8601 (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _link(row: Any) -> ChainLink:
    values = row._mapping
    return ChainLink(**{name: values[name] for name in (
        "token_id", "position", "state", "commitment", "rows_root", "rows_count", "model_uri", "run_id",
        "parent_commitment", "partition_key", "eval_id", "idempotency_key", "rows_path", "model_version",
        "link_id", "note")})


class Chain:
    """The lineage chains of every token, in one database (``url``: SQLAlchemy URL)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = ledger_engine(url)

    # -- reading ----------------------------------------------------------------------
    def head(self, token_id: str) -> ChainLink | None:
        """The token's champion link, or None before its genesis."""
        with self.engine.connect() as conn:
            found = conn.execute(select(heads).where(heads.c.token_id == token_id)).first()
            if found is None:
                return None
            row = conn.execute(select(links).where(and_(
                links.c.token_id == token_id, links.c.position == found.head_position,
                links.c.commitment == found.head_commitment, links.c.state.in_(ACTIVE_STATES)))).first()
        if row is None:
            raise RuntimeError(f"chain of {token_id}: the head has no active link (database edited by hand?)")
        return _link(row)

    def active_links(self, token_id: str, up_to: int | None = None) -> list[ChainLink]:
        """The chain from genesis to the head (or to position ``up_to``), in order."""
        query = select(links).where(and_(links.c.token_id == token_id, links.c.state.in_(ACTIVE_STATES)))
        if up_to is not None:
            query = query.where(links.c.position <= up_to)
        with self.engine.connect() as conn:
            return [_link(row) for row in conn.execute(query.order_by(links.c.position))]

    def lineage_of(self, token_id: str, commitment: str) -> list[ChainLink]:
        """The active chain from genesis up to the link whose model is ``commitment``."""
        chain = self.active_links(token_id)
        for index, link in enumerate(chain):
            if link.commitment == commitment:
                return chain[:index + 1]
        raise LookupError(f"no active link of {token_id} has the model {commitment}")

    def link_for(self, partition_key: str) -> ChainLink | None:
        """The active link a contribution's evaluation appended, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(links).where(and_(
                links.c.partition_key == partition_key, links.c.state.in_(ACTIVE_STATES)))).first()
        return _link(row) if row is not None else None

    def link_by_key(self, idempotency_key: str) -> ChainLink | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(links).where(links.c.idempotency_key == idempotency_key)).first()
        return _link(row) if row is not None else None

    # -- writing ----------------------------------------------------------------------
    def start(self, genesis: ChainLink) -> tuple[ChainLink, bool]:
        """Record the token's genesis unless it has one; (the genesis in force, whether it is this one)."""
        now = now_iso()
        record = replace(genesis, position=0, state=GENESIS, parent_commitment=None)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(heads).values(token_id=record.token_id, head_position=0,
                                                  head_commitment=record.commitment))
                conn.execute(insert(links).values(**_values(record), created_at=now, updated_at=now))
        except IntegrityError:
            pass  # another evaluation crowned the token's genesis first
        existing = self.active_links(record.token_id, up_to=0)
        if not existing:
            raise RuntimeError(f"chain of {record.token_id} has a head but no genesis link")
        return existing[0], existing[0].commitment == record.commitment

    def append(self, link: ChainLink) -> AppendResult:
        """Make ``link`` the head if the head is still its parent (compare-and-set).

        The same claim appended again (a re-run of an accepted evaluation) is reported
        as already there; a head that moved on is reported with ``appended=False``. A claim
        rolled back (its signature expired) and re-evaluated on the same head rejoins in its row.
        """
        earlier = self.link_by_key(link.idempotency_key) if link.idempotency_key else None
        if earlier is not None and earlier.state in ACTIVE_STATES:
            return AppendResult(True, earlier, already=True)
        now = now_iso()
        # Write first: in SQLite a transaction that reads before it writes can lose its
        # snapshot to another writer; an UPDATE takes the write lock and waits its turn.
        with self.engine.begin() as conn:
            moved = conn.execute(update(heads).where(and_(
                heads.c.token_id == link.token_id, heads.c.head_commitment == link.parent_commitment,
            )).values(head_position=heads.c.head_position + 1, head_commitment=link.commitment)).rowcount == 1
            if moved:
                position = conn.execute(select(heads.c.head_position).where(
                    heads.c.token_id == link.token_id)).scalar_one()
                record = replace(link, position=position, state=PENDING)
                if earlier is not None:  # rolled back, re-evaluated on the same head: the same claim rejoins
                    conn.execute(update(links).where(links.c.link_id == earlier.link_id).values(
                        **_values(record), updated_at=now))
                else:
                    conn.execute(insert(links).values(**_values(record), created_at=now, updated_at=now))
                conn.execute(rebases.delete().where(rebases.c.partition_key == link.partition_key))
        head = self.head(link.token_id)
        if head is None:
            raise RuntimeError(f"token {link.token_id} has no genesis: train its baseline first")
        return AppendResult(moved, head)

    def set_model_version(self, idempotency_key_or_commitment: str, token_id: str, version: int) -> None:
        """Record the registry version of a link's model (genesis: by commitment)."""
        with self.engine.begin() as conn:
            conn.execute(update(links).where(and_(
                links.c.token_id == token_id, links.c.state.in_(ACTIVE_STATES),
                (links.c.idempotency_key == idempotency_key_or_commitment)
                | (links.c.commitment == idempotency_key_or_commitment),
            )).values(model_version=version, updated_at=now_iso()))

    def settle(self, idempotency_key: str, state: str, note: str | None = None) -> ChainLink | None:
        """Mark a pending link ``minted`` (its claim settled on chain)."""
        with self.engine.begin() as conn:
            conn.execute(update(links).where(and_(links.c.idempotency_key == idempotency_key,
                                                  links.c.state == PENDING))
                         .values(state=state, note=note, updated_at=now_iso()))
        return self.link_by_key(idempotency_key)

    def settle_many(self, idempotency_keys: list[str], note: str) -> int:
        """Mark many pending links ``minted`` in one statement (a settlement tick's batch)."""
        now = now_iso()
        if not idempotency_keys:
            return 0
        with self.engine.begin() as conn:
            done = conn.execute(update(links).where(and_(
                key_in(links.c.idempotency_key, idempotency_keys, self.engine.dialect.name), links.c.state == PENDING))
                .values(state=MINTED, note=note, updated_at=now)).rowcount
        return done

    def roll_back(self, idempotency_key: str, reason: str) -> list[ChainLink]:
        """Take a link whose claim did not settle out of the chain, with every link built on it.

        The head goes back to the link's parent. Returns the links removed after it
        (orphaned), whose contributions must be re-based; a re-base is requested for
        each of them. The rolled-back contribution itself is not re-based here: whether
        it is retried depends on why its claim failed (the settlement handler decides).
        """
        link = self.link_by_key(idempotency_key)
        if link is None:
            return []
        now = now_iso()
        with self.engine.begin() as conn:
            taken = conn.execute(update(links).where(and_(
                links.c.link_id == link.link_id, links.c.state.in_((PENDING, MINTED)),
            )).values(state=ROLLED_BACK, note=reason, updated_at=now)).rowcount == 1
            if not taken:
                return []  # already rolled back or orphaned
            later = [_link(row) for row in conn.execute(select(links).where(and_(
                links.c.token_id == link.token_id, links.c.position > link.position,
                links.c.state.in_(ACTIVE_STATES))).order_by(links.c.position))]
            for orphan in later:
                conn.execute(update(links).where(links.c.link_id == orphan.link_id).values(
                    state=ORPHANED, note=f"built on {link.partition_key}, rolled back: {reason}", updated_at=now))
                self._request_rebase(conn, orphan.partition_key, orphan.token_id,
                                     f"its parent {link.partition_key} was rolled back ({reason})")
            conn.execute(update(heads).where(heads.c.token_id == link.token_id).values(
                head_position=link.position - 1, head_commitment=link.parent_commitment))
        return later

    # -- re-basing --------------------------------------------------------------------
    def request_rebase(self, partition_key: str, token_id: str, reason: str) -> None:
        """Ask for ``partition_key`` to be re-evaluated on the current head."""
        with self.engine.begin() as conn:
            self._request_rebase(conn, partition_key, token_id, reason)

    @staticmethod
    def _request_rebase(conn, partition_key: str, token_id: str, reason: str) -> None:
        """Insert or refresh the request (an UPDATE first: write before read, see ``append``)."""
        refreshed = conn.execute(update(rebases).where(rebases.c.partition_key == partition_key).values(
            reason=reason, attempts=rebases.c.attempts + 1)).rowcount
        if not refreshed:
            conn.execute(insert(rebases).values(partition_key=partition_key, token_id=token_id, reason=reason,
                                                requested_at=now_iso(), attempts=0))

    def rebase_requested(self, partition_key: str) -> str | None:
        """The reason a re-base of ``partition_key`` is pending, or None."""
        with self.engine.connect() as conn:
            found = conn.execute(select(rebases.c.reason).where(rebases.c.partition_key == partition_key)).first()
        return found.reason if found is not None else None

    def pending_rebases(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(rebases).order_by(rebases.c.requested_at))]

    def close_rebase(self, partition_key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(rebases.delete().where(rebases.c.partition_key == partition_key))


def _values(link: ChainLink) -> dict[str, Any]:
    return {name: getattr(link, name) for name in (
        "token_id", "position", "state", "commitment", "rows_root", "rows_count", "model_uri", "run_id",
        "parent_commitment", "partition_key", "eval_id", "idempotency_key", "rows_path", "model_version", "note")}
