"""PII tokens: ``[pii:<kind>:<24 hex>]``, HMAC-SHA256 under a per-token key of the normalized value.

A PII-named column of a million distinct values (``customer_email``) needs a
million HMACs; that loop is most of a scrub's cost, so ``Tokenizer.tokens`` keeps
it tight: the normalization of ASCII values runs in Arrow (the same result as
``normalize_pii``, which still handles every other value), HMAC's padded-key
states are built once and copied, and the SHA-256 used is CPython's built-in one,
whose copies are cheaper than OpenSSL's for short messages. The bytes are plain
HMAC-SHA256 (RFC 2104) either way.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hokusai.pii.patterns import find_pii, ipv6_canonical

try:  # CPython's own SHA-256 (3.11: _sha256, 3.12+: _sha2); same digests as OpenSSL's
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - depends on the Python build
    try:
        from _sha2 import sha256 as _sha256
    except ImportError:
        _sha256 = hashlib.sha256

TOKEN_HEX_CHARS = 24  # 96 bits: no collision in any plausible contribution
KEY_CONTEXT = b"hokusai-pii-v1:"


def pii_key(secret: bytes, token_id: str) -> bytes:
    """The hashing key of one token's data: HMAC(secret, token_id)."""
    return hmac.digest(secret, KEY_CONTEXT + token_id.encode("utf-8"), "sha256")


def pii_token(key: bytes, kind: str, value: str) -> str:
    """The replacement for one PII value: ``[pii:kind:hex]`` of its normalized form."""
    digest = hmac.digest(key, normalize_pii(kind, value).encode("utf-8"), "sha256")
    return f"[pii:{kind}:{digest.hex()[:TOKEN_HEX_CHARS]}]"


_NON_DIGIT = re.compile(r"[^0-9]")
_PHONE_TRUNK = re.compile(r"^(?:\+([0-9]+) ?\(0\)|00(?=[1-9]))")
_PHONE_JUNK = re.compile(r"[^0-9+]")
# Kinds whose normalization is "words joined by one space, lower case" (the default below).
_WORDS_KINDS = frozenset({"name", "address", "dob", "passport"})


def normalize_pii(kind: str, value: str) -> str:
    """One spelling per value, so ``A@X.com`` in a column and ``a@x.com`` in text join."""
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind in ("card", "ssn"):
        return _NON_DIGIT.sub("", value)
    if kind == "phone":  # +44 (0)20 …, 0044 20 …, +44 20 … are one number
        value = _PHONE_TRUNK.sub(lambda m: f"+{m.group(1) or ''}", value)
        return _PHONE_JUNK.sub("", value)
    if kind == "ipv4":
        return value  # detection already refused leading zeros: one spelling per address
    if kind == "ipv6":
        return ipv6_canonical(value) or value.lower()
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value.lower()
    if kind == "iban":
        return value.replace(" ", "").upper()
    if kind == "ethkey":
        return value.lower().removeprefix("0x")
    return " ".join(value.split()).lower()


# The ASCII characters Python's str.strip() and str.split() treat as whitespace.
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_ASCII_SPACE_RUN = "[\t\n\x0b\x0c\r\x1c-\x1f ]+"


def normalized_utf8(kind: str, texts: Sequence[str]) -> list[bytes | None]:
    """``normalize_pii(kind, t).encode()`` for each text, None where ``t.strip()`` is empty.

    Emails and word-like kinds are normalized in Arrow when the text is ASCII (where
    Arrow's trimming, spacing and lower-casing are exactly Python's); any other
    value goes through ``normalize_pii``.
    """
    def in_python() -> list[bytes | None]:
        return [normalize_pii(kind, t).encode("utf-8") if t.strip() else None for t in texts]

    if kind != "email" and kind not in _WORDS_KINDS or not len(texts):
        return in_python()
    try:
        array = pa.array(texts, type=pa.string())
    except (pa.ArrowException, UnicodeError):  # e.g. a lone surrogate: Python says what is wrong
        return in_python()
    if kind == "email":
        trimmed = pc.utf8_trim(array, characters=_ASCII_SPACE)
    else:
        trimmed = pc.utf8_trim(pc.replace_substring_regex(array, _ASCII_SPACE_RUN, " "), characters=" ")
    out = pc.if_else(pc.equal(pc.binary_length(trimmed), 0), None, pc.ascii_lower(trimmed))
    values = out.cast(pa.binary()).to_pylist()
    for index in np.flatnonzero(~pc.string_is_ascii(array).to_numpy(zero_copy_only=False)).tolist():
        text = texts[index]
        values[index] = normalize_pii(kind, text).encode("utf-8") if text.strip() else None
    return values


class Tokenizer:
    """``pii_token`` for many values: HMAC's padded-key states are built once and copied.

    Same bytes as ``hmac.digest`` (RFC 2104) at ~1.6 µs a value instead of ~5.
    """

    def __init__(self, key: bytes):
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = _sha256(bytes(b ^ 0x36 for b in block))
        self._outer = _sha256(bytes(b ^ 0x5C for b in block))

    def token(self, kind: str, value: str) -> str:
        inner = self._inner.copy()
        inner.update(normalize_pii(kind, value).encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return f"[pii:{kind}:{outer.hexdigest()[:TOKEN_HEX_CHARS]}]"

    def tokens(self, kind: str, texts: Sequence[str]) -> list[str | None]:
        """``token(kind, t)`` for each text; None for a blank one (it is kept as it was)."""
        inner_copy, outer_copy, prefix = self._inner.copy, self._outer.copy, f"[pii:{kind}:"
        out: list[str | None] = []
        append = out.append
        for message in normalized_utf8(kind, texts):
            if message is None:
                append(None)
                continue
            inner = inner_copy()
            inner.update(message)
            outer = outer_copy()
            outer.update(inner.digest())
            append(prefix + outer.hexdigest()[:TOKEN_HEX_CHARS] + "]")
        return out


def hash_values(key: bytes, kind: str, texts: Sequence[str]) -> list[str | None]:
    """``Tokenizer(key).tokens(kind, texts)``: a PII-named column's tokens, in a worker process or here."""
    return Tokenizer(key).tokens(kind, texts)


def replace_found_pii(key: bytes, items: Sequence[tuple[str, frozenset[str], frozenset[str]]]
                      ) -> list[tuple[str, list[str]] | None]:
    """For each (text, kinds it may hold, kinds to skip): the text with its PII replaced
    by tokens and the kinds replaced, or None if it holds none (in a worker process or here)."""
    tokens, out = Tokenizer(key), []
    for text, kinds, skip in items:
        matches = find_pii(text, skip, kinds)
        if not matches:
            out.append(None)
            continue
        parts, cursor = [], 0
        for kind, start, end in matches:
            parts += [text[cursor:start], tokens.token(kind, text[start:end])]
            cursor = end
        parts.append(text[cursor:])
        out.append(("".join(parts), [m.kind for m in matches]))
    return out
