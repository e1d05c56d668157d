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

import functools
import ipaddress
import re
from collections.abc import Collection, Iterator
from typing import NamedTuple

# Highest priority first: where two findings overlap, the earlier kind wins.
PII_KINDS = ("email", "ethkey", "iban", "ipv6", "ipv4", "card", "ssn", "phone")

TOKEN_RE = re.compile(r"\[pii:[a-z_]+:[0-9a-f]{16,64}\]")

# Each regex starts with a character class and checks the character before it in a
# lookbehind *after* that class: Python's engine then skips non-candidate positions in
# C, 3-4x faster than a leading lookbehind. ASCII mode: digits are 0-9.
_A = re.ASCII
EMAIL_RE = re.compile(
    r"(?a)[A-Za-z0-9](?<![\w.+%-][A-Za-z0-9])[A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])", _A
)
ETHKEY_RE = re.compile(
    r"(?a)[0-9a-fA-F](?<!\w[0-9a-fA-F])(?:(?<=0)[xX][0-9a-fA-F]{64}|[0-9a-fA-F]{63})(?!\w)", _A
)
SSN_RE = re.compile(  # exact: area 001-899 but 666, group 01-99, serial 0001-9999
    r"(?a)(?<![\w-])(?!000|666|9\d\d)\d{3}(?:-(?!00)\d{2}-|\x20(?!00)\d{2}\x20)(?!0000)\d{4}(?!\w|-\d)", _A
)
# The same three shapes without lookarounds, for engines that lack them (RE2 in pyarrow,
# which pandas uses for Arrow-backed strings): the character next to a match is matched,
# not looked at, and the number rules are spelled out. Asked "does this text contain
# one?" they answer exactly as EMAIL_RE, SSN_RE and ETHKEY_RE do (tested on the PII
# corpus and on generated edge cases), in Python's engine or in RE2.
_WORD = "A-Za-z0-9_"
EMAIL_SEARCH = (rf"(?:^|[^{_WORD}.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}@"
                rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,24}}(?:$|[^{_WORD}-])")
ETHKEY_SEARCH = rf"(?:^|[^{_WORD}])(?:0[xX])?[0-9a-fA-F]{{64}}(?:$|[^{_WORD}])"
SSN_SEARCH = (rf"(?:^|[^{_WORD}-])(?:00[1-9]|0[1-9][0-9]|[1-57-8][0-9]{{2}}|6[0-57-9][0-9]|66[0-57-9])"
              rf"(?:-(?:0[1-9]|[1-9][0-9])-| (?:0[1-9]|[1-9][0-9]) )"
              rf"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{{2}}|[1-9][0-9]{{3}})(?:$|[^{_WORD}-]|-$|-[^0-9])")
_SSN_CANDIDATE = re.compile(r"[0-9](?<![\w-][0-9])[0-9]{2}([- ])[0-9]{2}\1[0-9]{4}(?!\w|-[0-9])", _A)
_BARE_SSN = re.compile(r"[0-9](?<![\w.,-][0-9])[0-9]{8}(?![\w-]|[.,][0-9])", _A)
_IPV4_CANDIDATE = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?!\w|\.[0-9])", _A)
_IPV6_CANDIDATE = re.compile(
    r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])[0-9A-Fa-f]{0,3}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*"
    r"(?:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})?(?![\w:]|\.[0-9])", _A
)
_IBAN_CANDIDATE = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,34}", _A)
_CARD_CANDIDATE = re.compile(r"[0-9](?<![\w.+/-][0-9])(?:[ -]?[0-9]){12,18}(?!\w)", _A)
_PHONE_RUN = re.compile(
    r"[+(0-9](?<![\w+@#$€£¥%/.,-][+(0-9])(?<![0-9\]]:[0-9])"  # not after "1,", "10:", "]:"
    r"\+?[0-9 ()./-]*[0-9](?: ?(?:x|ext\.?) ?[0-9]{1,6})?(?![\w@])", _A
)
_NON_DIGIT = re.compile(r"[^0-9]")
_CHUNK = re.compile(r"[^ ]+")
_PHONE_EXT = re.compile(r" ?(?:x|ext\.?) ?[0-9]{1,6}$")
_NANP = re.compile(r"(?:1[ .-])?[2-9][0-9]{2}([ .-])[0-9]{3}\1[0-9]{4}")
_PAREN_AREA = re.compile(r"\((?:0[0-9]{1,4}|[2-9][0-9]{2})\) ?[0-9]{2,8}(?:[ -][0-9]{2,8}){0,2}")
# Words (as prefixes) that say a bare number is a phone: "call", "Tel.", "anrufen"…
_PHONE_WORDS = ("phone", "tel", "tél", "call", "mobile", "cell", "sms", "whatsapp", "fax", "dial",
                "reach", "contact", "handy", "ruf", "anruf", "appel", "portable", "numéro", "numero",
                "joindre")
