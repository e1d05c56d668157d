"""Exact search behind ``hokusai-near-copy-v1``: which query rows lie within a box of a training row.

A query row matches a training row when both have the same group key and every
feature differs by at most its bound, compared as the rule compares (float64,
``abs(a - b) <= bound``). Brute force costs rows x training rows; the search keeps
it exact and near-linear on data with structure, in bounded memory.

Both searches share the first two steps:

1. **Cells.** Each feature is quantized to int8 cells so that two values within the
   bound are at most ``D`` cells apart (unit cells for small integers such as pixels,
   where the cell test *is* the rule; cells of at least half the bound otherwise).
   Values out of the cell range are clipped, which only admits more candidates.
2. **Key bits.** Each bit is "cell >= threshold" for a feature, thresholds where few
   training values lie. A query within ``D`` cells of a threshold may have a neighbour
   on either side: that bit is a *wildcard*. On every other bit a neighbour has the
   query's value, so a row that differs there is skipped without reading its cells.

**Compiled search** (``near_kernel``: C built at install, for 50,000 searched rows or more).
Training rows sorted by (group, key); hash tables name the rows of each bucket,
(group, first ``p`` key bits), and of the buckets 8 and 16 bits longer. A query probes
every bucket its wildcards among those ``p`` bits allow, its own first (one with more
than ``_MOST_WILDCARDS`` probes a shorter prefix, by binary search); the key bits after
the probed ones, up to its next wildcard, are its own: the bucket is looked up in the
deepest table they cover, and a range still longer than 64 rows is narrowed by binary
search. Each row of the range is tested against 128 key bits (64-row runs at a time, the
rows that agree on the first word as a bit mask), the survivors cell by cell, then in
float64 on the features whose cells are not exact. A query stops at its first match.
``p`` is chosen by the counted work of a sample of queries; queries run in (group, key)
order (neighbours probe the same buckets, still in cache) and are split between two
threads (ctypes releases the GIL during the call). Compiled ahead of time, it
costs a fresh process under 10 ms to load, where a JIT cost ~1.2 s of import and first call
(``bench/RESULTS.md``).

**Numpy search** (``_Index``, fewer rows): up to 44 key bits sort the
training rows; a query probes every key its wildcards allow (fewest flips first); in
a key bucket, blocks of 16 rows with their bounding box are skipped or compared as
a whole. The key length is chosen by the counted work of a sample.

Either way the answer is the same for every choice of key, prefix and thread
count, and is that of brute force (``test_unit_new_rows.py``). Uniformly random
data has no structure to exploit (a quarter of the bits are wildcards) and is the
slow regime.
"""

from __future__ import annotations

import itertools
import os

import numpy as np

_CELL = 60  # cells in -60..60, slack D <= 3: every difference below fits an int8
_MAX_D = 3
_KEY_BITS = 44
_LEVEL_STEP = 4  # key prefixes, for queries with many wildcards, are multiples of 4 bits
_MAX_WILDCARDS = 8  # at most 2**8 probes per query and prefix
_BLOCK = 16
_HEAD = 16  # features compared first (the most often violated), the rest only for survivors
_CHUNK = 1 << 17  # pairs compared at once: bounds memory (a chunk's arrays are a few MB)
_SAMPLE = 3000  # queries searched per candidate key length when choosing it
_ONE = np.uint64(1)


