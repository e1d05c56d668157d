"""Data commitments: a Merkle root over a table's rows, with single-row inclusion proofs.

``sha256-rows-merkle-v1``: each row is written as one canonical CSV line, as
Apache Arrow's CSV writer writes it (the columns in the committed order, no
header, shortest round-trip numbers, quotes only where needed); a leaf is SHA-256(0x00 || line as UTF-8) and a parent is
SHA-256(0x01 || left || right), the prefixes keeping a leaf from ever passing as
a parent; an odd last node is paired with itself. A proof lists, from the leaf up,
each sibling and whether it sits on the left, so one row can be shown to be part
of a committed contribution without revealing any other row.
"""

from __future__ import annotations

import hashlib
import io
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hokusai.workers import Task, pool_for

if TYPE_CHECKING:  # worker processes import this module: no pandas for them
    import pandas as pd

from hokusai.rules.attestation import ROWS_COMMITMENT_SCHEME  # named where every attestation pins it
_LEAF, _NODE = b"\x00", b"\x01"


def canonical_row_lines(frame: pd.DataFrame) -> list[bytes]:
    """Each row as its canonical CSV line, UTF-8, without the newline.

    Arrow's writer is used because it is five times faster than pandas' on a
    million rows; a text cell holding a newline is quoted, so rows split cleanly
    only when no cell does — such tables are committed via their quoted form.
    """
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    if frame.empty:
        return []
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buffer = io.BytesIO()
    arrow_csv.write_csv(table, buffer, arrow_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return _split_records(buffer.getvalue(), rows=len(frame))


def _split_records(data: bytes, rows: int | None = None) -> list[bytes]:
    """Split CSV bytes into records, keeping newlines that sit inside quotes.

    With ``rows`` known, as many lines as rows means no cell holds a newline, and
    the quote counting (a Python step per line) is skipped.
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if b'"' not in data or len(lines) == rows:
        return lines
    records, pending = [], None
    for line in lines:
        pending = line if pending is None else pending + b"\n" + line
        if pending.count(b'"') % 2 == 0:
            records.append(pending)
            pending = None
    return records


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(_LEAF + line).digest()


def _parent(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _leaves(lines: list[bytes]) -> list[bytes]:
    sha256 = hashlib.sha256  # a million calls: the loop stays in one comprehension
    return [sha256(_LEAF + line).digest() for line in lines]


def _next_level(level: list[bytes]) -> list[bytes]:
    if len(level) % 2:
        level = level + [level[-1]]
    sha256, pairs = hashlib.sha256, iter(level)
    return [sha256(_NODE + left + right).digest() for left, right in zip(pairs, pairs)]


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        levels.append(_next_level(levels[-1]))
    return levels


def rows_root(lines: list[bytes]) -> str:
    """0x + hex root over the canonical row lines (only the current level is kept)."""
    if not lines:
        raise ValueError("a data commitment needs at least one row")
    level = _leaves(lines)
    while len(level) > 1:
        level = _next_level(level)
    return "0x" + level[0].hex()


def frame_root(frame: pd.DataFrame) -> str:
    return rows_root(canonical_row_lines(frame))


@dataclass(frozen=True)
class InclusionProof:
    scheme: str
    root: str
    index: int
    row: str  # the canonical line, UTF-8 decoded
    path: list[tuple[str, str]]  # (sibling hex, "left" | "right")

    def as_dict(self) -> dict:
        return {"scheme": self.scheme, "root": self.root, "index": self.index, "row": self.row,
                "path": [{"sibling": s, "side": side} for s, side in self.path]}


def prove_row(lines: list[bytes], index: int) -> InclusionProof:
    """The inclusion proof of row ``index``."""
    if not 0 <= index < len(lines):
        raise IndexError(f"row {index} does not exist (the table has {len(lines)} rows)")
    levels = _levels(_leaves(lines))
    path, position = [], index
    for level in levels[:-1]:
        sibling = position ^ 1
        sibling_hash = level[sibling] if sibling < len(level) else level[position]
        path.append(("0x" + sibling_hash.hex(), "left" if sibling < position else "right"))
        position //= 2
    return InclusionProof(ROWS_COMMITMENT_SCHEME, "0x" + levels[-1][0].hex(), index,
                          lines[index].decode("utf-8"), path)


def verify_row(proof: dict) -> bool:
    """True if the proof's row hashes up to the proof's root."""
    node = leaf_hash(proof["row"].encode("utf-8"))
    for step in proof["path"]:
        sibling = bytes.fromhex(step["sibling"][2:])
        node = _parent(sibling, node) if step["side"] == "left" else _parent(node, sibling)
    return "0x" + node.hex() == proof["root"]


ROWS_FILE = "clean_rows.csv"


def write_rows_file(path: Path, columns: list[str], lines: list[bytes]) -> None:
    """The committed rows: a header line naming the columns, then one canonical line per row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        handle.write(",".join(columns).encode("utf-8") + b"\n")
        if lines:
            handle.write(b"\n".join(lines))
            handle.write(b"\n")
    temporary.replace(path)


def subtree_root(data: bytes, rows: int, height: int | None) -> bytes:
    """The root of one chunk's subtree from its CSV bytes (``rows`` lines).

    With ``height`` set, the chunk is one of several aligned on 2**height rows, and
    exactly ``height`` levels are hashed: a short last chunk's lone node pairs with
    itself as it would in the whole tree. The chunk roots then form that tree's
    level ``height``, so the root is the same however the rows were chunked.
    """
    level = _leaves(_split_records(data, rows=rows))
    if height is None:  # the only chunk: its root is the table's
        while len(level) > 1:
            level = _next_level(level)
    else:
        for _ in range(height):
            level = _next_level(level)
    return level[0]


def commit_rows(frame: pd.DataFrame, rows_file: Path | None = None, chunk_rows: int = 1 << 17,
                min_parallel_rows: int | None = None) -> str:
    """``rows_root(canonical_row_lines(frame))``, writing the rows file (``write_rows_file``) on the way.

    The table is cut into chunks of ``chunk_rows`` (a power of two) rows. Arrow writes
    the next two chunks' lines on helper threads (its CSV writer releases the GIL); each chunk
    goes to the rows file as written, and its subtree is hashed in a worker process
    (``hokusai.workers``) when the table has at least ``min_parallel_rows`` rows
    (default ``hokusai.workers.PARALLEL_MIN_ROWS``), here otherwise. A chunk's CSV is the
    same bytes as that part of the whole table's, so the root and the file are unchanged.
    """
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    if frame.empty:
        raise ValueError("a data commitment needs at least one row")
    if chunk_rows < 1 or chunk_rows & (chunk_rows - 1):
        raise ValueError(f"chunk_rows must be a power of two, got {chunk_rows}")
    pool = pool_for(len(frame), min_parallel_rows)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = arrow_csv.WriteOptions(include_header=False, quoting_style="needed")
    height = chunk_rows.bit_length() - 1 if len(table) > chunk_rows else None

    def written(start: int) -> bytes:
        buffer = io.BytesIO()
        arrow_csv.write_csv(table.slice(start, chunk_rows), buffer, options)
        return buffer.getvalue()

    roots: list[Task] = []
    with ExitStack() as stack:
        handle = None
        if rows_file is not None:
            rows_file.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(open(rows_file.with_suffix(".tmp"), "wb"))
            handle.write(",".join(map(str, frame.columns)).encode("utf-8") + b"\n")
        writers = stack.enter_context(ThreadPoolExecutor(max_workers=2, thread_name_prefix="row-lines"))
        starts = range(0, len(table), chunk_rows)
        pending = deque(writers.submit(written, start) for start in starts[:2])
        for index, start in enumerate(starts):
            data = pending.popleft().result()
            if index + 2 < len(starts):
                pending.append(writers.submit(written, starts[index + 2]))
            roots.append(Task(pool, subtree_root, data, min(chunk_rows, len(table) - start), height))
            if handle is not None:
                handle.write(data)
    if rows_file is not None:
        rows_file.with_suffix(".tmp").replace(rows_file)
    level = [root.result() for root in roots]
    while len(level) > 1:
        level = _next_level(level)
    return "0x" + level[0].hex()


def read_rows_file(path: Path) -> list[bytes]:
    """The canonical lines of a rows file (its header dropped)."""
    return _split_records(Path(path).read_bytes())[1:]
