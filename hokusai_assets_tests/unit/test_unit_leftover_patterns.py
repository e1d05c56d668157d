"""The lookaround-free leftover-PII patterns find PII exactly where the detectors' regexes do.

``LEFTOVER_PII_PATTERNS`` run in the clean-data GX check over Arrow strings, i.e. in
RE2; they must answer "does this text hold an email / SSN / 64-hex key?" as
``EMAIL_RE``, ``SSN_RE`` and ``ETHKEY_RE`` answer it, for every text. Checked on the
labelled PII corpus, on hand-made edge cases and on generated near-misses, in
Python's engine and in RE2 alike.
"""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hokusai.pii.scrub import LEFTOVER_PII_PATTERNS
from hokusai.pii.patterns import EMAIL_RE, ETHKEY_RE, SSN_RE
from hokusai.harness.pii_corpus import faker_pool, make_corpus

REFERENCE = {"email": EMAIL_RE, "ssn": SSN_RE, "ethkey": ETHKEY_RE}
KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

EDGE_CASES = [
    # emails: the character before and after decides
    "a@b.co", "x a@b.co y", ".a@b.co", "+a@b.co", "%a@b.co", "-a@b.co", "_a@b.co", "é a@b.co",
    "a@b.co-", "a@b.co_", "a@b.co.", "a@b.c", "a@b.co\n", "mail:a@b.co,", "a@-b.co", "a@b-.co",
    "jane.doe+x@mail.example.co.uk", "a@" + "b" * 62 + ".co", "a@" + "b" * 63 + ".co",
    "a" * 64 + "@b.co", "a" * 65 + "@b.co", "[pii:email:0123456789abcdef01234567]",
    # SSNs: area, group and serial rules, separators and boundaries
    "123-45-6789", "000-12-3456", "666-12-3456", "665-12-3456", "667-12-3456", "899-12-3456",
    "900-12-3456", "001-01-0001", "123-00-4567", "123-45-0000", "123 45 6789", "123-45 6789",
    "123-45-6789-", "123-45-6789-x", "123-45-6789-1", "123-45-6789-\n", "-123-45-6789",
    "a123-45-6789", "1123-45-6789", "123-45-67890", "123-45-6789a", "ssn 123-45-6789.",
    "606-12-3456", "660-12-3456", "669-12-3456", "676-12-3456", "099-99-9999",
    # 64-hex keys, with and without 0x, and their neighbours
    KEY, "0x" + KEY, "0X" + KEY, "key=" + KEY + ";", "x" + KEY, KEY + "0", KEY[:-1],
    "0x" + KEY[:-1], "00x" + KEY, "_" + KEY, KEY + "_", "-" + KEY + "-", "0" + KEY,
    "1x" + KEY, "0x0x" + KEY, "\n" + KEY + "\n",
    "", " ", "nothing here", "0x" + "ab" * 20,
]

_PIECES = ["a", "Z", "0", "9", "6", "x", "X", "f", "@", ".", "-", "_", "+", "%", " ", "\n", "é",
           "co", "ab@cd.ef", "123", "45", "6789", "666", "000", "00", "0x", KEY[:32], KEY[32:]]


def _near_misses(count: int, seed: int) -> list[str]:
    """Strings stitched from the pieces the patterns care about: boundaries, digits, hex."""
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 14))) for _ in range(count)]


def _corpus_texts() -> list[str]:
    corpus = make_corpus(rows=600, seed=11)
    texts = [t for column in corpus.frame for t in corpus.frame[column] if isinstance(t, str)]
    rng = random.Random(5)
    for kind in ("email", "ssn", "ethkey"):
        for value in faker_pool(kind, 200, seed=3):
            left, right = rng.choice(_PIECES), rng.choice(_PIECES)
            texts += [value, f"{left}{value}{right}", f"note: {value}."]
    return texts


TEXTS = EDGE_CASES + _corpus_texts() + _near_misses(40_000, seed=1)


@pytest.mark.parametrize("kind", sorted(REFERENCE))
def test_patterns_agree_with_the_detectors_regexes_in_python_and_re2(kind):
    pattern = LEFTOVER_PII_PATTERNS[kind]
    expected = [REFERENCE[kind].search(text) is not None for text in TEXTS]
    in_python = [re.search(pattern, text) is not None for text in TEXTS]
    in_re2 = pc.match_substring_regex(pa.array(TEXTS, pa.string()), pattern).to_pylist()
    disagree = [text for text, a, b, c in zip(TEXTS, expected, in_python, in_re2) if not a == b == c]
    assert not disagree, disagree[:10]
    assert 50 < sum(expected) < len(TEXTS) - 50  # both answers well represented


def test_edge_cases_answer_as_the_rules_say():
    found = {kind: {t for t in EDGE_CASES if re.search(LEFTOVER_PII_PATTERNS[kind], t)} for kind in REFERENCE}
    assert {"a@b.co", "x a@b.co y", "a@b.co.", "a@b.co\n", "mail:a@b.co,"} <= found["email"]
    assert ".a@b.co" not in found["email"] and "a@b.co-" not in found["email"]
    assert {"123-45-6789", "123 45 6789", "123-45-6789-x", "665-12-3456", "667-12-3456"} <= found["ssn"]
    assert not {"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000",
                "123-45-6789-1", "-123-45-6789", "123-45 6789"} & found["ssn"]
    assert {KEY, "0x" + KEY, "key=" + KEY + ";", "\n" + KEY + "\n"} <= found["ethkey"]
    assert not {KEY + "0", "x" + KEY, "_" + KEY, "00x" + KEY, "0x" + "ab" * 20} & found["ethkey"]