def rows_within_bounds(rows: list[np.ndarray], train: list[np.ndarray], bounds: np.ndarray,
                       row_groups: np.ndarray, train_groups: np.ndarray,
                       row_order_key: np.ndarray | None = None) -> np.ndarray:
    """Per query row: does a training row of its group lie within ``bounds`` in every feature?

    ``rows``/``train``: one numeric array per feature (compared as float64);
    ``row_groups``/``train_groups``: uint64 keys that must be equal;
    ``row_order_key``: a per-row hash, to pick the sample that tunes the index
    independently of the rows' order (any order gives the same answer).
    """
    bounds = np.asarray(bounds, dtype="float64")
    m = len(row_groups)
    out = np.zeros(m, dtype=bool)
    if m == 0 or len(train_groups) == 0 or np.isnan(bounds).any() or (bounds < 0).any():
        return out  # no pair passes a NaN or negative bound
    finite = np.isfinite(bounds)
    row_ok, train_ok = _comparable(rows, bounds), _comparable(train, bounds)
    ti = np.flatnonzero(train_ok)
    groups, train_group = np.unique(np.asarray(train_groups, dtype=np.uint64)[ti], return_inverse=True)
    row_group = _lookup(groups, np.asarray(row_groups, dtype=np.uint64))
    ri = np.flatnonzero(row_ok & (row_group >= 0))
    if not len(ri) or not len(ti):
        return out
    cells = [j for j in range(len(bounds)) if finite[j]]
    if not len(bounds):  # no numeric feature: the group alone decides
        out[ri] = True
        return out
    if not cells:  # no feature narrows the search: every row of the group is a candidate
        found = _brute_force(rows, train, bounds, ri, ti, row_group[ri], train_group)
    elif len(ri) >= _KERNEL_MIN_QUERIES:
        found = _walk(rows, train, bounds, cells, ri, ti, row_group[ri], train_group, len(groups),
                      _sample(ri, row_order_key))
    else:
        index = _Index(rows, train, bounds, cells, ri, ti, row_group[ri], train_group, len(groups))
        sample = _sample(ri, row_order_key)
        index.key_bits = index.best_key_length(sample)
        found = index.search(np.arange(len(ri)))
    out[ri[found]] = True
    return out


# Below this many searched rows the numpy search is quick enough, and a small evaluation never loads
# the compiled library (``near_kernel``).
_KERNEL_MIN_QUERIES = 50_000


_MOST_WILDCARDS = 10  # at most 2**10 probes per query
_THREADS = 2


