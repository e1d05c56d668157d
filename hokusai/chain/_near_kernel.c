/* The compiled loops behind near_search: cell histograms, key bits, the bucket tables and the search.
 *
 * Compiled ahead of time by `pip install -e .` (setup.py), called through ctypes from
 * near_kernel.py, which checks every array's dtype, layout and shape before a call: the
 * lengths passed here are those of the buffers. What the loops index with values (cells,
 * query positions, table entries) is checked here, and a bad value returns an error code
 * instead of reading past a buffer. Plain IEEE float64 arithmetic (no -ffast-math): the
 * float test is the rule's own. The module init only makes the file importable, so the
 * import system finds it; the functions are plain C (ctypes releases the GIL around them).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define RUN 64     /* rows whose keys are tested at once */
#define NARROW 64  /* a bucket range longer than this is narrowed to the query's known bits */
#define MIX 0x9E3779B97F4A7C15ULL  /* Fibonacci hashing: the table index is the product's top bits */

/* The wide loops also get an AVX2 version, chosen when the library loads if the CPU has AVX2 (GCC's
 * function multiversioning): the binary stays portable (no -march=native), the baseline is SSE2. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

#define BAD_CELL -1
#define BAD_QUERY -2
#define BAD_TABLE -3

static inline int64_t popcount64(uint64_t x) { return (int64_t)__builtin_popcountll(x); }
static inline int64_t leading_zeros(uint64_t x) { return x ? (int64_t)__builtin_clzll(x) : 64; }
static inline int64_t trailing_zeros(uint64_t x) { return (int64_t)__builtin_ctzll(x); }  /* x != 0 */

/* The key bits after the first `length` (0 <= length < 64). */
static inline uint64_t low_bits(int64_t length) {
    return length > 0 ? (1ULL << (64 - length)) - 1 : ~0ULL;
}

/* Per feature (a row of cells, features x n), how many rows hold each cell lowest..lowest + width - 1. */
int64_t near_cell_counts(const int8_t *cells, int64_t features, int64_t n, int64_t lowest, int64_t width,
                         int64_t *counts) {
    for (int64_t k = 0; k < features; k++) {
        const int8_t *row = cells + k * n;
        int64_t *out = counts + k * width;
        for (int64_t r = 0; r < n; r++) {
            int64_t i = (int64_t)row[r] - lowest;
            if (i < 0 || i >= width) return BAD_CELL;
            out[i]++;
        }
    }
    return 0;
}

#define KEY_BLOCK 2048  /* rows whose keys are built at once: the block's keys stay in L1 across the features */

/* Bit 63 - i of each row's key: "cell of feature features[i] >= thresholds[i]"; with `wild`, the bit
 * is also set in wild when the cell lies within D = slack[feature] cells of the threshold. */
WIDE int64_t near_key_bits(const int8_t *restrict cells, int64_t feature_count, int64_t n, const int64_t *features,
                      const int64_t *thresholds, const int64_t *slack, int64_t count, uint64_t *restrict key,
                      uint64_t *restrict wild) {
    if (count > 64) count = 64;
    for (int64_t i = 0; i < count; i++)
        if (features[i] < 0 || features[i] >= feature_count) return BAD_CELL;
    for (int64_t first = 0; first < n; first += KEY_BLOCK) {
        int64_t end = first + KEY_BLOCK < n ? first + KEY_BLOCK : n;
        for (int64_t r = first; r < end; r++) {
            key[r] = 0;
            if (wild) wild[r] = 0;
        }
        for (int64_t i = 0; i < count; i++) {
            const int8_t *restrict row = cells + features[i] * n;
            int t = (int)thresholds[i], d = (int)slack[features[i]];
            unsigned bit = (unsigned)(63 - i);
            if (thresholds[i] != t || slack[features[i]] != d) return BAD_CELL;  /* far outside any int8 cell */
            for (int64_t r = first; r < end; r++)
                key[r] |= (uint64_t)(row[r] >= t) << bit;
            if (wild)
                for (int64_t r = first; r < end; r++)
                    wild[r] |= (uint64_t)((row[r] >= t - d) & (row[r] < t + d)) << bit;
        }
    }
    return 0;
}

/* The bucket: the group, then the key's first `prefix` bits (0 < prefix < 64). */
static inline uint64_t bucket_of(int64_t group, uint64_t key, int64_t prefix) {
    return ((uint64_t)group << prefix) | (key >> (64 - prefix));
}