_FILLER_WORDS = frozenset("me us at on is my our me the to or via number no nr numbers under unter "
                          "sie mich uns an au le la du de moi nous mon num numéro numero".split())
_WORD = re.compile(r"[^\W\d_]+")
# "order 4111…", "Invoice no. 5551234567": a long number named as an id is not PII.
_ID_WORDS = frozenset("order invoice ref reference tracking ticket shipment parcel booking id "
                      "bestellung rechnung commande facture".split())
_ID_SUFFIX_WORDS = frozenset(("no", "number", "nr", "id", "#"))
_DATE_LIKE = re.compile(
    r"(?:[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4})\b")
_DECIMAL_AFTER = re.compile(r"[.,][0-9]")
_AFTER_LAST_DIGIT = re.compile(r"[^0-9]*$")
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


_IBAN_LETTERS = {ord(letter): str(value) for value, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)}


class PiiMatch(NamedTuple):
    kind: str
    start: int
    end: int


_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")  # 2d, digits summed


def luhn_ok(digits: str) -> bool:
    return sum(map(int, digits[-1::-2] + digits[-2::-2].translate(_LUHN_DOUBLED))) % 10 == 0


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
    return int((compact[4:] + compact[:4]).translate(_IBAN_LETTERS)) % 97 == 1


def _emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" in text:
        for match in EMAIL_RE.finditer(text):
            yield match.span()


def _ethkeys(text: str) -> Iterator[tuple[int, int]]:
    if len(text) >= 64:
        for match in ETHKEY_RE.finditer(text):
            yield match.span()


def _accepted(pattern: re.Pattern, text: str, check) -> Iterator[tuple[int, int]]:
    """Spans ``check(text, match)`` accepts; after a rejected candidate the search goes on
    from its second character, so "zip WS97 9JD IBAN GB31…" still finds the IBAN."""
    position = 0
    while (match := pattern.search(text, position)) is not None:
        span = check(text, match)
        position = span[1] if span else match.start() + 1
        if span:
            yield span


def _iban_span(text: str, match: re.Match) -> tuple[int, int] | None:
    length, start = IBAN_LENGTHS.get(match.group()[:2]), match.start()
    if length is None:
        return None
    taken, end = 0, start  # walk to exactly `length` characters, spaces not counted
    while end < match.end() and taken < length:
        taken += text[end] != " "
        end += 1
    compact = text[start:end].replace(" ", "")
    if taken == length and not text[end:end + 1].isalnum() and iban_ok(compact):
        return start, end
    return None


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    return _accepted(_IBAN_CANDIDATE, text, _iban_span)


def _ipv6s(text: str) -> Iterator[tuple[int, int]]:
    if "::" in text or text.count(":") >= 5:
        for match in _IPV6_CANDIDATE.finditer(text):
            candidate = match.group()
            if ("::" not in candidate and candidate.count(":") < 6) or sum(
                    1 for part in candidate.split(":") if part) < 2:
                continue  # 8 groups, or 6 and an IPv4 tail, or "::"
            if ipv6_canonical(candidate) is not None:
                yield match.span()


