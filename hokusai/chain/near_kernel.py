"""The compiled loops behind ``near_search``: key bits, the bucket table and the search, per row.

Imported only when a near-copy search runs (numba costs ~0.5 s to import: a code
location must not pay that on start). Compiled once per machine: ``cache=True`` keeps
the machine code next to this file (``__pycache__``), so a fresh process only loads it.
Plain IEEE float64 arithmetic (no ``fastmath``): the float test is the rule's own.
"""

from __future__ import annotations

import numba
import numpy as np

_RUN = 64  # rows whose keys are tested at once
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the table index is the product's top bits


@numba.njit(cache=True, nogil=True)
def key_bits(cells, features, thresholds, slack, wildcards):
    """(key, wildcard mask) per column of ``cells`` (features x rows): bit 63 - i is "cell >= threshold i";
    wild when the cell lies within D cells of the threshold (a neighbour may lie on either side)."""
    n, count = cells.shape[1], len(features)
    key = np.zeros(n, np.uint64)
    wild = np.zeros(n if wildcards else 0, np.uint64)
    for i in range(count):
        row, t, d = cells[features[i]], thresholds[i], slack[features[i]]
        bit = np.uint64(63 - i)
        for r in range(n):
            c = np.int64(row[r])
            key[r] |= np.uint64(c >= t) << bit
            if wildcards:
                wild[r] |= np.uint64(t - d <= c < t + d) << bit
    return key, wild


@numba.njit(cache=True, nogil=True)
def cell_counts(cells, lowest, width):
    """Per feature (a row of ``cells``), how many rows hold each cell value lowest..lowest + width - 1."""
    counts = np.zeros((cells.shape[0], width), np.int64)
    for k in range(cells.shape[0]):
        row = cells[k]
        for r in range(len(row)):
            counts[k, np.int64(row[r]) - lowest] += 1
    return counts


def warm() -> None:
    """Load numba's machine code for the first kernels (and numba's own start, ~0.7 s in a fresh process)
    on tiny inputs of the search's types, so that ``near_search.preload_kernel`` can run it early."""
    cells = np.zeros((1, 1), np.int8)
    cell_counts(cells, -60, 121)
    index = np.zeros(1, np.int64)
    key_bits(cells, index, index, index, True)


@numba.njit(cache=True, nogil=True, inline="always")
def _bucket(group, key, prefix):
    """The bucket number: the group, then the key's first ``prefix`` bits (0 < prefix <= 32)."""
    return (np.uint64(group) << np.uint64(prefix)) | (key >> np.uint64(64 - prefix))


@numba.njit(cache=True, nogil=True)
def bucket_table(group, key, prefix):
    """The sorted rows' buckets by (group, first ``prefix`` key bits) in an open-addressing hash table:
    per slot the bucket, its first row and its last row + 1 (one cache line holds all three)."""
    n = len(key)
    count = 1 if n else 0
    for r in range(1, n):
        if group[r] != group[r - 1] or _bucket(group[r], key[r], prefix) != _bucket(group[r - 1], key[r - 1], prefix):
            count += 1
    size = 2
    while size < 2 * count:
        size *= 2
    shift = np.uint64(64 - int(np.log2(size)))
    table = np.zeros((size, 3), np.uint64)  # (bucket, first, end): end 0 marks an empty slot
    mask = size - 1
    start = 0
    for r in range(1, n + 1):
        if r < n and group[r] == group[r - 1] and \
                _bucket(group[r], key[r], prefix) == _bucket(group[r - 1], key[r - 1], prefix):
            continue
        bucket = _bucket(group[start], key[start], prefix)
        slot = np.int64((bucket * _MIX) >> shift)
        while table[slot, 2] != 0:
            slot = (slot + 1) & mask
        table[slot, 0], table[slot, 1], table[slot, 2] = bucket, start, r
        start = r
    return table, shift


@numba.njit(cache=True, nogil=True, inline="always")
def _find(table, shift, bucket):
    """(first row, last row + 1) of the bucket, (0, 0) when it is empty."""
    mask = len(table) - 1
    slot = np.int64((bucket * _MIX) >> shift)
    while table[slot, 2] != 0:
        if table[slot, 0] == bucket:
            return np.int64(table[slot, 1]), np.int64(table[slot, 2])
        slot = (slot + 1) & mask
    return np.int64(0), np.int64(0)


@numba.njit(cache=True, nogil=True, inline="always")
def _before(group, key, r, g, k):
    """Row r sorts before (g, k)."""
    return group[r] < g or (group[r] == g and key[r] < k)