def _walk(rows, train, bounds, cell_features, ri, ti, row_group, train_group, group_count,
          sample: np.ndarray) -> np.ndarray:
    """The compiled search (``near_kernel``): training rows sorted by (group, key), buckets of a key prefix."""
    from hokusai.chain import near_kernel

    d = len(cell_features)
    train_cells, row_cells = np.empty((d, len(ti)), np.int8), np.empty((d, len(ri)), np.int8)
    slack, exact = np.zeros(d, np.int64), np.zeros(d, bool)
    for k, j in enumerate(cell_features):
        train_cells[k], row_cells[k], slack[k], exact[k] = _quantize(
            _subset(train[j], ti), _subset(rows[j], ri), bounds[j])
    # features the cells do not decide are compared in float64 on the pairs the keys and cells admit
    float_features = [j for k, j in enumerate(cell_features) if not exact[k]] + \
        [j for j in range(len(bounds)) if j not in cell_features]
    bits = _key_candidates(train_cells, slack, near_kernel.cell_counts(train_cells, -_CELL, 2 * _CELL + 1))
    keys = []  # two 64-bit words of key bits: the first sorts and buckets, both filter
    for word in (bits[:64], bits[64:128]):
        features, thresholds = np.array([k for k, _ in word], np.int64), np.array([t for _, t in word], np.int64)
        train_key, _ = near_kernel.key_bits(train_cells, features, thresholds, slack, False)
        keys.append((train_key, *near_kernel.key_bits(row_cells, features, thresholds, slack, True)))
    (train_key, row_key, row_wild), (train_key2, row_key2, row_wild2) = keys
    del keys
    train_group = np.asarray(train_group, np.int64)
    order = _group_key_order(train_group, train_key)
    train_key, train_key2, train_group = train_key[order], train_key2[order], train_group[order]
    # the features most often violated between rows of one bucket are compared first
    bucket_start = np.flatnonzero(np.r_[True, (train_key[1:] != train_key[:-1]) | (train_group[1:] != train_group[:-1])])
    violated = _violation_rates(train_cells, slack, order, bucket_start, np.r_[bucket_start[1:], len(order)])
    by_rate = np.argsort(-violated, kind="stable")
    # row-major (the features by rate), then whole rows gathered in key order: one gather of rows, not of cells
    train_cells = np.take(np.ascontiguousarray(np.take(train_cells, by_rate, axis=0).T), order, axis=0)
    row_cells = np.ascontiguousarray(np.take(row_cells, by_rate, axis=0).T)
    train_float = np.empty((len(ti), len(float_features)), np.float64)
    row_float = np.empty((len(ri), len(float_features)), np.float64)
    for k, j in enumerate(float_features):
        train_float[:, k] = _as_float(train[j][ti[order]])
        row_float[:, k] = _as_float(rows[j][ri])
    row_group = np.asarray(row_group, np.int64)
    slack, float_bounds = slack[by_rate], np.asarray(bounds, np.float64)[float_features]

    deepest = min(len(bits), 64 - max(1, int(group_count).bit_length()))
    tables, layouts = {}, {}  # tables by prefix length; per probed prefix, its levels' tables in one array

    def layout(prefix: int, deeper: bool = True):
        """The prefix's levels (it, then 8 and 16 bits longer, as far as the key goes) and their tables, joined.
        Without ``deeper`` (choosing the prefix), the prefix's table alone: a table per candidate prefix, not three."""
        if (prefix, deeper) not in layouts:
            levels = [prefix] + [prefix + step for step in (8, 16) if deeper and prefix and prefix + step <= deepest]
            for length in levels:
                if length not in tables:  # prefix 0: no table, the group's range is found by binary search
                    tables[length] = (near_kernel.bucket_table(train_group, train_key, length) if length
                                      else (np.zeros((2, 3), np.uint64), np.uint64(63)))
            joined = np.concatenate([tables[length][0] for length in levels])
            offsets = np.cumsum([0] + [len(tables[length][0]) for length in levels]).astype(np.int64)
            shifts = np.array([tables[length][1] for length in levels], np.uint64)
            layouts[prefix, deeper] = (joined, offsets, shifts, np.array(levels, np.int64))
        return layouts[prefix, deeper]

    def search(queries: np.ndarray, prefix: int, found: np.ndarray, deeper: bool = False) -> np.ndarray:
        work = np.zeros(3, np.int64)
        joined, offsets, shifts, levels = layout(prefix, deeper)
        near_kernel.search(queries, train_group, train_key, train_key2, train_cells, train_float, row_group, row_key,
                           row_wild, row_key2, row_wild2, row_cells, row_float, slack, float_bounds, prefix, joined,
                           offsets, shifts, levels, _MOST_WILDCARDS, found, work)
        return work

    longest = min(deepest, 32)
    prefix = _prefix_length(search, sample, longest, len(ri), len(ti), group_count)
    layouts.clear()
    for unused in set(tables) - {prefix}:
        del tables[unused]
    layout(prefix)  # its tables, built once for every thread
    tables.clear()
    found = np.zeros(len(ri), dtype=bool)
    # queries in (group, key) order: neighbours probe the same buckets, whose rows are then still in cache
    # (the search waits on memory): 3.4 -> 1.9 CPU-s at 1M x 1M digits. Any order gives the same answer.
    queries = _group_key_order(row_group, row_key)
    # the compiled loop releases the GIL: a thread per core, each on every n-th query (same answer)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = min(_THREADS, cores, max(1, len(ri) // _SAMPLE))
    if threads == 1:
        search(queries, prefix, found, True)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda k: search(queries[k::threads], prefix, found, True), range(threads)))
    return found


def _prefix_length(search, sample: np.ndarray, longest: int, queries: int, rows: int, groups: int) -> int:
    """Bits of key that name a bucket: longer, more buckets to probe; shorter, more rows to scan in each.

    Chosen by the counted work of a sample of queries: a probe 1, a scanned row 0.05 (measured
    at 1M x 1M digits, prefix 16, load ~7: ~0.15 CPU-µs a probe, ~7 ns a row), a compared
    pair weighed as a probe (not measured apart: few on digits). Small inputs take buckets
    of ~32 rows. The answer is the same for every choice.
    """
    if queries < 20 * _SAMPLE:
        return int(np.clip(np.log2(max(rows / max(groups, 1) / 32, 1)), 0, longest))
    costs = {}
    for bits in sorted({*range(8, longest, 4), longest}):
        work = search(sample, bits, np.zeros(queries, dtype=bool))
        costs[bits] = work[0] + 0.05 * work[1] + work[2]
    return min(costs, key=lambda bits: (costs[bits], bits))