@functools.lru_cache(maxsize=65536)
def ipv6_canonical(candidate: str) -> str | None:
    """The compressed form ``ipaddress`` gives a valid IPv6 address, else None (cached:
    detection and token normalization both ask, and parsing costs ~15 µs)."""
    try:
        return str(ipaddress.IPv6Address(candidate))
    except ValueError:
        return None


def _ipv4s(text: str) -> Iterator[tuple[int, int]]:
    for match in _IPV4_CANDIDATE.finditer(text):
        if _VERSION_BEFORE.search(text, max(0, match.start() - 12), match.start()):
            continue  # "version 1.2.3.4"
        octets = match.group().split(".")
        if all(int(o) <= 255 and (o[0] != "0" or o == "0") for o in octets):
            yield match.span()  # octets <= 255, no leading zeros (as ipaddress rules)


def _card_span(text: str, match: re.Match) -> tuple[int, int] | None:
    if text[match.end():match.end() + 1] == "-" or _named_as_id(text, match.start()):
        return None  # part of a longer dashed identifier, or named as an id
    length = _card_prefix(match.group())
    return (match.start(), match.start() + length) if length else None


def _cards(text: str) -> Iterator[tuple[int, int]]:
    return _accepted(_CARD_CANDIDATE, text, _card_span)


def _named_as_id(text: str, start: int) -> bool:
    words = text[max(0, start - 24):start].lower().replace("#", " # ").split()[-2:]
    words = [word.strip(":.#") or word for word in words]
    if len(words) == 2 and words[-1] in _ID_SUFFIX_WORDS:
        return words[0] in _ID_WORDS  # "order no.", "ref #", but not "card #"
    return bool(words) and (words[-1] in _ID_WORDS or words[-1] == "#")


def _card_prefix(candidate: str) -> int:
    """Length of the longest group-aligned prefix that is a valid card number, or 0."""
    if candidate.isdigit():
        return len(candidate) if card_issuer_ok(candidate) and luhn_ok(candidate) else 0
    if " " in candidate and "-" in candidate:  # "4111-1111-1111-1111 2": stop at the space
        candidate = candidate[:candidate.index(" ")]
    separators = " " in candidate or "-" in candidate
    groups = candidate.split(" " if " " in candidate else "-")
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


def ssn_ok(digits: str) -> bool:
    """Area 001-899 except 666, group 01-99, serial 0001-9999."""
    return (digits[:3] not in ("000", "666") and digits[0] != "9" and digits[3:5] != "00"
            and digits[5:] != "0000")


def _ssns(text: str) -> Iterator[tuple[int, int]]:
    for match in _SSN_CANDIDATE.finditer(text):
        if ssn_ok(_NON_DIGIT.sub("", match.group())):
            yield match.span()
    for match in _BARE_SSN.finditer(text):
        if ssn_ok(match.group()) and _says_ssn(text, match.start()):
            yield match.span()


def _words_before(text: str, start: int) -> list[str]:
    """Up to four words just before ``start``: same sentence, and no number in between
    (in "Tel.: 0117 496 0480, card 4111 …" the word "Tel" is about the first number only)."""
    window = _SENTENCE_END.split(text[max(0, start - 32):start])[-1]
    return _WORD.findall(_AFTER_LAST_DIGIT.search(window).group().lower())[-4:]


def _says_phone(text: str, start: int) -> bool:
    """"call me at", "Tel.:", "my mobile is", "Rufen Sie mich unter", "Appelez-moi au" …"""
    words = _words_before(text, start)
    for index in range(len(words) - 1, -1, -1):
        if words[index].startswith(_PHONE_WORDS):
            return all(w in _FILLER_WORDS for w in words[index + 1:])
    return False


