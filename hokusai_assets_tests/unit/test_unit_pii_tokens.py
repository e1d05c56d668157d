"""``hokusai.pii.tokens``: the batch path gives the very tokens ``pii_token`` gives, value by value."""

from __future__ import annotations

import hmac
import random

import pytest

from hokusai.pii.tokens import Tokenizer, normalize_pii, normalized_utf8, pii_key, pii_token

KEY = pii_key(b"unit-secret-" + b"s" * 32, "unit-token")
ALPHABET = "aZ09@._-+ \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f" + "\xa0\u2003\x85İßΣé"


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))) for _ in range(count)]


CASES = ["Jane.Doe@Example.COM", "  jane.doe@example.com\t", " ", "", "\x1c\x1d", "Ünïcode@Example.com",
         "İstanbul Street  12", "Mary\u2003Ann", "John\x1fSmith", "a\xa0b", "ends with space ", "\x85x\x85"]


@pytest.mark.parametrize("kind", ["email", "name", "address", "dob", "passport", "phone", "card", "iban", "ssn"])
def test_normalized_utf8_is_normalize_pii_encoded(kind):
    texts = CASES + random_texts(3000, seed=len(kind))
    expected = [normalize_pii(kind, t).encode("utf-8") if t.strip() else None for t in texts]
    assert normalized_utf8(kind, texts) == expected


def test_normalized_utf8_of_nothing():
    assert normalized_utf8("email", []) == []


@pytest.mark.parametrize("key", [KEY, b"k" * 100, b""])
def test_tokens_are_plain_hmac_sha256_tokens(key):
    texts = CASES + random_texts(500, seed=7)
    tokens = Tokenizer(key).tokens("email", texts)
    for text, token in zip(texts, tokens):
        if not text.strip():
            assert token is None
            continue
        digest = hmac.digest(key, normalize_pii("email", text).encode("utf-8"), "sha256").hex()
        assert token == f"[pii:email:{digest[:24]}]" == pii_token(key, "email", text) == Tokenizer(key).token("email", text)


def test_a_lone_surrogate_fails_as_it_did_value_by_value():
    with pytest.raises(UnicodeEncodeError):
        Tokenizer(KEY).tokens("email", ["a@b.com", "\ud800@b.com"])