@numba.njit(cache=True, nogil=True, inline="always")
def _lower_bound(group, key, g, k):
    lo, hi = 0, len(key)
    while lo < hi:
        mid = (lo + hi) >> 1
        if _before(group, key, mid, g, k):
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True, inline="always")
def _within(q, r, query_cells, train_cells, slack, query_float, train_float, float_bounds):
    """The pair passes: every cell within D (the rule itself for exact cells), then the rule in float64."""
    for f in range(train_cells.shape[1]):
        if abs(np.int64(query_cells[q, f]) - np.int64(train_cells[r, f])) > slack[f]:
            return False
    for f in range(train_float.shape[1]):
        if not abs(query_float[q, f] - train_float[r, f]) <= float_bounds[f]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def search(queries, train_group, train_key, train_key2, train_cells, train_float, query_group, query_key, query_wild,
           query_key2, query_wild2, query_cells, query_float, slack, float_bounds, prefix, tables, offsets, shifts,
           levels, most_wildcards, found, work):
    """Per query in ``queries``: is a training row within bounds? Sets ``found``; adds (probes, rows, pairs) to ``work``.

    A query probes every bucket its wildcards among the first ``prefix`` key bits allow
    (its own first); a query with more than ``most_wildcards`` there probes a shorter
    prefix (a range found by binary search). The bits after the probed ones, up to the
    query's next wildcard, are its own: the bucket is looked up in the table of the
    longest of ``levels`` (prefix lengths, the first ``prefix``) they cover, and what is
    left narrowed by binary search when the range is long. In a bucket, a row whose key
    differs from the query's in a bit that is not the query's wildcard is more than D
    cells away in that feature: only the others are compared.
    """
    probes = 0
    rows = 0
    pairs = 0
    for i in range(len(queries)):
        q = queries[i]
        own, wild, g = query_key[q], query_wild[q], query_group[q]
        length = prefix
        while length > 0 and _popcount(wild >> np.uint64(64 - length)) > most_wildcards:
            length -= 1
        top = (wild >> np.uint64(64 - length)) if length > 0 else np.uint64(0)
        base = (own >> np.uint64(64 - length)) if length > 0 else np.uint64(0)
        known = min(64, length + _leading_zeros(wild << np.uint64(length))) if length < 64 else 64
        level = 0  # the deepest table whose bits are probed or known (the same for every probe of the query)
        while level + 1 < len(levels) and levels[level + 1] <= known:
            level += 1
        table = tables[offsets[level]:offsets[level + 1]]
        depth = levels[level]
        care, care2, own2 = ~wild, ~query_wild2[q], query_key2[q]
        subset = np.uint64(0)
        hit = False
        while True:
            probes += 1
            part = base ^ subset
            probe = ((part << np.uint64(64 - length)) if length > 0 else np.uint64(0)) | (own & _low_bits(length))
            if length == prefix and prefix > 0:
                lo, hi = _find(table, shifts[level], (np.uint64(g) << np.uint64(depth)) | (probe >> np.uint64(64 - depth)))
                done = depth
            else:
                lo = _lower_bound(train_group, train_key, g, probe & ~_low_bits(length))
                hi = lo  # the range ends where the prefix changes
                while hi < len(train_key) and train_group[hi] == g and (
                        length == 0 or (train_key[hi] >> np.uint64(64 - length)) == part):
                    hi += 1
                done = length
            if known > done and hi - lo > _NARROW:
                lo, hi = _prefix_range(train_key, lo, hi, probe >> np.uint64(64 - known), np.uint64(64 - known))
            rows += hi - lo
            for start in range(lo, hi, _RUN):
                stop = min(start + _RUN, hi)
                # a branch-free pass the compiler vectorizes: which rows of the run agree on the first key word?
                agree = np.uint64(0)
                for r in range(start, stop):
                    agree |= np.uint64(((train_key[r] ^ own) & care) == 0) << np.uint64(r - start)
                while agree:
                    r = start + _trailing_zeros(agree)
                    agree &= agree - np.uint64(1)
                    if (train_key2[r] ^ own2) & care2:
                        continue
                    pairs += 1
                    if _within(q, r, query_cells, train_cells, slack, query_float, train_float, float_bounds):
                        hit = True
                        break
                if hit:
                    break
            if hit:
                break
            subset = (subset - top) & top  # the next subset of the wildcards
            if subset == 0:
                break
        found[q] = hit
    work[0] += probes
    work[1] += rows
    work[2] += pairs


_NARROW = 64  # a bucket range longer than this is narrowed to the query's known bits by binary search


@numba.njit(cache=True, nogil=True, inline="always")
def _trailing_zeros(x):
    """Zero bits below the lowest set bit (x != 0)."""
    return _popcount((x & (~x + np.uint64(1))) - np.uint64(1))


@numba.njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True, nogil=True, inline="always")
def _leading_zeros(x):
    """Zero bits above the highest set bit (64 for 0)."""
    x |= x >> np.uint64(1)
    x |= x >> np.uint64(2)
    x |= x >> np.uint64(4)
    x |= x >> np.uint64(8)
    x |= x >> np.uint64(16)
    x |= x >> np.uint64(32)
    return 64 - _popcount(x)


@numba.njit(cache=True, nogil=True, inline="always")
def _prefix_range(key, lo, hi, target, cut):
    """The rows of lo..hi-1 (sorted, one group) whose key shifted right by ``cut`` is ``target``."""
    a, b = lo, hi
    while a < b:
        mid = (a + b) >> 1
        if (key[mid] >> cut) < target:
            a = mid + 1
        else:
            b = mid
    start = a
    b = hi
    while a < b:
        mid = (a + b) >> 1
        if (key[mid] >> cut) <= target:
            a = mid + 1
        else:
            b = mid
    return start, a


@numba.njit(cache=True, nogil=True, inline="always")
def _low_bits(length):
    """The key bits after the first ``length``."""
    return (np.uint64(1) << np.uint64(64 - length)) - np.uint64(1) if length > 0 else ~np.uint64(0)