def _says_ssn(text: str, start: int) -> bool:
    words = _words_before(text, start)
    if "ssn" in words:
        return all(w in _FILLER_WORDS for w in words[words.index("ssn") + 1:])
    return "social security" in " ".join(words)


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for match in _PHONE_RUN.finditer(text):
        run, offset = match.group(), match.start()
        if len(_NON_DIGIT.sub("", run)) < 8:
            continue
        chunks = [m.span() for m in _CHUNK.finditer(run)] if " " in run else [(0, len(run))]
        i, free = 0, 0  # chunks before `free` were a phone or nothing
        while i < len(chunks):  # leftmost, then longest, run of whole chunks that is a phone
            span = _phone_at(text, run, offset, chunks, i, free)
            if span is None:
                i += 1
            else:
                yield span[0], span[1]
                i = free = span[2]


def _phone_at(text: str, run: str, offset: int, chunks: list[tuple[int, int]], i: int,
              free: int) -> tuple[int, int, int] | None:
    """The longest phone starting at chunk ``i``: (start, end, next chunk), or None.

    A known layout wins over a longer span that only a word like "Tel." vouches for,
    and two laid-out numbers side by side ("+44 151 496 0360 04 50 85 02 93") stay two.
    """
    def phone(i: int, j: int, by_word: bool) -> tuple[int, int] | None:
        start, end = chunks[i][0], chunks[j - 1][1]
        while end > start and not run[end - 1].isdigit():
            end -= 1  # "… 0958." at the end of a sentence
        while start < end and run[start] not in "+(0123456789":
            start += 1
        if end - start < 8 or _DECIMAL_AFTER.match(text, offset + end):
            return None  # too short, or the integer part of "12.345.678,90"
        while run[start] == "(" and run.count("(", start, end) > run.count(")", start, end):
            start += 1  # "(+44 20 …)", "((555) 123-4567)": the number inside parentheses
        core = run[start:end]
        before = run[chunks[i - 1][0]:chunks[i - 1][1]] if i > free else ""
        if len(before) == 4 and before.isdigit() and not (
                core[0] in "+(" or _NANP.fullmatch(_PHONE_EXT.sub("", core))):
            return None  # after a 4-digit group (card, IBAN, tracking number): not a phone
        return (offset + start, offset + end) if _is_phone(core, text, offset + start, by_word) else None

    for by_word in (False, True):
        for j in range(len(chunks), i, -1):
            span = phone(i, j, by_word)
            if span is None:
                continue
            for k in range(j - 1, i, -1) if not by_word else ():
                head = phone(i, k, False)
                if head and any(phone(k, rest, False) for rest in range(len(chunks), k, -1)):
                    return head[0], head[1], k
            return span[0], span[1], j
    return None


def _is_phone(core: str, text: str, start: int, by_word: bool) -> bool:
    """A layout real phone numbers are written in (dates, prices, ids fail them), or, when
    ``by_word``, 8-15 digits in any layout right after a word like "call" or "Tel."."""
    core = _PHONE_EXT.sub("", core)
    if core.count("(") != core.count(")") or core[-1:] == ")":
        return False
    digits = _NON_DIGIT.sub("", core)
    if by_word:
        return 8 <= len(digits) <= 15 and not _DATE_LIKE.match(core) and _says_phone(text, start)
    return 9 <= len(digits) <= 17 and _phone_layout(core, digits)


def _phone_layout(core: str, digits: str) -> bool:
    n = len(digits)
    if core.startswith(("+", "(+")):  # E.164: at most 15 digits, not counting a "(0)"
        return n - ("(0)" in core) <= 15 and digits[0] != "0"
    if digits.startswith("00"):  # international prefix, as "001-…" or "0049 …"
        return n >= 10 and digits[2] != "0"
    if core.startswith("("):
        return bool(_PAREN_AREA.fullmatch(core)) and n <= 13
    if core.isdigit():  # bare: only with a trunk 0 (else it reads as an id)
        return digits[0] == "0" and 10 <= n <= 11
    return n <= 15 and (bool(_NANP.fullmatch(core)) or _trunk_layout(core, digits))


