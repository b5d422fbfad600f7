"""Reserved spaces as regular expressions, for the gate's leak check.

`reserved_space_regex` is the shape of the fakes the refill draws for a column (a cell inside it
is a function of the refill's seed only); `raw_reserved_regex` recognises a RAW value that lies in
a public reserved space in any written form (it identifies nobody). Both are built from the kind
and the plan's format only: declared, public, never data-derived.
"""

from __future__ import annotations

import re

from synth_platform.lib.deidentify.refill.formats import (
    CARD_FORMATS,
    MAC_FORMATS,
    SSN_FORMATS,
    _hash_regex,
    _iban_format,
    _phone_pattern,
)
from synth_platform.lib.deidentify.refill.kinds import (
    DEFAULT_ID_FORMAT,
    IBAN_LENGTHS,
    IPV4_DOC_BLOCKS,
    MAC_DOC_PREFIX,
    NUMERIC_COLUMN_TYPES,
    UK_DRAMA_RANGES,
    refill_kind,
)

#: Separators a written identifier may carry between its digits (RE2 and Python `re` alike).
_RAW_SEP = r"[ .\-/()]*"
_RAW_EXTENSION = r"(?: *(?:x|ext\.?|extension|#) *[0-9]{1,6})?"
#: A whole-number column read back as a float writes a trailing `.0`.
_NUMERIC_TAIL = r"(?:\.0)?"
_NANP_DIGITS = ("[2-9]", "[0-9]", "[0-9]", "5", "5", "5", "0", "1", "[0-9]", "[0-9]")


def _digit_slots(pattern: str, digits: list[list[str]]) -> str:
    """A regex of a '#'-pattern whose i-th '#' is the i-th class of each alternative in `digits`
    (literals escaped): the shape of a fake written through a plan's pattern."""
    options = []
    for classes in digits:
        out, i = [], 0
        for char in pattern:
            if char == "#":
                out.append(classes[i])
                i += 1
            else:
                out.append(re.escape(char))
        options.append("".join(out))
    return "(?:" + "|".join(options) + ")"


def _uk_national(international: bool) -> list[list[str]]:
    """Per Ofcom drama range, the classes of its national digits (without the leading 0 when
    written after +44)."""
    out = []
    for prefix, _shown in UK_DRAMA_RANGES:
        digits = list(prefix[1:] if international else prefix)
        out.append(digits + ["[0-9]"] * 3)
    return out


def _phone_space(fmt: str | None, numeric: bool) -> str:
    if numeric:
        if fmt is not None and _phone_pattern(fmt) in ("uk", "uk_international"):
            return "44" + _digit_slots("#" * 10, _uk_national(True)) + _NUMERIC_TAIL
        return "".join(_NANP_DIGITS) + _NUMERIC_TAIL
    if fmt == "uk":
        return "(?:" + "|".join(re.escape(shown) for _p, shown in UK_DRAMA_RANGES) + ")[0-9]{3}"
    region = "nanp" if fmt in (None, "nanp") else _phone_pattern(fmt)
    pattern = "###-###-####" if fmt in (None, "nanp") else fmt
    if region == "nanp":
        return _digit_slots(pattern, [list(_NANP_DIGITS)])
    return _digit_slots(pattern, _uk_national(region == "uk_international"))


def _iban_space(fmt: str | None) -> str:
    country, grouped = _iban_format(fmt) or ("DE", False)
    template = country + "00" + "#" * (IBAN_LENGTHS[country] - 4)
    if grouped:
        template = re.sub(r"(.{4})(?!$)", r"\1 ", template)
    return "".join("[0-9]" if c == "#" else re.escape(c) for c in template)


def _mac_space(fmt: str | None) -> str:
    fmt = fmt or MAC_FORMATS[0]
    hexes = "[0-9A-F]{2}" if fmt[0] == "X" else "[0-9a-f]{2}"
    if fmt == "xxxx.xxxx.xxxx":
        return r"0000\.5e00\.53" + hexes
    separator = "-" if "-" in fmt else ":"
    prefix = separator.join(f"{b:02x}" for b in MAC_DOC_PREFIX) + separator
    return re.escape(prefix.upper() if fmt[0] == "X" else prefix) + hexes


