"""PII detection and scrubbing: measured on a labelled corpus, pinned by unit cases.

The corpus (``pii_corpus``) is realistic Faker data in four locales with hard
negatives; the per-kind precision/recall table is printed (``pytest -s``) and
each figure must be at least 0.99.
"""

import os
import re
import secrets
from collections import Counter
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hokusai.pii import scrub as pii
from hokusai.pii.tokens import Tokenizer
from hokusai.pii.scrub import (LEFTOVER_PII_PATTERNS, column_pii_kind, contains_pii, find_pii,
                         is_public_hash_column, pii_key, pii_token, scrub_frame)
from hokusai.pii.patterns import iban_ok, luhn_ok
from hokusai.pii.secret import DEV_SECRET_RELPATH, ENV_VAR, load_pii_secret
from hokusai.harness.pii_corpus import (TEXT_COLUMNS, format_scores, make_corpus,
                                             score_values)

KEY = pii_key(b"test-secret-" + b"s" * 32, "digits-demo")
NAMED_COLUMNS = {"customer_email": "email", "phone_number": "phone", "first_name": "name",
                 "last_name": "name", "street_address": "address", "date_of_birth": "dob",
                 "ssn": "ssn", "card_number": "card", "iban": "iban", "ip_address": "ip",
                 "private_key": "ethkey"}
HARMLESS_COLUMNS = ["order_ref", "created_at", "app_version", "amount_text", "wallet_address",
                    "tx_hash", "phone_type", "country", "shipping_cost", "zip_count", "ip_count",
                    "email_count", "label"]


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(rows=2000)


@pytest.fixture(scope="module")
def small_corpus():
    return make_corpus(rows=400, seed=7)


# --- measured on the corpus -------------------------------------------------------------

def test_precision_and_recall_per_kind_are_at_least_0_99(corpus):
    scores = score_values(corpus)
    print("\n" + format_scores(scores))
    for kind, score in scores.items():
        assert score["tp"] >= 300, f"{kind}: too few labelled values to measure"
        assert score["precision"] >= 0.99, (kind, score)
        assert score["recall"] >= 0.99, (kind, score)


def test_the_prefilter_never_hides_a_finding(corpus):
    """Gating by the RE2 prefilter finds exactly what a full scan finds."""
    for column in [*TEXT_COLUMNS, "order_ref", "amount_text", "created_at"]:
        texts = [t for t in corpus.frame[column] if isinstance(t, str)]
        gated = dict(pii._candidates(pii._strings(np.array(texts, dtype=object))[0]))
        for position, text in enumerate(texts):
            full = find_pii(text)
            assert find_pii(text, kinds=gated.get(position, frozenset())) == full, text


def test_no_raw_pii_value_survives_scrubbing(small_corpus):
    """Every labelled value is searched in every output cell.

    A value may also be an ordinary word ("Klein" is a surname and German for
    small): it survives only if it occurs more often than it did outside its
    labelled places in the input.
    """
    def joined(frame):
        return "\n".join(str(v) for column in frame for v in frame[column])

    def count(value, text):
        return len(re.findall(rf"(?<!\w){re.escape(value)}(?!\w)", text))

    before = joined(small_corpus.frame)
    after = joined(scrub_frame(small_corpus.frame, KEY, protected_columns=["label"]).frame)
    labelled = Counter(truth.value for truth in small_corpus.truths)
    survivors = [value for value, n in labelled.items()
                 if value in after and count(value, after) > count(value, before) - n]
    assert not survivors, survivors[:5]


def test_scrub_hashes_pii_columns_and_leaves_look_alikes_alone(small_corpus):
    frame = small_corpus.frame
    result = scrub_frame(frame, KEY, protected_columns=["label", "shipping_cost"])
    assert sorted(result.columns_hashed) == sorted(NAMED_COLUMNS)
    for column in HARMLESS_COLUMNS:
        pd.testing.assert_series_equal(result.frame[column], frame[column], check_dtype=False)
    for column, kind in NAMED_COLUMNS.items():
        assert result.frame[column].str.fullmatch(rf"\[pii:{kind}:[0-9a-f]{{24}}\]").all(), column
    expected = Counter(t.kind for t in small_corpus.truths)  # every labelled value, once
    assert result.counts == dict(sorted(expected.items()))
    changed = sum(int((~((result.frame[c] == frame[c]) | frame[c].isna())).sum()) for c in frame)
    assert result.cells_changed == changed


def test_contains_pii_before_and_after(small_corpus):
    result = scrub_frame(small_corpus.frame, KEY)
    for column in TEXT_COLUMNS:
        labelled = {t.row for t in small_corpus.truths if t.column == column}
        assert set(np.flatnonzero(contains_pii(small_corpus.frame[column]))) == labelled
        assert not contains_pii(result.frame[column]).any()
    assert not contains_pii(result.frame["tx_hash"]).any()  # public hashes are not PII


