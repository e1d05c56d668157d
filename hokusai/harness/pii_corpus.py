"""A labelled PII corpus: realistic personal data (Faker, four locales) with ground truth.

Used by the tests and by ``bench/pii_bench.py`` to measure detection precision and
recall per kind. Each row has PII in dedicated, PII-named columns (found by column
name) and PII inside free text in three languages (found by value), next to hard
negatives that look like PII but are not: order ids, prices, dates, timestamps,
versions, build numbers, epoch milliseconds, UUIDs, MAC addresses, 40-hex wallet
addresses, 64-hex tx hashes in a ``tx_hash`` column, and invalid look-alikes
(Luhn-failing cards, bad IBAN check digits, SSN area 000, octets above 255).

Cards are Visa (13/16/19), Mastercard, Amex, Discover, Diners and JCB, bare or
grouped as printed; Faker's Maestro numbers (12 digits) are below the 13-digit
floor and left out.

Labelling policy for 64-hex strings: a tx hash *in free text* is labelled
``ethkey`` (note ``tx-hash-in-text``): by shape it is a private key, and the
platform hashes it on purpose (see ``hokusai.pii.patterns``). In a ``tx_hash``
column it is a public identifier and labelled as nothing.

Not covered on purpose: person names and street addresses inside free text
(that needs NER); a bare 10-digit number with no phone word before it (it is
indistinguishable from an invoice number), so such phones appear only after a
phone word, while laid-out numbers also appear without one ("Backup: …").
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections import Counter
from dataclasses import dataclass

import pandas as pd
from faker import Faker

from hokusai.pii.scrub import column_pii_kind, find_pii, is_public_hash_column
from hokusai.pii.patterns import PII_KINDS

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR")
CARD_TYPES = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners",
              "jcb15", "jcb16")
TEXT_COLUMNS = ("comment", "support_note")


@dataclass(frozen=True)
class Truth:
    row: int
    column: str
    kind: str
    value: str
    note: str = ""


@dataclass
class Corpus:
    frame: pd.DataFrame
    truths: list[Truth]


class _Gen:
    """Faker per locale plus one seeded RNG: the same seed gives the same corpus."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.fakers = {}
        for offset, locale in enumerate(LOCALES):
            self.fakers[locale] = Faker(locale)
            self.fakers[locale].seed_instance(seed + offset)

    def faker(self) -> Faker:
        return self.fakers[self.rng.choice(LOCALES)]

    def hexstr(self, chars: int) -> str:
        return f"{self.rng.getrandbits(chars * 4):0{chars}x}"

    def value(self, kind: str) -> str:
        """One PII value of ``kind``, written the way people write it."""
        rng, fake = self.rng, self.faker()
        if kind == "email":
            return rng.choice((fake.email, fake.free_email, fake.company_email))()
        if kind == "phone":
            return fake.phone_number()
        if kind == "ssn":
            return self.fakers["en_US"].ssn()
        if kind == "card":
            return _lay_out_card(fake.credit_card_number(rng.choice(CARD_TYPES)), rng)
        if kind == "ipv4":
            return fake.ipv4()
        if kind == "ipv6":
            raw = fake.ipv6()
            return str(ipaddress.IPv6Address(raw)) if rng.random() < 0.5 else raw
        if kind == "iban":
            iban = fake.iban()
            return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.4 else iban
        if kind == "ethkey":
            key = self.hexstr(64).upper() if rng.random() < 0.1 else self.hexstr(64)
            return "0x" + key if rng.random() < 0.6 else key
        raise ValueError(kind)

    def negative(self) -> str:
        """A hard negative: text that looks like PII and is not."""
        rng, fake, n = self.rng, self.faker(), self.rng.randrange
        date = fake.date_time_between("-5y")
        german_sum = f"{n(10**6):,}.{n(100):02d}".replace(",", "X").replace(".", ",").replace("X", ".")
        mac = ":".join(self.hexstr(2) for _ in range(6))
        choices = (
            lambda: f"Order ORD-{date.year}-{n(10**6):06d} shipped on {date:%Y-%m-%d}.",
            lambda: f"Invoice {n(10**9, 10**10)} paid in full.",
            lambda: f"Order number: {n(10**15, 10**16)} confirmed.",
            lambda: f"Total {rng.choice('$£')}{n(10**6):,}.{n(100):02d} incl. VAT",
            lambda: f"Summe {german_sum} €",
            lambda: f"Updated to v{n(30)}.{n(30)}.{n(100)} (build 10.0.{n(10000, 30000)}.{n(5000)})",
            lambda: f"version {n(1, 9)}.{n(10)}.{n(10)}.{n(10)} deployed",
            lambda: f"Logged at {date:%Y-%m-%d %H:%M:%S} and again {date:%d/%m/%Y %H:%M}.",
            lambda: f"Created {date.isoformat()}Z, ts {int(date.timestamp() * 1000)}",
            lambda: f"Sent {n(1, 99) / 10} ETH to 0x{self.hexstr(40)}",
            lambda: f"ref {uuid.UUID(int=rng.getrandbits(128))}",
            lambda: f"ISBN 978-3-16-{n(10**6):06d}-{n(10)}, MAC {mac}",
            lambda: f"ratio 3:2 at {n(24):02d}:{n(60):02d}, population {n(10**9):,}",
            lambda: f"coords {fake.latitude()}, {fake.longitude()}; zip {fake.postcode()}",
            lambda: f"test card 4111 1111 1111 111{rng.choice('02345')} declined",
            lambda: f"SSN 000-{n(10, 99)}-{n(1000, 9999)} is not valid",
            lambda: f"IP {n(256, 999)}.{n(256)}.{n(256)}.{n(256)} is impossible",
            lambda: f"IBAN {fake.iban()[:2]}00{fake.iban()[4:]} has a bad check digit",
            lambda: f"amount {n(10**7, 10**9)}.{n(100):02d} and {rng.random() * 1000:.6f}",
        )
        return rng.choice(choices)()


