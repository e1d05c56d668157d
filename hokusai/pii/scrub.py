"""Replacing personal data in a contribution with keyed hash tokens.

Two detectors: a column whose *name* says it holds PII (``email``, ``first_name``,
``date_of_birth``…) is hashed whole; every other text column is scanned by
*value* (``hokusai.pii.patterns``) and only the matched substrings are replaced,
so a review that mentions an email keeps its words. Numbers never hold PII by
value; columns the model consumes (``protected_columns``) are never hashed by
name, but their text is still scanned, because privacy wins over a raw feature.

A value becomes ``[pii:<kind>:<24 hex>]``: HMAC-SHA256 under a per-token key
(``pii_key``) of the normalized value. Within one token's data the same value
always gives the same token (joins and dedup keep working); across tokens, or
under another secret, it differs, and without the secret no dictionary reverses
it. Speed: an RE2 prefilter (pyarrow, C++) picks the few cells worth a Python
look and the kinds each may hold, and only those run the exact checks; a
categorical-looking column is scanned once per distinct value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hokusai.pii.patterns import (EMAIL_SEARCH, ETHKEY_SEARCH, PII_KINDS, PREFILTER_ANY_RE2,
                                  PREFILTER_RE2, SSN_SEARCH, TOKEN_RE, PiiMatch, find_pii)
from hokusai.pii.tokens import hash_values, normalize_pii, pii_key, pii_token, replace_found_pii
from hokusai.workers import Task, parts, pool_for

__all__ = ["LEFTOVER_PII_PATTERNS", "PII_KINDS", "PiiMatch", "ScrubResult", "TOKEN_RE",
           "column_pii_kind", "contains_pii", "find_pii", "is_public_hash_column", "normalize_pii",
           "pii_key", "pii_token", "scrub_frame"]

# Regexes that never match a correctly scrubbed text column: shape alone decides these
# kinds. Phones, cards, IBANs and IPs need their checks: use ``contains_pii`` for them.
# (``ethkey`` legitimately remains in a public-hash column, see is_public_hash_column.)
# Lookaround-free, so they run in RE2 too (the GX check gives it Arrow strings).
LEFTOVER_PII_PATTERNS = {"email": EMAIL_SEARCH, "ssn": SSN_SEARCH, "ethkey": ETHKEY_SEARCH}

# Column names, as token sequences. The last match must end the name (a few neutral
# words may follow), so ``email`` and ``billing_email`` match but ``email_count`` and
# ``ip_country`` do not. ``None`` marks public look-alikes that are kept.
_NAME_PHRASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e mail", "mail address", "emailaddress", "courriel"),
    "phone": ("phone", "telephone", "tel", "mobile", "cellphone", "phonenumber", "fax",
              "telefon", "telefonnummer", "handy", "portable"),
    "ssn": ("ssn", "social security", "socialsecurity"),
    "card": ("card number", "cardnumber", "cc number", "cc num", "cc no", "card no",
             "credit card", "creditcard", "card num"),
    "iban": ("iban", "bank account"),
    "ip": ("ip", "ip address", "ipaddress", "ip addr", "ipv4", "ipv6"),
    "ethkey": ("private key", "privatekey", "privkey", "secret key", "mnemonic", "seed phrase"),
    "name": ("first name", "last name", "full name", "middle name", "given name", "family name",
             "maiden name", "surname", "firstname", "lastname", "fullname", "username",
             "user name", "customer name", "contact name", "person name", "patient name",
             "cardholder", "card holder", "holder name", "vorname", "nachname", "prenom",
             "prénom", "nom"),
    "address": ("address", "street", "street address", "streetaddress", "addr", "zip", "zipcode",
                "zip code", "postcode", "postal code", "adresse", "strasse", "straße"),
    "dob": ("dob", "date of birth", "birth date", "birthdate", "birthday", "dateofbirth",
            "geburtsdatum", "date naissance"),
    "passport": ("passport", "passport number", "national id", "driver license",
                 "drivers license"),
}
_PUBLIC_PHRASES = ("wallet address", "wallet", "contract address", "token address")
_PHRASES = {tuple(p.split()): kind for kind, phrases in _NAME_PHRASES.items() for p in phrases}
_PHRASES.update({tuple(p.split()): None for p in _PUBLIC_PHRASES})
_NEUTRAL_SUFFIX = {"number", "num", "no", "nr", "value", "raw", "text", "str", "string", "line",
                   "primary", "main", "full", "home", "work", "personal", "plain", "original",
                   "1", "2", "3", "address", "addr"}
_NEGATING_PREFIX = {"is", "has", "n", "num", "number", "count", "total", "avg", "mean", "min",
                    "max", "sum", "pct", "share", "ratio", "valid", "invalid", "missing", "len"}
_PLURALS = {"emails": "email", "phones": "phone", "addresses": "address", "ips": "ip",
            "ibans": "iban", "names": "name", "keys": "key", "numbers": "number"}
_WALLET = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass
class ScrubResult:
    frame: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)  # values replaced, per PII kind
    columns_hashed: list[str] = field(default_factory=list)  # hashed whole, by name
    cells_changed: int = 0


def _name_tokens(name: object) -> list[str]:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text).lower()
    tokens: list[str] = []
    for token in re.split(r"[\W_]+", text):
        letters = re.fullmatch(r"([^\W\d_]+)(\d+)", token)
        if letters and token not in ("ipv4", "ipv6"):
            tokens.extend(letters.groups())  # address1 -> address, 1
        elif token:
            tokens.append(_PLURALS.get(token, token))
    return tokens


def column_pii_kind(name: object) -> str | None:
    """The PII kind a column's name declares (whole words, not substrings), or None."""
    tokens = _name_tokens(name)
    if not tokens or tokens[0] in _NEGATING_PREFIX:
        return None
    best: tuple[int, str | None] = (0, None)
    for start in range(len(tokens)):
        for size in (3, 2, 1):
            phrase = tuple(tokens[start:start + size])
            if len(phrase) == size and phrase in _PHRASES and size > best[0] and all(
                    t in _NEUTRAL_SUFFIX for t in tokens[start + size:]):
                best = (size, _PHRASES[phrase])
    return best[1]