static inline int same_bucket(const int64_t *group, const uint64_t *key, int64_t a, int64_t b, int64_t prefix) {
    return group[a] == group[b] && bucket_of(group[a], key[a], prefix) == bucket_of(group[b], key[b], prefix);
}

/* How many buckets the sorted rows hold. */
int64_t near_bucket_count(const int64_t *group, const uint64_t *key, int64_t n, int64_t prefix) {
    int64_t count = n ? 1 : 0;
    for (int64_t r = 1; r < n; r++)
        count += !same_bucket(group, key, r, r - 1, prefix);
    return count;
}

/* Fills the open-addressing table (size x 3, zeroed, size a power of two above the bucket count):
 * per slot the bucket, its first row and its last row + 1 (end 0 marks an empty slot). */
int64_t near_bucket_fill(const int64_t *group, const uint64_t *key, int64_t n, int64_t prefix, uint64_t *table,
                         int64_t size, uint64_t shift) {
    uint64_t mask = (uint64_t)size - 1;
    int64_t start = 0;
    for (int64_t r = 1; r <= n; r++) {
        if (r < n && same_bucket(group, key, r, r - 1, prefix)) continue;
        uint64_t bucket = bucket_of(group[start], key[start], prefix);
        uint64_t slot = ((bucket * MIX) >> shift) & mask;
        int64_t tries = 0;
        while (table[3 * slot + 2] != 0) {
            if (++tries > size) return BAD_TABLE;
            slot = (slot + 1) & mask;
        }
        table[3 * slot] = bucket;
        table[3 * slot + 1] = (uint64_t)start;
        table[3 * slot + 2] = (uint64_t)r;
        start = r;
    }
    return 0;
}

/* (first row, last row + 1) of the bucket in a table of `size` slots, (0, 0) when it is empty. */
static inline int find(const uint64_t *table, int64_t size, uint64_t shift, uint64_t bucket, int64_t *lo, int64_t *hi) {
    uint64_t mask = (uint64_t)size - 1;
    uint64_t slot = ((bucket * MIX) >> shift) & mask;
    *lo = *hi = 0;
    for (int64_t tries = 0; table[3 * slot + 2] != 0 && tries < size; tries++) {
        if (table[3 * slot] == bucket) {
            *lo = (int64_t)table[3 * slot + 1];
            *hi = (int64_t)table[3 * slot + 2];
            return 1;
        }
        slot = (slot + 1) & mask;
    }
    return 0;
}