def _group_key_order(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``np.lexsort((key, group))``: a stable sort by key, then a stable one by group (a radix sort
    when the groups fit 16 bits), 40% less than lexsort on a million rows."""
    order = np.argsort(key, kind="stable")
    by_group = group[order]
    if len(group) and 0 <= group.min() and group.max() < 2**15:
        by_group = by_group.astype(np.int16)
    return order[np.argsort(by_group, kind="stable")]


def _comparable(columns: list[np.ndarray], bounds: np.ndarray) -> np.ndarray:
    """Rows that can be within bounds of anything: finite where the bound is finite, not NaN where it is not."""
    ok = np.ones(len(columns[0]) if columns else 0, dtype=bool)
    for values, bound in zip(columns, bounds):
        if values.dtype.kind == "f":
            ok &= np.isfinite(values) if np.isfinite(bound) else ~np.isnan(values)
    return ok


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each key in ``sorted_keys`` (unique), -1 where absent."""
    import pandas as pd

    return pd.Index(sorted_keys).get_indexer(keys)


def _sample(ri: np.ndarray, order_key: np.ndarray | None) -> np.ndarray:
    """Up to ``_SAMPLE`` query positions: those with the smallest order keys (no dependence on row order)."""
    if len(ri) <= _SAMPLE:
        return np.arange(len(ri))
    if order_key is None:
        return np.linspace(0, len(ri) - 1, _SAMPLE).astype(np.int64)
    return np.sort(np.argpartition(np.asarray(order_key)[ri], _SAMPLE)[:_SAMPLE])


def _as_float(values: np.ndarray) -> np.ndarray:
    return values.astype("float64", copy=False)


def _within(rows, train, bounds, features, row_index, train_index) -> np.ndarray:
    """The rule itself on pairs: ``abs(a - b) <= bound`` in float64 for every feature given."""
    ok = np.ones(len(row_index), dtype=bool)
    for j in features:
        ok &= np.abs(_as_float(rows[j][row_index]) - _as_float(train[j][train_index])) <= bounds[j]
    return ok


def _brute_force(rows, train, bounds, ri, ti, row_group, train_group) -> np.ndarray:
    """Every same-group pair, in chunks (only when no feature has a finite bound)."""
    found = np.zeros(len(ri), dtype=bool)
    order = np.argsort(train_group, kind="stable")
    starts = np.searchsorted(train_group[order], np.arange(train_group.max() + 2))
    for q in range(len(ri)):
        members = ti[order[starts[row_group[q]]:starts[row_group[q] + 1]]]
        for start in range(0, len(members), _CHUNK):
            chunk = members[start:start + _CHUNK]
            if _within(rows, train, bounds, range(len(bounds)), np.full(len(chunk), ri[q]), chunk).any():
                found[q] = True
                break
    return found


def _quantize(train: np.ndarray, rows: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """(training cells, row cells, slack D, whether the cell test is the rule itself).

    Within the bound implies at most D cells apart. Integers of a narrow range with a
    bound under 4 get unit cells, where "D cells apart" is exactly the rule.
    """
    if bound < _MAX_D + 1 and train.dtype.kind in "iub" and rows.dtype.kind in "iub":
        cells = _unit_cells(train, rows, int(train.min()), int(train.max()), bound)
        if cells is not None:
            return cells
    a, b = _as_float(train), _as_float(rows)
    low, high = float(a.min()), float(a.max())
    if bound < _MAX_D + 1 and all(v.dtype.kind in "iub" or bool(np.all(v == np.floor(v))) for v in (a, b)):
        cells = _unit_cells(a, b, low, high, bound)
        if cells is not None:
            return cells
    # cells at least half the bound wide: within the bound is at most ceil(bound / width) + 1 <= 3 cells apart
    width = max(bound / 2, (high - low) / (2 * _CELL - 8), np.finfo("float64").tiny)
    base = (low + high) / 2
    slack = int(np.ceil(bound / width)) + 1
    with np.errstate(over="ignore", invalid="ignore"):
        cells = [np.clip(np.floor((v - base) / width), -_CELL, _CELL).astype(np.int8) for v in (a, b)]
    return cells[0], cells[1], slack, False


def _unit_cells(train, rows, low, high, bound):
    """Unit cells for integer values (int arrays or integral floats), or None when they do not fit."""
    if high - low > 2 * _CELL:
        return None
    row_low, row_high = (float(rows.min()), float(rows.max())) if len(rows) else (low, high)
    if max(abs(low), abs(high), abs(row_low), abs(row_high)) >= 2**52:  # beyond: float64 differences round
        return None
    base = (low + high) // 2
    exact = row_low - base >= -_CELL and row_high - base <= _CELL  # no row cell clipped
    out = []
    for values, clip in ((train, False), (rows, not exact)):
        if values.dtype.kind in "iub" and not clip:
            # every value - base is in -60..60: int8 arithmetic (mod 256) gives it in one pass, no int64 copy
            out.append(np.subtract(values, np.array(int(base)).astype(np.int8), dtype=np.int8, casting="unsafe"))
            continue
        shifted = values.astype(np.int64, copy=False) - int(base) if values.dtype.kind in "iub" else values - base
        out.append((np.clip(shifted, -_CELL, _CELL) if clip else shifted).astype(np.int8))
    return out[0], out[1], int(np.floor(bound)), bool(exact)


def _popcount(x: np.ndarray) -> np.ndarray:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def _spans(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which span, position) for every position of the spans [starts[i], ends[i])."""
    lengths = ends - starts
    owner = np.repeat(np.arange(len(starts)), lengths)
    return owner, np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))


class _Index:
    """The training rows in key order, cut into blocks with bounding boxes, and the queries' cells."""

    def __init__(self, rows, train, bounds, cell_features, ri, ti, row_group, train_group, group_count):
        self.rows, self.train, self.bounds, self.ri, self.ti = rows, train, bounds, ri, ti
        d = len(cell_features)
        train_cells, row_cells = np.empty((d, len(ti)), np.int8), np.empty((d, len(ri)), np.int8)
        slack, exact = np.zeros(d, np.int64), np.zeros(d, bool)
        for k, j in enumerate(cell_features):
            train_cells[k], row_cells[k], slack[k], exact[k] = _quantize(
                _subset(train[j], ti), _subset(rows[j], ri), bounds[j])
        # features the cells do not decide are compared in float64 on the pairs the cells admit
        self.float_features = [j for k, j in enumerate(cell_features) if not exact[k]] + \
            [j for j in range(len(bounds)) if j not in cell_features]
        bits = _key_candidates(train_cells, slack)
        self.max_bits = min(len(bits), _KEY_BITS, 63 - max(1, int(group_count).bit_length()))
        primary, secondary = bits[:self.max_bits], bits[self.max_bits:self.max_bits + 64]
        train_key, _ = _bits(train_cells, primary, slack, wildcards=False)
        order_within, _ = _bits(train_cells, secondary, slack, wildcards=False)
        row_key, self.row_wild = _bits(row_cells, primary, slack, wildcards=True)
        shift = np.uint64(self.max_bits)
        train_key |= train_group.astype(np.uint64) << shift
        self.row_key = row_key | (row_group.astype(np.uint64) << shift)
        del row_key
        self.order = np.lexsort((order_within, train_key))
        self.sorted_key = train_key[self.order]
        del train_key, order_within
        # blocks: runs of at most _BLOCK rows inside one full-key bucket
        bucket_start = np.flatnonzero(np.r_[True, self.sorted_key[1:] != self.sorted_key[:-1]])
        bucket_end = np.r_[bucket_start[1:], len(self.order)]
        pieces = -(-(bucket_end - bucket_start) // _BLOCK)
        owner, piece = _spans(np.zeros(len(pieces), np.int64), pieces)
        self.block_start = bucket_start[owner] + piece * _BLOCK
        self.block_end = np.minimum(self.block_start + _BLOCK, bucket_end[owner])
        self.row_block = np.repeat(np.arange(len(self.block_start)), self.block_end - self.block_start)
        # the features most often violated inside a bucket are compared first; the rest only if those pass
        violated = _violation_rates(train_cells, slack, self.order, bucket_start, bucket_end)
        features = np.argsort(-violated, kind="stable")
        self.parts = [self._part(train_cells, row_cells, slack, part) for part in (features[:_HEAD], features[_HEAD:])
                      if len(part)]
        del train_cells, row_cells
        self.key_bits = self.max_bits
        self._tables = {}
        self.work = {"probes": 0, "blocks": 0, "pairs": 0}

    def _part(self, train_cells, row_cells, slack, features) -> dict:
        """Row-major cells of some features (training rows in key order), their block boxes, the queries' cells.

        Padded to a multiple of 8 features with columns that always pass, so a row's
        violations can be tested as 64-bit words.
        """
        width = -(-len(features) // 8) * 8
        pad = width - len(features)
        part_slack = np.r_[slack[features], np.zeros(pad, np.int64)]
        cells = np.take(np.take(train_cells, features, axis=0), self.order, axis=1)
        cells = np.ascontiguousarray(np.vstack([cells, np.zeros((pad, cells.shape[1]), np.int8)]).T)
        query = np.take(row_cells, features, axis=0) + slack[features, None].astype(np.int8)
        query = np.ascontiguousarray(np.vstack([query, np.zeros((pad, query.shape[1]), np.int8)]).T)
        twice = (2 * part_slack).astype(np.uint8)
        twice[len(features):] = 255
        low, high = _block_extremes(cells, self.block_start, self.block_end)
        # q within D cells of [low, high] <=> (q + D - low) mod 256 <= high - low + 2D (no wrap: |cells| <= 60)
        box = (high.astype(np.int16) - low + 2 * part_slack).astype(np.uint8)
        box[:, len(features):] = 255
        return {"cells": cells, "query": query, "twice": twice, "low": low, "box": box}

    # -- choosing the key length ------------------------------------------------------------
    def best_key_length(self, sample: np.ndarray) -> int:
        """The key length whose search of the sample counts the least work (probes, boxes, pairs)."""
        if len(self.ri) < 20 * _SAMPLE or self.max_bits <= 16:  # small: tuning would cost more than it saves
            return min(self.max_bits, 32)
        costs = {}
        for bits in sorted({*range(16, self.max_bits, 8), self.max_bits}):
            self.key_bits, self.work = bits, {"probes": 0, "blocks": 0, "pairs": 0}
            self.search(sample)
            # measured at 300k x 300k digits: a box test costs ~0.55 of a probe (~0.11 vs ~0.19 CPU-µs)
            costs[bits] = self.work["probes"] + 0.55 * self.work["blocks"] + 0.5 * self.work["pairs"]
            if len(costs) >= 3 and costs[bits] > min(costs.values()) and list(costs.values())[-2] > min(costs.values()):
                break  # rose twice past the least: longer keys only add probes
        return min(costs, key=lambda bits: (costs[bits], -bits))

    # -- search ----------------------------------------------------------------------------
    def search(self, queries: np.ndarray) -> np.ndarray:
        """Found flags for the given query positions (positions in ``ri``), as a full-length array."""
        found = np.zeros(len(self.ri), dtype=bool)
        cut = np.uint64(self.max_bits - self.key_bits)
        wild = self.row_wild[queries] >> cut
        level = np.full(len(queries), -1)
        for bits in range(self.key_bits, 0, -_LEVEL_STEP):  # the longest prefix with few enough wildcards
            count = _popcount(wild >> np.uint64(self.key_bits - bits))
            level[(level < 0) & (count <= _MAX_WILDCARDS)] = bits
        level[level < 0] = 0
        for bits in sorted(set(level.tolist()), reverse=True):
            self._search_prefix(queries[level == bits], bits, found)
        return found

    def _table(self, bits: int):
        """For the key's first ``bits`` bits (and the group): distinct prefixes, their first and last block + 1."""
        if bits not in self._tables:
            prefix = self.sorted_key >> np.uint64(self.max_bits - bits)
            first = np.flatnonzero(np.r_[True, prefix[1:] != prefix[:-1]])
            last = np.r_[first[1:], len(prefix)] - 1
            self._tables[bits] = (_lookup_table(prefix[first]), self.row_block[first], self.row_block[last] + 1)
        return self._tables[bits]

    def _search_prefix(self, queries: np.ndarray, bits: int, found: np.ndarray) -> None:
        """Probe every key the queries' wildcards allow, fewest flips first, skipping queries found."""
        if not len(queries):
            return
        table, first_block, end_block = self._table(bits)
        shift = np.uint64(self.max_bits - bits)
        own = self.row_key[queries] >> shift
        wild = self.row_wild[queries] >> shift
        count = _popcount(wild)
        most = int(count.max())
        position = np.zeros((len(queries), max(most, 1)), np.uint64)  # each wildcard's bit, lowest first
        rest = wild.copy()
        for k in range(most):
            position[:, k] = rest & (~rest + _ONE)
            rest ^= position[:, k]
        for flips in range(most + 1):
            for wildcards in range(flips, most + 1):
                chosen = np.flatnonzero((count == wildcards) & ~found[queries])
                if not len(chosen):
                    continue
                # which wildcards each probe flips: one row per combination
                flipped = np.array(list(itertools.combinations(range(wildcards), flips)), dtype=np.int64)
                flipped = flipped.reshape(len(flipped), flips)
                step = max(1, _CHUNK // len(flipped))
                for start in range(0, len(chosen), step):
                    part = chosen[start:start + step]
                    probe = np.repeat(own[part, None], len(flipped), axis=1)
                    where = position[part]
                    for i in range(flips):
                        probe ^= where[:, flipped[:, i]]
                    probe = probe.ravel()
                    self.work["probes"] += len(probe)
                    hit = _find(table, probe)
                    keep = hit >= 0
                    self._scan(np.repeat(queries[part], len(flipped))[keep], first_block[hit[keep]],
                               end_block[hit[keep]], found)

    def _scan(self, query: np.ndarray, first: np.ndarray, end: np.ndarray, found: np.ndarray) -> None:
        """The blocks first..end-1 of each query, in windows 1, 1, 2, 4... long; a query found stops."""
        done, width = 0, 1
        while len(query):
            start = first + done
            stop = np.minimum(end, start + width)
            live = (start < stop) & ~found[query]
            query, first, end, start, stop = query[live], first[live], end[live], start[live], stop[live]
            ends = np.cumsum(stop - start)
            begin = 0
            while begin < len(query):  # at most _CHUNK boxes at once
                finish = max(int(np.searchsorted(ends, (ends[begin - 1] if begin else 0) + _CHUNK, "right")),
                             begin + 1)
                owner, block = _spans(start[begin:finish], stop[begin:finish])
                self._compare(query[begin:finish][owner], block, found)
                begin = finish
            done += width
            width *= 2

    def _compare(self, query: np.ndarray, block: np.ndarray, found: np.ndarray) -> None:
        """Boxes, then the pairs of the boxes that pass, then the rule in float64 where cells are not exact."""
        self.work["blocks"] += len(query)
        for part in self.parts:
            keep = _none(_over(np.take(part["query"], query, 0), np.take(part["low"], block, 0),
                               np.take(part["box"], block, 0)))
            query, block = query[keep], block[keep]
        owner, row = _spans(self.block_start[block], self.block_end[block])
        query = query[owner]
        for start in range(0, len(query), _CHUNK):
            q, r = query[start:start + _CHUNK], row[start:start + _CHUNK]
            self.work["pairs"] += len(q)
            for part in self.parts:
                keep = _none(_over(np.take(part["query"], q, 0), np.take(part["cells"], r, 0), part["twice"]))
                q, r = q[keep], r[keep]
            if self.float_features and len(q):
                keep = _within(self.rows, self.train, self.bounds, self.float_features,
                               self.ri[q], self.ti[self.order[r]])
                q = q[keep]
            found[q] = True


def _block_extremes(cells: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block (rows start..end-1 of ``cells``, at most ``_BLOCK``): the least and greatest cell of each feature.

    ``reduceat`` along rows is fast for up to 16 features; wider, each block's rows are
    gathered into a full block of ``_BLOCK`` (its last row repeated), about twice as fast.
    """
    if cells.shape[1] <= 16:
        return np.minimum.reduceat(cells, start, axis=0), np.maximum.reduceat(cells, start, axis=0)
    low, high = np.empty((len(start), cells.shape[1]), cells.dtype), np.empty((len(start), cells.shape[1]), cells.dtype)
    step = max(1, _CHUNK // _BLOCK)
    for first in range(0, len(start), step):
        rows = np.minimum(start[first:first + step, None] + np.arange(_BLOCK), end[first:first + step, None] - 1)
        block = cells[rows]
        low[first:first + step], high[first:first + step] = block.min(axis=1), block.max(axis=1)
    return low, high


def _over(query: np.ndarray, low: np.ndarray, width) -> np.ndarray:
    """Per cell: (query - low) mod 256 > width, i.e. the query cell is outside [low, low + width]."""
    query -= low
    return query.view(np.uint8) > width


def _none(violations: np.ndarray) -> np.ndarray:
    """Rows without a violation, read 8 features at a time (``all`` along a short axis is 8x slower)."""
    words = violations.view(np.uint64)
    seen = words[:, 0].copy()
    for i in range(1, words.shape[1]):
        seen |= words[:, i]
    return seen == 0


def _lookup_table(keys: np.ndarray):
    import pandas as pd

    return pd.Index(keys)


def _find(table, probes: np.ndarray) -> np.ndarray:
    return table.get_indexer(probes)


def _key_candidates(cells: np.ndarray, slack: np.ndarray, counts: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(feature, threshold) bits, best first: balanced splits with few values within D cells of the threshold.

    A feature's thresholds are more than 2D apart, so a value is a wildcard of at most one of them.
    ``counts``: per feature, the rows of each cell -60..60, if counted already (the compiled path).
    """
    scored = []
    for k in range(len(cells)):
        if counts is None:
            feature_counts = np.bincount(cells[k].astype(np.int64) + _CELL, minlength=2 * _CELL + 1)
        else:
            feature_counts = counts[k]
        below = np.cumsum(feature_counts)  # below[i]: values < i - _CELL + 1
        total = below[-1]
        for threshold in np.flatnonzero(feature_counts)[1:] - _CELL:
            i = threshold + _CELL
            p = (total - below[i - 1]) / total
            lo, hi = max(i - slack[k], 0), min(i + slack[k] - 1, 2 * _CELL)
            band = (below[hi] - (below[lo - 1] if lo else 0)) / total
            scored.append((min(p, 1 - p) * (1 - band) ** 2, k, int(threshold)))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    chosen, taken = [], {}
    for score, k, threshold in scored:
        if score <= 0:
            break
        if all(abs(threshold - t) > 2 * slack[k] for t in taken.get(k, ())):
            taken.setdefault(k, []).append(threshold)
            chosen.append((k, threshold))
    return chosen


def _bits(cells: np.ndarray, bits: list[tuple[int, int]], slack: np.ndarray, wildcards: bool):
    """(key, wildcard mask): bit i (from the top) is "cell >= threshold"; wild when within D cells of it."""
    key = np.zeros(cells.shape[1], np.uint64)
    wild = np.zeros(cells.shape[1], np.uint64) if wildcards else None
    for i, (k, threshold) in enumerate(bits):
        shift = np.uint64(len(bits) - 1 - i)
        key |= (cells[k] >= threshold).astype(np.uint64) << shift
        if wildcards:
            wild |= ((cells[k] >= threshold - slack[k]) & (cells[k] < threshold + slack[k])).astype(np.uint64) << shift
    return key, wild


def _violation_rates(cells: np.ndarray, slack: np.ndarray, order: np.ndarray, bucket_start: np.ndarray,
                     bucket_end: np.ndarray) -> np.ndarray:
    """Per feature: how often two rows of one bucket are more than D cells apart (on a fixed sample)."""
    rng = np.random.default_rng(0)
    count = min(20000, cells.shape[1])
    rows = rng.integers(0, cells.shape[1], count)
    bucket = np.searchsorted(bucket_start, rows, "right") - 1
    partner = bucket_start[bucket] + rng.integers(0, 1 << 62, count) % (bucket_end[bucket] - bucket_start[bucket])
    return (np.abs(cells[:, order[rows]].astype(np.int16) - cells[:, order[partner]]) > slack[:, None]).mean(axis=1)


def _subset(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]``, without the copy when the positions are all of them (in order)."""
    return values if len(positions) == len(values) else values[positions]