def _lay_out_card(digits: str, rng: random.Random) -> str:
    """Bare, or grouped as printed on the card (4-4-4-4, Amex 4-6-5), with spaces or dashes."""
    separator = rng.choice(("", " ", "-"))
    if not separator or len(digits) not in (15, 16, 19):
        return digits
    sizes = [4, 6, 5] if len(digits) == 15 else [4] * (len(digits) // 4) + [len(digits) % 4]
    groups, start = [], 0
    for size in filter(None, sizes):
        groups.append(digits[start:start + size])
        start += size
    return separator.join(groups)


PII_TEMPLATES = {
    "email": ("Please write to {} with the details.", "Kontakt: {}", "Écrivez-moi à {} merci.",
              "reply-to <{}>", "cc {}, thanks"),
    "phone": ("Call me at {} after 5pm.", "Tel.: {}", "Rufen Sie mich unter {} an.",
              "Appelez-moi au {} svp.", "my mobile is {}", "reach me on {} anytime",
              "Telefon {} (abends)"),
    "phone-no-word": ("Backup: {}.", "[{}]", "{} / evenings"),
    "ssn": ("SSN {} on file.", "my social security number is {}", "SSN: {}"),
    "card": ("Card {} was charged twice.", "paid with {} yesterday", "Karte {} gesperrt",
             "carte bancaire {} refusée"),
    "ipv4": ("login from {} failed", "IP {} blocked", "Zugriff von {}.", "connexion depuis {}"),
    "ipv6": ("login from {} failed", "IPv6 {} blocked", "Zugriff von {}.", "via [{}]:443"),
    "iban": ("IBAN {} please.", "Überweisung auf {} erfolgt", "virement vers {}, merci"),
    "ethkey": ("my private key {} leaked", "key={}", "Schlüssel: {}"),
}


def _needs_a_word(phone: str) -> bool:
    """A bare digit string (or Faker's "000…") reads as an id unless a word says "phone"."""
    digits = "".join(c for c in phone if c.isdigit())
    return phone.isdigit() or digits.startswith("000")


def _free_text(gen: _Gen, row: int, column: str, truths: list[Truth]) -> str | None:
    rng = gen.rng
    if rng.random() < 0.03:
        return None
    pieces: list[tuple[str, str | None, str | None]] = [(gen.faker().sentence(), None, None)]
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        kind = rng.choice(PII_KINDS)
        value = gen.value(kind)
        templates = PII_TEMPLATES[kind]
        if kind == "phone" and rng.random() < 0.3 and not _needs_a_word(value):
            templates = PII_TEMPLATES["phone-no-word"]
        pieces.append((rng.choice(templates), kind, value))
    if rng.random() < 0.08:  # a tx hash in text: secret-shaped, hashed by policy
        pieces.append(("tx {} confirmed", "ethkey-tx", "0x" + gen.hexstr(64)))
    for _ in range(rng.choice((0, 1, 2))):
        pieces.append((gen.negative(), None, None))
    rng.shuffle(pieces)
    texts = []
    for template, kind, value in pieces:
        if kind is None:
            texts.append(template)
            continue
        note = "tx-hash-in-text" if kind == "ethkey-tx" else ""
        truths.append(Truth(row, column, "ethkey" if note else kind, value, note))
        texts.append(template.format(value))
    return " ".join(texts)


def make_corpus(rows: int = 2000, seed: int = 20261124) -> Corpus:
    """The labelled corpus: ``rows`` rows, truths for every PII value placed in it."""
    gen = _Gen(seed)
    rng = gen.rng
    truths: list[Truth] = []
    records = []
    for row in range(rows):
        fake = gen.faker()
        named = {
            "customer_email": ("email", gen.value("email")),
            "phone_number": ("phone", gen.value("phone")),
            "first_name": ("name", fake.first_name()),
            "last_name": ("name", fake.last_name()),
            "street_address": ("address", fake.street_address()),
            "date_of_birth": ("dob", fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat()),
            "ssn": ("ssn", gen.value("ssn")),
            "card_number": ("card", gen.value("card")),
            "iban": ("iban", gen.value("iban")),
            "ip_address": ("ip", gen.value(rng.choice(("ipv4", "ipv6")))),
            "private_key": ("ethkey", gen.value("ethkey")),
        }
        record = {column: value for column, (_, value) in named.items()}
        truths += [Truth(row, column, kind, value) for column, (kind, value) in named.items()]
        record.update({
            "order_ref": f"ORD-{2020 + rng.randrange(6)}-{rng.randrange(10**6):06d}",
            "created_at": fake.date_time_between("-3y").strftime("%Y-%m-%d %H:%M:%S"),
            "app_version": f"{rng.randrange(5)}.{rng.randrange(20)}.{rng.randrange(50)}",
            "amount_text": fake.pricetag(),
            "wallet_address": "0x" + gen.hexstr(40),
            "tx_hash": "0x" + gen.hexstr(64),
            "phone_type": rng.choice(("mobile", "home", "work")),
            "country": fake.current_country_code(),
            "shipping_cost": round(rng.uniform(0, 40), 2),
            "zip_count": rng.randrange(50),
            "ip_count": rng.randrange(50),
            "email_count": rng.randrange(5),
        })
        for column in TEXT_COLUMNS:
            record[column] = _free_text(gen, row, column, truths)
        record["label"] = rng.randrange(2)
        records.append(record)
    return Corpus(frame=pd.DataFrame.from_records(records), truths=truths)


def faker_pool(kind: str, size: int, seed: int) -> list[str]:
    """``size`` values of one kind (for the benchmark's 1M-row frame)."""
    gen = _Gen(seed)
    return [gen.value(kind) for _ in range(size)]


def score_values(corpus: Corpus, find=find_pii) -> dict[str, dict[str, float]]:
    """Per kind: tp, fp, fn, precision, recall of value detection on every scanned column.

    A finding counts only if its exact text and kind equal a labelled value in the
    same cell. Columns hashed whole by name are left out (that detector is tested
    on its own); columns that declare public hashes skip ``ethkey``, as scrubbing does.
    """
    tally = {kind: Counter() for kind in PII_KINDS}
    expected: dict[tuple[int, str], Counter] = {}
    for truth in corpus.truths:
        expected.setdefault((truth.row, truth.column), Counter())[(truth.kind, truth.value)] += 1
    frame = corpus.frame
    for column in frame.columns:
        if column_pii_kind(column) or frame[column].dtype != object:
            continue
        skip = frozenset({"ethkey"}) if is_public_hash_column(column) else frozenset()
        for row, text in enumerate(frame[column]):
            if not isinstance(text, str):
                continue
            found = Counter((m.kind, text[m.start:m.end]) for m in find(text, skip))
            wanted = expected.get((row, column), Counter())
            for (kind, _), n in (found & wanted).items():
                tally[kind]["tp"] += n
            for (kind, _), n in (found - wanted).items():
                tally[kind]["fp"] += n
            for (kind, _), n in (wanted - found).items():
                tally[kind]["fn"] += n
    scores = {}
    for kind, counts in tally.items():
        tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
        scores[kind] = {"tp": tp, "fp": fp, "fn": fn,
                        "precision": tp / (tp + fp) if tp + fp else 1.0,
                        "recall": tp / (tp + fn) if tp + fn else 1.0}
    return scores


def format_scores(scores: dict[str, dict[str, float]]) -> str:
    lines = ["| kind | tp | fp | fn | precision | recall |", "|---|---:|---:|---:|---:|---:|"]
    for kind, s in scores.items():
        lines.append(f"| {kind} | {s['tp']} | {s['fp']} | {s['fn']} | "
                     f"{s['precision']:.4f} | {s['recall']:.4f} |")
    return "\n".join(lines)


def misses(corpus: Corpus, kind: str, find=find_pii, limit: int = 20) -> list[tuple[str, str]]:
    """Examples of (labelled value, cell text) missed, to debug a detector."""
    out = []
    for truth in corpus.truths:
        if truth.kind != kind or truth.column not in TEXT_COLUMNS:
            continue
        text = corpus.frame.at[truth.row, truth.column]
        if not any(m.kind == kind and text[m.start:m.end] == truth.value for m in find(text)):
            out.append((truth.value, text))
        if len(out) >= limit:
            break
    return out