/* The first row of the sorted (group, key) at or after (g, k). */
static inline int64_t lower_bound(const int64_t *group, const uint64_t *key, int64_t n, int64_t g, uint64_t k) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (group[mid] < g || (group[mid] == g && key[mid] < k)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The rows of lo..hi-1 (sorted, one group) whose key shifted right by `cut` is `target`. */
static inline void prefix_range(const uint64_t *key, int64_t *lo, int64_t *hi, uint64_t target, unsigned cut) {
    int64_t a = *lo, b = *hi;
    while (a < b) {
        int64_t mid = (a + b) >> 1;
        if ((key[mid] >> cut) < target) a = mid + 1;
        else b = mid;
    }
    int64_t start = a;
    b = *hi;
    while (a < b) {
        int64_t mid = (a + b) >> 1;
        if ((key[mid] >> cut) <= target) a = mid + 1;
        else b = mid;
    }
    *lo = start;
    *hi = a;
}

/* The pair passes: every cell within D (the rule itself for exact cells), then the rule in float64. */
static inline int within(const int8_t *query_cells, const int8_t *train_cells, int64_t cell_count,
                         const int64_t *slack, const double *query_float, const double *train_float,
                         int64_t float_count, const double *float_bounds) {
    for (int64_t f = 0; f < cell_count; f++) {
        int64_t diff = (int64_t)query_cells[f] - (int64_t)train_cells[f];
        if ((diff < 0 ? -diff : diff) > slack[f]) return 0;
    }
    for (int64_t f = 0; f < float_count; f++) {
        if (!(fabs(query_float[f] - train_float[f]) <= float_bounds[f])) return 0;
    }
    return 1;
}

/* Per query in `queries`: is a training row within bounds? Sets found[q]; adds (probes, rows, pairs) to work.
 * The method is near_search's (module docstring): probe every bucket the query's wildcards among the
 * first `prefix` key bits allow (a shorter prefix, by binary search, when it has more than
 * `most_wildcards` there), look the bucket up in the deepest of `levels` its own bits cover, narrow a
 * long range by binary search, then test the rows of the range on both key words, cells and floats. */
int64_t near_search(const int64_t *queries, int64_t query_count,
                    int64_t train_count, const int64_t *train_group, const uint64_t *train_key,
                    const uint64_t *train_key2, const int8_t *train_cells, int64_t cell_count,
                    const double *train_float, int64_t float_count,
                    int64_t row_count, const int64_t *query_group, const uint64_t *query_key,
                    const uint64_t *query_wild, const uint64_t *query_key2, const uint64_t *query_wild2,
                    const int8_t *query_cells, const double *query_float,
                    const int64_t *slack, const double *float_bounds, int64_t prefix,
                    const uint64_t *tables, const int64_t *offsets, const uint64_t *shifts,
                    const int64_t *levels, int64_t level_count, int64_t most_wildcards,
                    uint8_t *found, int64_t *work) {
    int64_t probes = 0, rows = 0, pairs = 0, status = 0;
    for (int64_t i = 0; i < query_count; i++) {
        int64_t q = queries[i];
        if (q < 0 || q >= row_count) { status = BAD_QUERY; break; }
        uint64_t own = query_key[q], wild = query_wild[q];
        int64_t g = query_group[q];
        int64_t length = prefix;
        while (length > 0 && popcount64(wild >> (64 - length)) > most_wildcards) length--;
        uint64_t top = length > 0 ? wild >> (64 - length) : 0;
        uint64_t base = length > 0 ? own >> (64 - length) : 0;
        int64_t known = length + leading_zeros(wild << length);
        if (known > 64) known = 64;
        int64_t level = 0;  /* the deepest table whose bits are probed or known (the same for every probe) */
        while (level + 1 < level_count && levels[level + 1] <= known) level++;
        const uint64_t *table = tables + 3 * offsets[level];
        int64_t size = offsets[level + 1] - offsets[level];
        int64_t depth = levels[level];
        uint64_t care = ~wild, care2 = ~query_wild2[q], own2 = query_key2[q];
        const int8_t *cells = query_cells + q * cell_count;
        const double *floats = query_float + q * float_count;
        uint64_t subset = 0;
        int hit = 0;
        for (;;) {
            probes++;
            uint64_t part = base ^ subset;
            uint64_t probe = (length > 0 ? part << (64 - length) : 0) | (own & low_bits(length));
            int64_t lo, hi, done;
            if (length == prefix && prefix > 0) {
                find(table, size, shifts[level], ((uint64_t)g << depth) | (probe >> (64 - depth)), &lo, &hi);
                if (lo < 0 || hi < lo || hi > train_count) { status = BAD_TABLE; break; }
                done = depth;
            } else {
                lo = lower_bound(train_group, train_key, train_count, g, probe & ~low_bits(length));
                hi = lo;  /* the range ends where the prefix changes */
                while (hi < train_count && train_group[hi] == g &&
                       (length == 0 || (train_key[hi] >> (64 - length)) == part))
                    hi++;
                done = length;
            }
            if (known > done && hi - lo > NARROW)
                prefix_range(train_key, &lo, &hi, probe >> (64 - known), (unsigned)(64 - known));
            rows += hi - lo;
            for (int64_t start = lo; start < hi && !hit; start += RUN) {
                int64_t stop = start + RUN < hi ? start + RUN : hi;
                /* a branch-free pass the compiler vectorizes: which rows of the run agree on the first key word? */
                uint64_t agree = 0;
                for (int64_t r = start; r < stop; r++)
                    agree |= (uint64_t)(((train_key[r] ^ own) & care) == 0) << (r - start);
                while (agree) {
                    int64_t r = start + trailing_zeros(agree);
                    agree &= agree - 1;
                    if ((train_key2[r] ^ own2) & care2) continue;
                    pairs++;
                    if (within(cells, train_cells + r * cell_count, cell_count, slack, floats,
                               train_float + r * float_count, float_count, float_bounds)) {
                        hit = 1;
                        break;
                    }
                }
            }
            if (hit) break;
            subset = (subset - top) & top;  /* the next subset of the wildcards */
            if (subset == 0) break;
        }
        if (status) break;
        found[q] = (uint8_t)hit;
    }
    work[0] += probes;
    work[1] += rows;
    work[2] += pairs;
    return status;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_near_kernel",
                                    "The near-copy search's compiled loops (plain C, called through ctypes).", 0};

PyMODINIT_FUNC PyInit__near_kernel(void) { return PyModule_Create(&module); }