def is_public_hash_column(name: object) -> bool:
    """``tx_hash``, ``transaction_hash``, ``block_hash``, ``txid``: public 64-hex values."""
    tokens = _name_tokens(name)
    pairs = set(zip(tokens, tokens[1:]))
    return bool({"txid", "txhash", "blockhash"} & set(tokens)) or bool(
        {("tx", "hash"), ("txn", "hash"), ("transaction", "hash"), ("block", "hash"),
         ("tx", "id"), ("transaction", "id")} & pairs)


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return not pd.api.types.is_numeric_dtype(dtype.categories.dtype)
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def _strings(values: np.ndarray) -> tuple[pa.Array, np.ndarray | None]:
    """The column's strings as Arrow (missing -> null), and their rows if some were skipped.

    An object column may mix in numbers; those are not text and cannot hold PII.
    """
    try:
        return pa.array(values, type=pa.string(), from_pandas=True), None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        rows = np.flatnonzero([isinstance(v, str) for v in values])
    return pa.array(values[rows].tolist(), type=pa.string()), rows


def _candidates(array: pa.Array | pa.ChunkedArray) -> Iterator[tuple[int, frozenset[str]]]:
    """(position, kinds it may hold) for each string the RE2 prefilter lets through."""
    hits = pc.indices_nonzero(pc.match_substring_regex(array, PREFILTER_ANY_RE2))
    if not len(hits):
        return
    subset = array.take(hits)
    code = np.zeros(len(hits), dtype=np.int64)
    for bit, kind in enumerate(PII_KINDS):
        matched = pc.match_substring_regex(subset, PREFILTER_RE2[kind])
        code |= np.asarray(matched.to_numpy(zero_copy_only=False), dtype=np.int64) << bit
    hits = hits.to_numpy()
    kinds_of = {c: frozenset(k for b, k in enumerate(PII_KINDS) if c >> b & 1)
                for c in np.unique(code).tolist()}
    for position, c in zip(hits.tolist(), code.tolist()):
        if c:
            yield position, kinds_of[c]


