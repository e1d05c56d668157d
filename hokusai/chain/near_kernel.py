"""The compiled loops behind ``near_search``: cell histograms, key bits, the bucket tables and the search.

The loops are C (``_near_kernel.c``), compiled ahead of time by ``pip install -e .``
(``scripts/setup``) and called through ctypes, which releases the GIL during a call (the
search's two threads run at once). A fresh process loads them in under 10 ms (ctypes included): no
JIT to import, nothing compiled at run time. Each wrapper checks its arrays' dtype, layout
and shape before the call, so the C code only indexes within the buffers it is given.
Imported only when a search of 50,000 rows or more runs (``near_search``).
"""

from __future__ import annotations

import ctypes

import numpy as np

_BUILD_HINT = "the near-copy kernel is not built: run scripts/setup (pip install -e ./sdk -e '.[test]')"
_ERRORS = {-1: "a cell outside the histogram or a feature outside the cells", -2: "a query position out of range",
           -3: "a bucket table inconsistent with the training rows"}

_i64, _ptr = ctypes.c_int64, ctypes.c_void_p


def _load() -> ctypes.CDLL:
    """The compiled library, with its functions' argument types declared."""
    try:
        from hokusai.chain import _near_kernel
    except ImportError as missing:
        raise RuntimeError(f"{_BUILD_HINT} ({missing})") from None
    try:
        library = ctypes.CDLL(_near_kernel.__file__)
    except OSError as unloadable:
        raise RuntimeError(f"{_BUILD_HINT} ({unloadable})") from None
    signatures = {
        "near_cell_counts": [_ptr, _i64, _i64, _i64, _i64, _ptr],
        "near_key_bits": [_ptr, _i64, _i64, _ptr, _ptr, _ptr, _i64, _ptr, _ptr],
        "near_bucket_count": [_ptr, _ptr, _i64, _i64],
        "near_bucket_fill": [_ptr, _ptr, _i64, _i64, _ptr, _i64, ctypes.c_uint64],
        "near_search": [_ptr, _i64, _i64, _ptr, _ptr, _ptr, _ptr, _i64, _ptr, _i64, _i64, _ptr, _ptr, _ptr, _ptr,
                        _ptr, _ptr, _ptr, _ptr, _ptr, _i64, _ptr, _ptr, _ptr, _ptr, _i64, _i64, _ptr, _ptr],
    }
    for name, arguments in signatures.items():
        if not hasattr(library, name):  # a build of an older source: scripts/setup rebuilds it
            raise RuntimeError(f"{_BUILD_HINT} (an older build lacks {name})")
        function = getattr(library, name)
        function.argtypes, function.restype = arguments, _i64
    return library


_LIB = _load()


def _array(values, dtype, ndim: int) -> np.ndarray:
    """``values`` as a C-contiguous array of ``dtype`` and ``ndim`` dimensions (a copy only if it is not one)."""
    array = np.ascontiguousarray(values, dtype=dtype)
    if array.ndim != ndim:
        raise ValueError(f"near-copy kernel: expected a {ndim}-dimensional array, got shape {array.shape}")
    return array


def _output(values: np.ndarray, dtype, length: int) -> None:
    """An array the kernel writes into: it must be the caller's own buffer, of the right type and length."""
    if not (isinstance(values, np.ndarray) and values.dtype == dtype and values.ndim == 1
            and values.flags.c_contiguous and values.flags.writeable and len(values) >= length):
        raise ValueError(f"near-copy kernel: expected a writeable contiguous {np.dtype(dtype)} array of {length} items")


def _check(status: int) -> None:
    if status:
        raise ValueError(f"near-copy kernel: {_ERRORS.get(status, status)}")


def _at(array: np.ndarray) -> int:
    return array.ctypes.data


def cell_counts(cells, lowest: int, width: int) -> np.ndarray:
    """Per feature (a row of ``cells``), how many rows hold each cell value lowest..lowest + width - 1."""
    cells = _array(cells, np.int8, 2)
    counts = np.zeros((cells.shape[0], width), np.int64)
    _check(_LIB.near_cell_counts(_at(cells), cells.shape[0], cells.shape[1], int(lowest), int(width), _at(counts)))
    return counts


def key_bits(cells, features, thresholds, slack, wildcards: bool) -> tuple[np.ndarray, np.ndarray]:
    """(key, wildcard mask) per column of ``cells`` (features x rows): bit 63 - i is "cell >= threshold i";
    wild when the cell lies within D cells of the threshold (a neighbour may lie on either side)."""
    cells = _array(cells, np.int8, 2)
    features, thresholds, slack = (_array(a, np.int64, 1) for a in (features, thresholds, slack))
    if len(features) > 64 or len(thresholds) != len(features) or len(slack) != cells.shape[0]:
        raise ValueError("near-copy kernel, key_bits: at most 64 (feature, threshold) bits and one slack per feature")
    n = cells.shape[1]
    key, wild = np.empty(n, np.uint64), np.empty(n if wildcards else 0, np.uint64)
    _check(_LIB.near_key_bits(_at(cells), cells.shape[0], n, _at(features), _at(thresholds), _at(slack),
                              len(features), _at(key), _at(wild) if wildcards else None))
    return key, wild


