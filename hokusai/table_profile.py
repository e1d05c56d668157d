"""Null and distinct counts of an Arrow table's columns, as pandas counts them after ``to_pandas``.

Arrow keeps a null count per column, so the manifest's ``nulls`` cost nothing
instead of ~0.5 s of ``isna`` over a million-row frame. pandas also counts NaN as
missing, so a float column adds its NaNs. Distinct counts of text columns (~2 s of
pandas hashing at 1M rows) are taken by Arrow's hash kernels on helper threads,
which release the GIL, while pandas counts the other columns; text compares the
same in both, while numbers do not (-0.0/0.0, NaN), so those stay with pandas.
Only types that reach the frame unchanged are counted here; for any other (None)
pandas counts.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc


def column_nulls(column: pa.ChunkedArray) -> int | None:
    """The missing values pandas will see in this column, or None to let pandas count."""
    kind = column.type
    if pa.types.is_floating(kind):
        return column.null_count + int(pc.sum(pc.is_nan(column)).as_py() or 0)
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
            or pa.types.is_integer(kind) or pa.types.is_null(kind)):
        return column.null_count
    return None


def table_nulls(table: pa.Table) -> list[int | None]:
    """``column_nulls`` of every column, in order."""
    return [column_nulls(column) for column in table.columns]


def text_distinct_counts(table: pa.Table) -> Future:
    """Soon, per column: its distinct non-null strings (``nunique``), or None if not text."""
    def count(column: pa.ChunkedArray) -> int | None:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            return int(pc.count_distinct(column, mode="only_valid").as_py())
        return None

    def all_columns() -> list[int | None]:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="distinct") as threads:
            return list(threads.map(count, table.columns))

    helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distinct")
    future = helper.submit(all_columns)
    helper.shutdown(wait=False)
    return future