@dataclass
class _Prefiltered:
    """A text column after the C++ pass: the cells worth a Python look, and their kinds."""

    values: np.ndarray  # the column, or its distinct values when ``codes`` is set
    codes: np.ndarray | None  # row -> distinct value
    candidates: list[tuple[int, frozenset[str]]]  # (index into values, kinds it may hold)


def _prefilter(series: pd.Series, arrow: pa.ChunkedArray | None = None) -> _Prefiltered:
    """Runs off the main thread: Arrow's regex kernels release the GIL, so this overlaps
    the Python work (hashing, exact checks) of other columns.

    ``arrow``: the same column as Arrow strings, if the caller has it (no conversion then).
    """
    values, codes = series.to_numpy(dtype=object), None
    if _mostly_repeated(values):  # categorical-looking: scan each distinct value once
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        values = np.asarray(uniques, dtype=object)
        array, rows = _strings(values)
    elif arrow is not None and pa.types.is_string(arrow.type) and len(arrow) == len(values):
        array, rows = arrow.combine_chunks(), None
    else:
        array, rows = _strings(values)
    candidates = [(position if rows is None else int(rows[position]), kinds)
                  for position, kinds in _candidates(array)]
    return _Prefiltered(values, codes, candidates)


def _mostly_repeated(values: np.ndarray) -> bool:
    if len(values) < 20_000:
        return False
    sample = values[:: len(values) // 4096]
    try:
        return len(set(sample.tolist())) < len(sample) // 4
    except TypeError:  # unhashable cells (nested JSON)
        return False


def _scan_column(series: pd.Series, scan: _Prefiltered, key: bytes, skip: frozenset[str],
                 pool: Executor | None) -> Callable[[], tuple[np.ndarray | None, Counter, int]]:
    """Replace PII found by value; the exact checks start now (in the worker pool, if any)
    and the returned call gives (new values or None, kinds found, cells changed)."""
    texts = [(index, kinds) for index, kinds in scan.candidates
             if isinstance(scan.values[index], str)]  # Arrow takes bytes as text; they are not
    indexes = [index for index, _ in texts]
    items = [(scan.values[index], kinds, skip) for index, kinds in texts]
    tasks = [Task(pool, replace_found_pii, key, part) for part in parts(items, pool)] if items else []

    def finish() -> tuple[np.ndarray | None, Counter, int]:
        results = [result for task in tasks for result in task.result()]
        found = {index: result for index, result in zip(indexes, results) if result is not None}
        return _apply_found(series, scan, found)

    return finish


def _apply_found(series: pd.Series, scan: _Prefiltered,
                 found: dict[int, tuple[str, list[str]]]) -> tuple[np.ndarray | None, Counter, int]:
    if not found:
        return None, Counter(), 0
    out = series.to_numpy(dtype=object, copy=True)
    if scan.codes is None:
        for row, (text, _) in found.items():
            out[row] = text
        return out, Counter(k for _, kinds in found.values() for k in kinds), len(found)
    replaced = np.empty(len(scan.values) + 1, dtype=object)  # last slot: missing (-1)
    for index, (text, _) in found.items():
        replaced[index] = text
    rows = replaced[scan.codes] != None  # noqa: E711 (elementwise on an object array)
    out[rows] = replaced[scan.codes[rows]]
    occurrences = np.bincount(scan.codes[rows], minlength=len(scan.values))
    counts: Counter = Counter()
    for index, (_, kinds) in found.items():
        for kind in kinds:
            counts[kind] += int(occurrences[index])
    return out, counts, int(rows.sum())


def _hash_column(series: pd.Series, key: bytes, kind: str,
                 pool: Executor | None) -> Callable[[], tuple[np.ndarray | None, Counter, int]]:
    """Every non-empty value of a PII-named column -> its token; the hashing starts now
    (in the worker pool, if any) and the returned call gives what ``_scan_column``'s does."""
    values, codes = series.to_numpy(dtype=object), None
    if _mostly_repeated(values):  # hash each distinct value once
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        values = np.asarray(uniques, dtype=object)
    present = ~pd.isna(values)
    texts = values[present]
    if pd.api.types.infer_dtype(texts, skipna=False) != "string":
        texts = np.array([value if isinstance(value, str) else _as_text(value) for value in texts], dtype=object)
    if kind == "address" and len(texts) and all(_WALLET.fullmatch(t) for t in texts if t.strip()):
        return lambda: (None, Counter(), 0)  # a column of wallet addresses: public, kept
    tasks = [Task(pool, hash_values, key, kind, part) for part in parts(texts.tolist(), pool)]

    def finish() -> tuple[np.ndarray | None, Counter, int]:
        hashed = np.empty(len(values) + 1, dtype=object)  # None: kept as it was; last slot: missing
        hashed[np.flatnonzero(present)] = np.array([t for task in tasks for t in task.result()], dtype=object)
        if codes is not None:
            hashed = hashed[codes]
        rows = hashed[:len(series)] != None  # noqa: E711 (elementwise on an object array)
        changed = int(rows.sum())
        if not changed:
            return None, Counter(), 0
        out = series.to_numpy(dtype=object, copy=True)
        out[rows] = hashed[:len(series)][rows]
        return out, Counter({kind: changed}), changed

    return finish


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def scrub_frame(frame: pd.DataFrame, key: bytes, protected_columns: Collection[str] = (),
                arrow: pa.Table | None = None) -> ScrubResult:
    """A copy of ``frame`` with every PII value replaced by its keyed token.

    A PII-named column (not protected) is hashed whole; every other text column
    has the PII inside its values replaced. Numbers are left alone. A helper thread
    prefilters the text columns while the named columns are hashed; for a large
    frame the hashing and the exact checks run in worker processes (``hokusai.workers``).
    ``arrow``: the Arrow table ``frame`` was converted from, if there is one.
    """
    protected = set(protected_columns)
    pool = pool_for(len(frame))
    out = frame.copy(deep=False)
    result = ScrubResult(frame=out)
    counts: Counter = Counter()
    named, scanned = [], []
    for position, column in enumerate(frame.columns):
        kind = None if column in protected else column_pii_kind(column)
        if kind is not None:
            named.append((position, kind))
        elif _is_text(frame.iloc[:, position]):
            scanned.append(position)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pii-prefilter") as prefilter:
        prefiltered = {p: prefilter.submit(_prefilter, frame.iloc[:, p], arrow.column(p) if arrow is not None else None)
                       for p in scanned}
        started = [(p, kind, _hash_column(frame.iloc[:, p], key, kind, pool)) for p, kind in named]
        for p in scanned:
            skip = frozenset({"ethkey"}) if is_public_hash_column(frame.columns[p]) else frozenset()
            started.append((p, None, _scan_column(frame.iloc[:, p], prefiltered[p].result(), key, skip, pool)))
    for position, kind, finish in started:
        values, found, changed = finish()
        if values is None:
            continue
        column = frame.columns[position]
        if kind is not None:
            result.columns_hashed.append(str(column))
        out.isetitem(position, pd.Series(values, index=frame.index, name=column, dtype=object))
        result.cells_changed += changed
        counts.update(found)
    result.columns_hashed.sort(key=list(map(str, frame.columns)).index)
    result.counts = dict(sorted(counts.items()))
    return result


def contains_pii(series: pd.Series) -> pd.Series:
    """Per cell: does it still hold a raw PII value? (Tokens don't count; numbers never do.)"""
    flags = np.zeros(len(series), dtype=bool)
    if len(series) and _is_text(series):
        scan = _prefilter(series)
        skip = frozenset({"ethkey"}) if is_public_hash_column(series.name) else frozenset()
        hit = np.zeros(len(scan.values) + 1, dtype=bool)  # last slot: missing (-1)
        for index, kinds in scan.candidates:
            text = scan.values[index]
            hit[index] = isinstance(text, str) and bool(find_pii(text, skip, kinds))
        flags = hit[:-1] if scan.codes is None else hit[scan.codes]
    return pd.Series(flags, index=series.index, name=series.name)