def test_leftover_patterns_match_raw_pii_and_never_a_scrubbed_column(small_corpus):
    result = scrub_frame(small_corpus.frame, KEY)
    for kind, pattern in LEFTOVER_PII_PATTERNS.items():
        assert small_corpus.frame["comment"].str.contains(pattern, regex=True, na=False).any(), kind
        for column in result.frame:
            if result.frame[column].dtype == object and not (
                    kind == "ethkey" and is_public_hash_column(column)):
                hits = result.frame[column].astype(str).str.contains(pattern, regex=True)
                assert not hits.any(), (kind, column, result.frame[column][hits].head(2).tolist())


def test_scrubbing_is_idempotent_and_leaves_the_input_alone(small_corpus):
    before = small_corpus.frame.copy()
    once = scrub_frame(small_corpus.frame, KEY).frame
    twice = scrub_frame(once, KEY)
    pd.testing.assert_frame_equal(small_corpus.frame, before)
    text_columns = list(TEXT_COLUMNS)
    pd.testing.assert_frame_equal(twice.frame[text_columns], once[text_columns])


# --- per kind: what must and must not be found ------------------------------------------

POSITIVES = [
    ("email", "Jane.Doe+news@mail.example.co.uk"), ("email", "j_smith@example.org"),
    ("email", "x@sub-domain.example.museum"),
    ("phone", "+44 20 7946 0958"), ("phone", "(555) 123-4567"), ("phone", "555-123-4567"),
    ("phone", "+1-202-555-0143"), ("phone", "+49 30 123456"), ("phone", "020 7946 0958"),
    ("phone", "+33 1 23 45 67 89"), ("phone", "06 12 34 56 78"), ("phone", "+1 (415) 555-2671"),
    ("phone", "555.123.4567"), ("phone", "1-800-555-0199"), ("phone", "+91 98765 43210"),
    ("phone", "+81 3-1234-5678"), ("phone", "030/1234567"), ("phone", "0044 20 7946 0958"),
    ("phone", "+49 (0)30 1234567"), ("phone", "(0161) 496 0066"), ("phone", "797-386-9073x6625"),
    ("phone", "001-274-558-7042x16286"), ("phone", "+44(0)115 4960914"), ("phone", "01134960123"),
    ("ssn", "298-97-5885"), ("ssn", "123 45 6789"),
    ("card", "4111 1111 1111 1111"), ("card", "4111-1111-1111-1111"), ("card", "4111111111111111"),
    ("card", "3782 822463 10005"), ("card", "5555555555554444"), ("card", "6011111111111117"),
    ("card", "4222222222222"), ("card", "3566002020360505"),
    ("ipv4", "192.168.1.20"), ("ipv4", "8.8.8.8"), ("ipv4", "255.255.255.255"),
    ("ipv6", "2001:db8::8a2e:370:7334"), ("ipv6", "fe80::1ff:fe23:4567:890a"),
    ("ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"), ("ipv6", "::ffff:192.0.2.128"),
    ("iban", "DE89 3704 0044 0532 0130 00"), ("iban", "GB82WEST12345698765432"),
    ("iban", "FR1420041010050500013M02606"), ("iban", "NL91ABNA0417164300"),
    ("ethkey", "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"),
    ("ethkey", "4C0883A69102937D6231471B5DBB6204FE5129617082792AE468D01A3F362318"),
]


@pytest.mark.parametrize(("kind", "value"), POSITIVES, ids=[f"{k}-{v}" for k, v in POSITIVES])
def test_finds_pii_inside_text(kind, value):
    for text in (f"Hi, see {value} and thanks.", f"({value})", value, f"<{value}>."):
        found = [(m.kind, text[m.start:m.end]) for m in find_pii(text)]
        assert found == [(kind, value)], text


@pytest.mark.parametrize(("text", "value"), [
    ("Call me 5272868387 tonight", "5272868387"),
    ("Rufen Sie mich unter 2622709043 an", "2622709043"),
    ("SSN: 123456789 on file", "123456789"),
])
def test_bare_numbers_are_pii_when_a_word_says_so(text, value):
    assert [text[m.start:m.end] for m in find_pii(text)] == [value]


HELD_OUT_LOCALES = ("it_IT", "es_ES", "nl_NL", "en_AU", "en_IN", "en_CA", "pt_BR", "pl_PL",
                    "sv_SE", "de_AT", "ja_JP", "en_IE")


def test_phones_of_locales_the_corpus_never_saw_are_found_after_a_phone_word():
    """Held out: layouts the rules were not written for still count after "call me at"."""
    from faker import Faker

    missed, total = [], 0
    for locale in HELD_OUT_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(11)
        for _ in range(100):
            phone, total = fake.phone_number(), total + 1
            text = f"Please call me at {phone} tomorrow."
            if [text[m.start:m.end] for m in find_pii(text)] != [phone]:
                missed.append((locale, phone))
    print(f"\nheld-out phones found: {1 - len(missed) / total:.3f} of {total}")
    assert len(missed) / total <= 0.01, missed[:10]