def reserved_space_regex(
    detected_type: str | None, fmt: str | None, column_type: str = "string"
) -> str | None:
    """A regex (to match in full, RE2 and Python `re` alike, case as written) of the reserved space
    the refill draws this column's fakes from (`RESERVED_SPACES`), for the cell as text (`str`
    of the value; whole numbers as digits): a cell inside it is a function of the refill's seed
    only, never of data. None where the space has no declared shape (names, addresses, text,
    Bitcoin wallets: a checksum, not a pattern). Built from the kind and the plan's format only."""
    kind = refill_kind(detected_type, column_type)
    numeric = column_type in NUMERIC_COLUMN_TYPES
    if kind == "email" and not numeric:
        return (
            r"[A-Z.]+[0-9]+@EXAMPLE\.(?:COM|NET|ORG)"
            if fmt == "UPPER"
            else r"[a-z.]+[0-9]+@example\.(?:com|net|org)"
        )
    if kind == "phone":
        return _phone_space(fmt, numeric)
    if kind == "ssn":
        if numeric:  # ddd00dddd as a whole number: leading zeros of the area dropped
            return r"(?:[1-9][0-9]{0,2}00[0-9]{4}|[1-9][0-9]{0,3}|0)" + _NUMERIC_TAIL
        return _digit_slots(fmt or SSN_FORMATS[0], [["[0-9]"] * 3 + ["0", "0"] + ["[0-9]"] * 4])
    if kind == "credit_card":
        if numeric:
            return "9[0-9]{15}" + _NUMERIC_TAIL
        return _digit_slots(fmt or CARD_FORMATS[0], [["0"] + ["[0-9]"] * 15])
    if numeric and kind != "integer_id":
        return None
    if kind == "iban":
        return _iban_space(fmt)
    if kind == "ip_address":
        if fmt == "ipv6":
            return r"2001:db8(?::[0-9a-f]{1,4}){6}"
        return "(?:" + "|".join(re.escape(b) for b in IPV4_DOC_BLOCKS) + r")\.[0-9]{1,3}"
    if kind == "mac_address":
        return _mac_space(fmt)
    if kind == "crypto_wallet":
        return "0x0{24}[0-9a-f]{16}" if fmt == "ethereum" else None
    if kind == "url":
        return r"https://www\.example\.com/u/[0-9]{10}"
    if kind == "id":
        return _hash_regex(fmt or DEFAULT_ID_FORMAT, open_last=True)[1:-1].replace(r"\d", "[0-9]")
    if kind == "integer_id":
        return "-[1-9][0-9]{5,}" + _NUMERIC_TAIL
    return None


def _spaced(digits: str) -> str:
    return _RAW_SEP.join(re.escape(d) for d in digits)


def raw_reserved_regex(detected_type: str | None, column_type: str = "string") -> str | None:
    """A regex (to match in full on the trimmed lower-case text, RE2 and Python `re` alike) of a RAW
    value of this type that lies inside a public reserved space in any written form -- a fictional
    NANP 555-01xx or Ofcom drama phone, an e-mail or URL at example.com/.net/.org, an SSN of group
    00, a card of major industry 0, an IBAN with check digits 00, a documentation IP or MAC, an
    Ethereum address with 96 zero bits. Such a value identifies nobody. None for names, addresses,
    text and ids (an id space is only declared by the plan: a real id that carries the prefix is a
    real id)."""
    kind = refill_kind(detected_type, column_type)
    sep = _RAW_SEP
    if kind == "email":
        return r"[^@ ]+@(?:[a-z0-9\-]+\.)*example\.(?:com|net|org)"
    if kind == "url":
        return r"(?:[a-z]+://)?(?:[a-z0-9\-]+\.)*example\.(?:com|net|org)(?:[:/?#].*)?"
    if kind == "phone":
        nanp = rf"(?:\+|00)?{sep}(?:1{sep})?[2-9][0-9]{{2}}{sep}555{sep}0{sep}1{sep}[0-9]{sep}[0-9]"
        uk = (
            rf"(?:(?:\+|00)?{sep}44{sep}(?:\(0\){sep})?|0{sep})(?:"
            + "|".join(_spaced(prefix[1:]) for prefix, _shown in UK_DRAMA_RANGES)
            + rf"){sep}[0-9]{sep}[0-9]{sep}[0-9]"
        )
        return rf"(?:{nanp}|{uk}){_RAW_EXTENSION}{_NUMERIC_TAIL}"
    if kind == "ssn":
        return rf"(?:[0-9]{{3}}{sep}0{sep}0{sep}[0-9]{{4}}|[0-9]{{0,2}}00[0-9]{{4}}){_NUMERIC_TAIL}"
    if kind == "credit_card":
        return rf"0(?:{sep}[0-9]){{15}}"
    if kind == "iban":
        return rf"[a-z]{{2}}00(?:{sep}[a-z0-9]){{10,30}}"
    if kind == "ip_address":
        return r"(?:192\.0\.2|198\.51\.100|203\.0\.113)\.[0-9]{1,3}|2001:0{0,2}db8(?::[0-9a-f]{0,4})*"
    if kind == "mac_address":
        return r"00[:.\-]?00[:.\-]?5e[:.\-]?00[:.\-]?53[:.\-]?[0-9a-f]{2}"
    if kind == "crypto_wallet":
        return "0x0{24}[0-9a-f]{16}"
    return None