def bucket_table(group, key, prefix: int) -> tuple[np.ndarray, np.uint64]:
    """The sorted rows' buckets by (group, first ``prefix`` key bits) in an open-addressing hash table:
    per slot the bucket, its first row and its last row + 1 (one cache line holds all three)."""
    group, key = _array(group, np.int64, 1), _array(key, np.uint64, 1)
    if len(group) != len(key) or not 0 < prefix < 64:
        raise ValueError("near-copy kernel, bucket_table: one group per key and a prefix of 1..63 bits")
    count = _LIB.near_bucket_count(_at(group), _at(key), len(key), prefix)
    size = 2
    while size < 2 * count:
        size *= 2
    shift = 64 - size.bit_length() + 1
    table = np.zeros((size, 3), np.uint64)  # (bucket, first, end): end 0 marks an empty slot
    _check(_LIB.near_bucket_fill(_at(group), _at(key), len(key), prefix, _at(table), size, shift))
    return table, np.uint64(shift)


def search(queries, train_group, train_key, train_key2, train_cells, train_float, query_group, query_key, query_wild,
           query_key2, query_wild2, query_cells, query_float, slack, float_bounds, prefix, tables, offsets, shifts,
           levels, most_wildcards, found, work) -> None:
    """Per query in ``queries``: is a training row within bounds? Sets ``found``; adds (probes, rows, pairs)
    to ``work``.

    The method is ``near_search``'s (its docstring, "Compiled search"); the loop is
    ``near_search`` in ``_near_kernel.c``. Every shape is checked here against the others.
    """
    queries, train_group, query_group = (_array(a, np.int64, 1) for a in (queries, train_group, query_group))
    train_key, train_key2, query_key, query_wild, query_key2, query_wild2 = (
        _array(a, np.uint64, 1) for a in (train_key, train_key2, query_key, query_wild, query_key2, query_wild2))
    train_cells, query_cells = _array(train_cells, np.int8, 2), _array(query_cells, np.int8, 2)
    train_float, query_float = _array(train_float, np.float64, 2), _array(query_float, np.float64, 2)
    slack, float_bounds = _array(slack, np.int64, 1), _array(float_bounds, np.float64, 1)
    tables, offsets = _array(tables, np.uint64, 2), _array(offsets, np.int64, 1)
    shifts, levels = _array(shifts, np.uint64, 1), _array(levels, np.int64, 1)
    n, m = len(train_key), len(query_key)
    cell_count, float_count = train_cells.shape[1], train_float.shape[1]
    if not (len(train_group) == len(train_key2) == train_cells.shape[0] == train_float.shape[0] == n
            and len(query_group) == len(query_wild) == len(query_key2) == len(query_wild2) == m
            and query_cells.shape == (m, cell_count) and query_float.shape == (m, float_count)
            and len(slack) == cell_count and len(float_bounds) == float_count):
        raise ValueError("near-copy kernel, search: the training rows' and the queries' arrays disagree in length "
                         "or width")
    _check_levels(prefix, tables, offsets, shifts, levels)
    _output(found, np.bool_, m)
    _output(work, np.int64, 3)
    _check(_LIB.near_search(
        _at(queries), len(queries), n, _at(train_group), _at(train_key), _at(train_key2), _at(train_cells), cell_count,
        _at(train_float), float_count, m, _at(query_group), _at(query_key), _at(query_wild), _at(query_key2),
        _at(query_wild2), _at(query_cells), _at(query_float), _at(slack), _at(float_bounds), int(prefix), _at(tables),
        _at(offsets), _at(shifts), _at(levels), len(levels), int(most_wildcards), _at(found), _at(work)))


def _check_levels(prefix: int, tables: np.ndarray, offsets: np.ndarray, shifts: np.ndarray,
                  levels: np.ndarray) -> None:
    """The joined tables: one per level (prefix lengths, the first ``prefix``, increasing, under 64 bits), each
    a power of two of slots within ``tables``, with a shift under 64."""
    sizes = np.diff(offsets)
    if not (tables.shape[1:] == (3,) and len(levels) >= 1 and len(offsets) == len(levels) + 1
            and len(shifts) == len(levels) and offsets[0] == 0 and offsets[-1] <= len(tables)
            and (sizes >= 1).all() and ((sizes & (sizes - 1)) == 0).all() and (shifts < 64).all()
            and levels[0] == prefix and 0 <= prefix < 64 and (np.diff(levels) > 0).all() and levels[-1] < 64):
        raise ValueError("near-copy kernel, search: malformed bucket tables (levels, offsets or shifts)")