NEGATIVES = [
    "2024-01-15", "15.01.2024", "15/01/2024 10:30", "2024-01-15 10:30:00", "2024-01-15T10:30:00Z",
    "v1.2.3", "v10.4.12", "version 1.2.3.4", "v1.2.3.4", "build 10.0.19045.2965", "3.14159",
    "123456789", "1234567890", "Invoice 5272868387 paid", "12,345,678", "1 234 567,89 €",
    "$1,234,567.89", "12345678.90", "0.000123456789", "1700000000000", "10:30:45", "ratio 3:2",
    "00:1A:2B:3C:4D:5E", "0x52908400098527886E0F7030069857D2E4169EE7",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709", "123e4567-e89b-12d3-a456-426614174000",
    "ORD-2024-001234", "ISBN 978-3-16-148410-0", "tracking 1Z999AA10123456784",
    "4111 1111 1111 1112", "Order number: 4111111111111111", "1234-5678-9012-3456-7890",
    "DE89 3704 0044 0532 0130 01", "GB00WEST12345698765432", "XX89370400440532013000",
    "000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "12-3456789",
    "192.168.1.300", "1.2.3.4.5", "192.168.01.1", "std::vector", "a :: b", "2001:db8",
    "call me at 5", "page 12 of 345", "ZIP 90210-1234", "+5 points", "score 95.5%",
    "[pii:phone:123456789012345678901234]", "[pii:ethkey:0123456789abcdef01234567]",
    "Call me at 5pm on 2024-01-15", "Tel. hours 09:00-17:00", "phone: invoice 1234567890",
    "mobile 12.345.678,90 €", "Phone serial 1234-5678-90", "mobile ts 1700000000000",
    "call me at 15/01/2024 10:30", "tracking 9400 0123 4567 8901 23",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_does_not_flag_look_alikes(text):
    assert find_pii(f"note: {text} end") == []


def test_a_64_hex_string_is_a_key_in_text_and_kept_in_a_tx_hash_column():
    tx = "0x" + "ab" * 32
    frame = pd.DataFrame({"tx_hash": [tx], "note": [f"tx {tx} confirmed"]})
    result = scrub_frame(frame, KEY)
    assert result.frame.at[0, "tx_hash"] == tx
    assert result.frame.at[0, "note"].startswith("tx [pii:ethkey:")
    assert result.counts == {"ethkey": 1}


def test_checks():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")


# --- keyed tokens -----------------------------------------------------------------------

def test_tokens_are_keyed_stable_and_never_the_raw_value():
    email = "jane.doe@example.com"
    token = pii_token(KEY, "email", email)
    assert re.fullmatch(r"\[pii:email:[0-9a-f]{24}\]", token)
    assert email not in token
    assert pii_token(KEY, "email", email) == token
    assert pii_token(KEY, "email", " Jane.Doe@Example.COM ") == token  # normalized
    assert pii_token(pii_key(b"test-secret-" + b"s" * 32, "other-token"), "email", email) != token
    assert pii_token(pii_key(b"another-secret-" + b"s" * 32, "digits-demo"), "email", email) != token
    assert pii_token(KEY, "phone", "+44 (0)20 7946 0958") == pii_token(KEY, "phone", "+44 20 7946 0958")
    assert pii_token(KEY, "card", "4111 1111 1111 1111") == pii_token(KEY, "card", "4111-1111-1111-1111")


def test_the_fast_tokenizer_is_plain_hmac_sha256():
    for key in (KEY, b"k" * 100, b""):
        tokens = Tokenizer(key)
        for value in ("a@b.com", " x ", "ünïcode"):
            assert tokens.token("email", value) == pii_token(key, "email", value)


def test_same_value_in_a_column_and_in_text_gives_the_same_token():
    frame = pd.DataFrame({"email": ["Jane@Example.com"], "comment": ["mail jane@example.com pls"]})
    result = scrub_frame(frame, KEY).frame
    assert result.at[0, "comment"] == f"mail {result.at[0, 'email']} pls"


# --- column names -----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [
    ("email", "email"), ("e_mail", "email"), ("E-Mail", "email"), ("customerEmail", "email"),
    ("email_address", "email"), ("phone", "phone"), ("mobile", "phone"), ("phone_number", "phone"),
    ("ssn", "ssn"), ("social_security", "ssn"), ("social_security_number", "ssn"),
    ("card_number", "card"), ("cc_number", "card"), ("CreditCardNumber", "card"), ("iban", "iban"),
    ("ip_address", "ip"), ("IPAddress", "ip"), ("client_ip", "ip"), ("private_key", "ethkey"),
    ("first_name", "name"), ("last_name", "name"), ("full_name", "name"), ("FirstName", "name"),
    ("address", "address"), ("street", "address"), ("billing_address", "address"),
    ("address_line_1", "address"), ("address1", "address"), ("zip", "address"),
    ("dob", "dob"), ("date_of_birth", "dob"), ("birthdate", "dob"), ("passport", "passport"),
    ("passport_number", "passport"),
])
def test_pii_column_names(name, kind):
    assert column_pii_kind(name) == kind


