"""Finding PII values inside text: the regexes and the checks that make them exact.

A regex alone flags too much (every 16-digit order number looks like a card), so
each type has a shape regex that proposes candidates and a Python check that
decides: Luhn and issuer prefix for cards, mod-97 and the registry length for
IBANs, ``ipaddress`` for IPs, area/group/serial rules for SSNs, and a small
grammar of real-world layouts for phone numbers. The checks only run on text the
shape regex matched, which keeps them cheap.

Policy on 64-hex strings: a private key, a transaction hash and a SHA-256 digest
have the same shape, and leaking a key costs its owner every coin it holds while
hashing a tx hash costs a model nothing. So any 64-hex value (``0x`` or not) is
treated as an ``ethkey``; the only exception is a column whose name declares
public hashes (``tx_hash``, ``block_hash``…), handled by the caller via ``skip``.
40-hex wallet addresses are public and never match.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator, NamedTuple

# Highest priority first: where two findings overlap, the earlier kind wins.
PII_KINDS = ("email", "ethkey", "iban", "ipv6", "ipv4", "card", "ssn", "phone")

TOKEN_RE = re.compile(r"\[pii:[a-z_]+:[0-9a-f]{16,64}\]")

EMAIL_RE = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
ETHKEY_RE = re.compile(r"(?<!\w)(?:0[xX])?[0-9a-fA-F]{64}(?!\w)")
SSN_RE = re.compile(
    r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w]|-\d)"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)"
)
_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,34}")
_CARD_CANDIDATE = re.compile(r"(?<![\w.+/-])\d(?:[ -]?\d){12,18}(?!\w)")
_BARE_SSN = re.compile(r"(?<![\w.,-])\d{9}(?![\w-]|[.,]\d)")
_PHONE_RUN = re.compile(
    r"(?<![\w+@#$€£¥%/.-])(?:\+|\(\+?)?\d[\d ()./-]*\d(?: ?(?:x|ext\.?) ?\d{1,6})?(?![\w@])"
)
_NON_DIGIT = re.compile(r"\D")
_PHONE_EXT = re.compile(r" ?(?:x|ext\.?) ?\d{1,6}$")
_NANP = re.compile(r"(?:1[ .-])?[2-9]\d{2}([ .-])\d{3}\1\d{4}")
_PAREN_AREA = re.compile(r"\((?:0\d{1,4}|[2-9]\d{2})\) ?\d{2,8}(?:[ -]\d{2,8}){0,2}")
_PHONE_CONTEXT = re.compile(
    r"(?i)phone|\btel\b|call|mobile|\bcell|sms|whatsapp|\bfax|\bdial|reach|contact|handy"
    r"|telefon|rufnummer|rufen|t[ée]l[ée]phone|appel|portable|num[ée]ro|joindre"
)
_SSN_CONTEXT = re.compile(r"(?i)(?:\bssn|social security(?: number)?|soc\.? ?sec)\W{0,3}(?:is\W{1,2})?$")
_ID_BEFORE = re.compile(  # "order 4111…": a long number named as an id is not a card
    r"(?i)(?:order|invoice|ref|reference|tracking|ticket|shipment|parcel|booking|\bid|#"
    r"|bestellung|rechnung|commande|facture)(?:\W{1,3}(?:no|number|nr|id)\.?)?\W{0,3}$"
)
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[^\W\d_])")
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|version|\bver\.?|release|build)\s*$")

# Lengths from the SWIFT IBAN registry: a known length makes mod-97 exact enough.
IBAN_LENGTHS = dict(
    (cc, int(n)) for cc, n in (item.split(":") for item in (
        "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BI:27 BR:29 BY:28 CH:21 "
        "CR:22 CY:28 CZ:24 DE:22 DJ:27 DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FK:18 FO:18 "
        "FR:27 GB:22 GE:22 GI:23 GL:18 GR:27 GT:28 HR:21 HU:28 IE:22 IL:23 IQ:23 IS:26 "
        "IT:27 JO:30 KW:30 KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 LY:25 MC:27 MD:24 "
        "ME:22 MK:19 MN:20 MR:27 MT:31 MU:30 NI:28 NL:18 NO:15 OM:23 PK:24 PL:28 PS:29 "
        "PT:25 QA:29 RO:24 RS:22 RU:33 SA:24 SC:31 SD:18 SE:24 SI:19 SK:24 SM:27 SO:23 "
        "ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 VA:22 VG:24 XK:20 YE:30"
    ).split())
)


class PiiMatch(NamedTuple):
    kind: str
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_issuer_ok(digits: str) -> bool:
    """Does the number start with a real issuer prefix (IIN) that allows its length?"""
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16  # Mastercard
    if p2 in (34, 37) or p4 in (1800, 2131):
        return n == 15  # Amex, legacy JCB
    if p2 == 35 or 2200 <= p4 <= 2204:
        return 16 <= n <= 19  # JCB (its 35xx block), Mir
    if 300 <= p3 <= 305 or p3 == 309 or p2 in (36, 38, 39):
        return 14 <= n <= 19  # Diners
    return (digits[0] == "6" or p2 == 50 or 56 <= p2 <= 58) and n >= 13  # Discover, UnionPay, Maestro


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not "02" <= compact[2:4] <= "98":
        return False  # ISO 13616 check digits run 02..98
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" in text:
        for match in EMAIL_RE.finditer(text):
            yield match.span()


def _ethkeys(text: str) -> Iterator[tuple[int, int]]:
    if len(text) >= 64:
        for match in ETHKEY_RE.finditer(text):
            yield match.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN_CANDIDATE.finditer(text):
        length, start = IBAN_LENGTHS.get(match.group()[:2]), match.start()
        if length is None:
            continue
        taken, end = 0, start  # walk to exactly `length` characters, spaces not counted
        while end < match.end() and taken < length:
            taken += text[end] != " "
            end += 1
        compact = text[start:end].replace(" ", "")
        if taken == length and not text[end:end + 1].isalnum() and iban_ok(compact):
            yield start, end


def _ipv6s(text: str) -> Iterator[tuple[int, int]]:
    if text.count(":") >= 2:
        for match in _IPV6_CANDIDATE.finditer(text):
            candidate = match.group()
            if ("::" not in candidate and candidate.count(":") < 6) or sum(
                    1 for part in candidate.split(":") if part) < 2:
                continue  # 8 groups, or 6 and an IPv4 tail, or "::"
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield match.span()


def _ipv4s(text: str) -> Iterator[tuple[int, int]]:
    if text.count(".") >= 3:
        for match in IPV4_RE.finditer(text):
            if not _VERSION_BEFORE.search(text, max(0, match.start() - 12), match.start()):
                ipaddress.IPv4Address(match.group())  # the regex already bounds each octet
                yield match.span()


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD_CANDIDATE.finditer(text):
        if text[match.end():match.end() + 1] == "-" or _ID_BEFORE.search(
                text, max(0, match.start() - 16), match.start()):
            continue  # part of a longer dashed identifier, or named as an id
        span = _card_prefix(match.group())
        if span:
            yield match.start(), match.start() + span


def _card_prefix(candidate: str) -> int:
    """Length of the longest group-aligned prefix that is a valid card number, or 0."""
    separators = set(re.findall(r"[ -]", candidate))
    if len(separators) > 1:
        candidate = candidate[:candidate.index(" ")]
        separators = set(re.findall(r"[ -]", candidate))
    groups = re.split(r"[ -]", candidate)
    for count in range(len(groups), 0, -1):
        sizes = [len(g) for g in groups[:count]]
        digits = "".join(groups[:count])
        if not 13 <= len(digits) <= 19:
            continue
        laid_out = count == 1 or sizes in ([4, 6, 5], [4, 6, 4]) or (
            all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4
        )
        if laid_out and card_issuer_ok(digits) and luhn_ok(digits):
            return len(" ".join(groups[:count])) if separators else len(digits)
    return 0


def _ssns(text: str) -> Iterator[tuple[int, int]]:
    for match in SSN_RE.finditer(text):
        yield match.span()
    for match in _BARE_SSN.finditer(text):
        digits = match.group()
        if (digits[:3] not in ("000", "666") and digits[0] != "9" and digits[3:5] != "00"
                and digits[5:] != "0000" and _has_context(text, match.start(), _SSN_CONTEXT)):
            yield match.span()


def _has_context(text: str, start: int, words: re.Pattern) -> bool:
    """Is there a word like "call" or "SSN" just before ``start``, in the same sentence?"""
    window = _SENTENCE_END.split(text[max(0, start - 24):start])[-1]
    return bool(words.search(window)) and not _ID_BEFORE.search(window)


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for match in _PHONE_RUN.finditer(text):
        run, offset = match.group(), match.start()
        if len(_NON_DIGIT.sub("", run)) < 9:
            continue
        chunks = [m.span() for m in re.finditer(r"\S+", run)]
        i, free = 0, 0  # chunks before `free` were a phone or nothing
        while i < len(chunks):  # leftmost, then longest, run of whole chunks that is a phone
            for j in range(len(chunks), i, -1):
                start, end = chunks[i][0], chunks[j - 1][1]
                if run[start] == "(" and run.find(")", start) < 0:
                    start += 1  # "(+44 20 …" inside parentheses
                core = run[start:end]
                if i > free and not (core[0] in "+(" or _NANP.fullmatch(_PHONE_EXT.sub("", core))):
                    continue  # the tail of a longer number is a phone only if laid out as one
                if _is_phone(core, text, offset + start):
                    yield offset + start, offset + end
                    i = free = j
                    break
            else:
                i += 1


def _is_phone(core: str, text: str, start: int) -> bool:
    """The layouts real phone numbers are written in; dates, prices, ids fail them."""
    core = _PHONE_EXT.sub("", core)
    if core.count("(") != core.count(")") or core[-1:] == ")":
        return False
    digits = _NON_DIGIT.sub("", core)
    n = len(digits)
    if n < 9:
        return False
    if core.startswith(("+", "(+")):
        return 9 <= n <= 16 and digits[0] != "0"
    if digits.startswith("00"):  # international prefix, as "001-…" or "0049 …"
        return 10 <= n <= 17 and (digits[2] != "0" or _has_context(text, start, _PHONE_CONTEXT))
    if core.startswith("("):
        return bool(_PAREN_AREA.fullmatch(core)) and 9 <= n <= 12
    if _NANP.fullmatch(core):
        return True
    if core.isdigit():  # a bare number is a phone only with a trunk 0 or a word saying so
        if digits[0] == "0":
            return 10 <= n <= 11
        return 10 <= n <= 15 and _has_context(text, start, _PHONE_CONTEXT)
    if digits[0] != "0":
        return False
    separators = set(re.findall(r"[ ./-]", core))
    groups = re.split(r"[ ./-]", core)
    if len(separators) != 1:
        return False
    if separators == {"."}:  # 01.23.45.67.89
        return n == 10 and all(len(group) == 2 for group in groups)
    return 2 <= len(groups[0]) <= 5 and all(len(g) >= 2 for g in groups) and 9 <= n <= 12


_DETECTORS = (("email", _emails), ("ethkey", _ethkeys), ("iban", _ibans), ("ipv6", _ipv6s),
              ("ipv4", _ipv4s), ("card", _cards), ("ssn", _ssns), ("phone", _phones))


def find_pii(text: str, skip: frozenset[str] | set[str] = frozenset()) -> list[PiiMatch]:
    """Every PII value in ``text`` as (kind, start, end), non-overlapping, in text order.

    Tokens this module's caller already wrote (``[pii:…]``) are never re-detected,
    so scrubbing twice changes nothing.
    """
    taken = [m.span() for m in TOKEN_RE.finditer(text)] if "[pii:" in text else []
    found: list[PiiMatch] = []
    for kind, detect in _DETECTORS:
        if kind in skip:
            continue
        for start, end in detect(text):
            if not any(start < e and s < end for s, e in taken):
                taken.append((start, end))
                found.append(PiiMatch(kind, start, end))
    return sorted(found, key=lambda m: m.start)


# Cheap first pass in RE2 syntax (pyarrow): a cell that does not match cannot hold PII.
# One alternative per layout, so timestamps, prices and versions mostly stay out.
PREFILTER_RE2 = "|".join((
    r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\.",  # email
    r"[0-9a-fA-F]{64}",  # ethkey
    r"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}",  # iban
    r"[0-9A-Fa-f]{0,4}::[0-9A-Fa-f]{0,4}|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){5,}",  # ipv6
    r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",  # ipv4
    r"[0-9]{9,}",  # bare cards, phones, SSNs
    r"[0-9]{3,4}[ -][0-9]{2,6}[ -][0-9]{4}",  # grouped cards, SSN, NANP phones
    r"\+ ?[0-9(]|\([0-9]{2,5}\)|[0-9]{3}\.[0-9]{3}\.[0-9]{4}",  # +44…, (0161) …, 555.123.4567
    r"(?:^|[^0-9])0[0-9](?:[ ./-]?[0-9]){7,}",  # trunk-prefix phones: 0176 12345678, 04 15 39 15 00
))