def _trunk_layout(core: str, digits: str) -> bool:
    """National numbers with a trunk 0: 020 7946 0958, 0176 12345678, 04 15 39 15 00."""
    if digits[0] != "0" or "(" in core:
        return False
    separators = set(re.findall(r"[ ./-]", core))
    groups = re.split(r"[ ./-]", core)
    if len(separators) != 1:
        return False
    if separators == {"."}:  # 01.23.45.67.89
        return len(digits) == 10 and all(len(group) == 2 for group in groups)
    return 2 <= len(groups[0]) <= 5 and all(len(g) >= 2 for g in groups) and 9 <= len(digits) <= 13


_DETECTORS = (("email", _emails), ("ethkey", _ethkeys), ("iban", _ibans), ("ipv6", _ipv6s),
              ("ipv4", _ipv4s), ("card", _cards), ("ssn", _ssns), ("phone", _phones))


def find_pii(text: str, skip: Collection[str] = (), kinds: Collection[str] = PII_KINDS) -> list[PiiMatch]:
    """Every PII value in ``text`` as (kind, start, end), non-overlapping, in text order.

    ``kinds`` limits the search (the prefilter says which kinds a cell may hold);
    ``skip`` leaves kinds out. Tokens already written (``[pii:…]``) are never
    re-detected, so scrubbing twice changes nothing.
    """
    taken = [m.span() for m in TOKEN_RE.finditer(text)] if "[pii:" in text else []
    found: list[PiiMatch] = []
    for kind, detect in _DETECTORS:
        if kind in skip or kind not in kinds:
            continue
        for start, end in detect(text):
            if not any(start < e and s < end for s, e in taken):
                taken.append((start, end))
                found.append(PiiMatch(kind, start, end))
    return sorted(found, key=lambda m: m.start)


# Cheap first pass in RE2 syntax (pyarrow, C++): per kind, a superset of what its
# detector accepts, so a cell that matches none cannot hold PII, and a cell that
# matches some runs only those detectors. Timestamps, prices, versions stay out.
_PHONE_WORDS_RE2 = "|".join(_PHONE_WORDS)
_AFTER_WORD = r"(?is:(?:{}).{{0,32}}){}"  # a number after "call", "SSN" …
_NANP_LIKE = r"[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}"  # 555-123-4567, 001-555-…, 555.123.4567
_PLUS_OR_PAREN = r"\+ ?[0-9(]|\([0-9]{2,5}\)"  # +44 …, (0161) …
_TRUNK = r"(?:^|[^0-9])0[0-9](?:[ ./-]?[0-9]){7,}"  # 0176 12345678, 04 15 39 15 00, 0044 …
PREFILTER_RE2 = {
    "email": r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\.",
    "ethkey": r"[0-9a-fA-F]{64}",
    "iban": r"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}",
    "ipv6": r"[0-9A-Fa-f]{0,4}::[0-9A-Fa-f]{0,4}|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){5,}",
    "ipv4": r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
    "card": r"[0-9]{13}|[0-9]{4}[ -][0-9]{4,6}[ -][0-9]{4}",
    "ssn": r"[0-9]{3}[ -][0-9]{2}[ -][0-9]{4}|" + _AFTER_WORD.format("ssn|social security", "[0-9]{9}"),
    "phone": "|".join((_AFTER_WORD.format(_PHONE_WORDS_RE2, "[(+0-9]"), _NANP_LIKE, _PLUS_OR_PAREN, _TRUNK)),
}
# Run over every cell: the union, with each context alternative loosened to
# "word, anything, digit" (bounded repeats after a list of words blow up RE2's DFA
# and it falls back to a slow NFA). A cell that does not match cannot hold PII.
PREFILTER_ANY_RE2 = "|".join((
    *(PREFILTER_RE2[kind] for kind in ("email", "ethkey", "iban", "ipv6", "ipv4", "card")),
    r"[0-9]{3}[ -][0-9]{2}[ -][0-9]{4}", _NANP_LIKE, _PLUS_OR_PAREN, _TRUNK,
    rf"(?is:(?:{_PHONE_WORDS_RE2}|ssn|social security).*)[(+0-9]",
))