@pytest.mark.parametrize("name", [
    "shipping_cost", "zip_count", "ip_count", "email_count", "has_email", "is_mobile",
    "phone_type", "email_domain", "ip_country", "num_emails", "wallet_address", "contract_address",
    "name", "product_name", "file_name", "tx_hash", "label", "amount", "description", "shipping",
    "telemetry", "hotel", "dobby", "emailed_at", "addressable_market", "tip",
])
def test_harmless_column_names(name):
    assert column_pii_kind(name) is None


def test_public_hash_columns():
    assert all(map(is_public_hash_column, ["tx_hash", "transaction_hash", "txHash", "block_hash", "txid"]))
    assert not any(map(is_public_hash_column, ["hash", "private_key", "key_hash_count", "comment"]))


def test_protected_columns_keep_their_name_but_lose_their_pii():
    frame = pd.DataFrame({"email": ["a@b.com"], "review": ["call +1-202-555-0143"], "x": [1.5],
                          "label": [1], "wallet_address": ["0x" + "1" * 40]})
    result = scrub_frame(frame, KEY, protected_columns=["email", "review", "x", "label"])
    assert result.columns_hashed == []
    assert result.frame.at[0, "email"].startswith("[pii:email:")  # found by value instead
    assert result.frame.at[0, "review"].startswith("call [pii:phone:")
    assert result.frame.at[0, "x"] == 1.5 and result.frame.at[0, "label"] == 1
    assert result.frame.at[0, "wallet_address"] == "0x" + "1" * 40


def test_missing_values_and_numbers_stay_as_they_are():
    frame = pd.DataFrame({"email": ["a@b.com", None, np.nan, ""], "phone": [4155550143, None, 2, 3],
                          "comment": [None, np.nan, 5, "x"]})
    result = scrub_frame(frame, KEY)
    assert result.frame["email"].isna().tolist() == [False, True, True, False]
    assert result.frame.at[3, "email"] == ""
    assert result.frame.at[0, "phone"] == pii_token(KEY, "phone", "4155550143")
    assert result.frame["comment"].tolist()[2:] == [5, "x"]
    assert result.counts == {"email": 1, "phone": 3}


# --- the secret -------------------------------------------------------------------------

def test_secret_from_the_environment_wins(tmp_path):
    secret = "x" * 40
    assert load_pii_secret(tmp_path, {ENV_VAR: secret}) == secret.encode()
    assert not (tmp_path / DEV_SECRET_RELPATH).exists()


def test_a_short_secret_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ValueError) as error:
        load_pii_secret(tmp_path, {ENV_VAR: "hunter2-but-short"})
    assert "hunter2" not in str(error.value) and ENV_VAR in str(error.value)
    assert "32" in str(error.value)


def test_thirty_one_characters_are_refused_and_thirty_two_accepted(tmp_path):
    secret = secrets.token_hex(16)  # 32 characters
    with pytest.raises(ValueError) as error:
        load_pii_secret(tmp_path, {ENV_VAR: secret[:31]})
    assert f"{ENV_VAR} is too short: 31 characters" in str(error.value) and secret[:31] not in str(error.value)
    assert load_pii_secret(tmp_path, {ENV_VAR: secret}) == secret.encode()
    assert not (tmp_path / DEV_SECRET_RELPATH).exists()


def test_the_dev_secret_is_created_once_private_and_reused(tmp_path):
    first = load_pii_secret(tmp_path, {ENV_VAR: ""})
    path = tmp_path / DEV_SECRET_RELPATH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "DEVELOPMENT" in path.read_text() and len(first) == 64
    os.chmod(path, 0o644)
    assert load_pii_secret(tmp_path, {}) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened
    assert load_pii_secret(tmp_path / "elsewhere", {}) != first
    assert not list(path.parent.glob(".*.tmp"))


def test_a_damaged_dev_secret_is_an_error(tmp_path):
    path = tmp_path / DEV_SECRET_RELPATH
    path.parent.mkdir(parents=True)
    path.write_text("# nothing here\n")
    with pytest.raises(ValueError, match="malformed"):
        load_pii_secret(tmp_path, {})


def test_hokusai_pii_does_not_import_dagster():
    code = "import sys, hokusai.pii.scrub, hokusai.pii.secret; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
