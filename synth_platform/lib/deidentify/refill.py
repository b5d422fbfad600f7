"""Give a sampled table its source's shape again, refilling identifiers from public inputs only.

Sampling yields the masked schema: direct identifiers gone, quasi-identifiers generalised.
Consumers want the production shape, so direct-identifier columns (and the key) are refilled
with fake values of the same kind, and generalised columns are drawn back into their original
format (a ZIP3 gets two random digits, a birth year a random day).

**The refill never reads a real identifier.** `restore_source_shape` is a function of the
sampled (synthetic) frame, the spec, the approved plan's per-column treatment (detected type
and display format) and the seed -- nothing else. Nothing is learnt from raw values (no id
template, no width, no country), and no fake is compared with, or redrawn against, a real one.
Comparing would itself leak: if fakes were redrawn until they differ from every real SSN, then
P(a person's SSN appears | person in the source) = 0 while P(... | absent) ~ m / |space|, so
the output would reveal who is present; and a format learnt from the ids would change when one
odd id is added. Instead:

* **unique identifiers come from spaces that cannot hold a real value, by construction** (see
  `RESERVED_SPACES`): documentation IP blocks (RFC 5737, RFC 3849); fictional telephone ranges
  (NANP 555-0100..0199 in every area code, Ofcom's drama ranges); the reserved e-mail domains
  of RFC 2606; SSNs with group 00 (the SSA never issues group 00, and ITINs / ATINs use groups
  50-65, 70-88, 90-92, 94-99 / 93, so none is any taxpayer number); card numbers with major
  industry identifier 0 (no payment card is issued under it); IBANs with check digits 00
  (ISO 13616 issues 02..98) that also fail the MOD 97-10 check; MACs in the IANA
  documentation block 00:00:5E:00:53:xx (RFC 7042); Bitcoin addresses with a broken checksum;
  URLs under example.com; generic ids and the key behind a declared prefix (`SYN-` + digits by
  default; negative numbers in whole-number columns). No coincidence with a real value is
  possible, so there is nothing to check. (Ethereum addresses, on request, start with 96 zero
  bits: not impossible by construction, but no key with such an address is known or findable.)
* **names and street addresses** are built from invented family names
  (`name_dictionaries.fictional_family_names`: pronounceable words outside every shipped name
  dictionary) with real given names and street suffixes, drawn *independently of the data*:
  never compared with, never redrawn against, real values. A full name or street cannot equal
  one built from real dictionary surnames; a single given name can, but it is then exactly as
  likely whether or not that person is in the source -- which is what differential privacy
  needs -- and a given name alone identifies nobody;
* a dropped free-text column is refilled with lorem-ipsum words: no real word can reach it.

**Formats** come from the approved plan (`ColumnTreatment.format`) or the detected type's
default, never from the data: `accepted_formats` lists what a person can ask for per type
(names 'Given Family' / 'Family, Given' / 'FAMILY, Given'; SSN '###-##-####' / '#########';
cards in groups of four or not; e-mail 'lower' / 'UPPER'; phones as '#'-patterns kept inside
the fictional ranges; ids as a prefix + '#' digits), and `check_formats(plan, spec)` raises a
clear ValueError naming the column and the accepted formats for anything else. Uniqueness
within the table is kept where the space allows (ids, the key, e-mails, SSNs, cards, IBANs,
IPv6, wallets, URLs), by redrawing repeats among the fakes themselves -- never against data.
A table refilled in chunks (`SourceShape`, the synthetic stage) stays unique across ALL its
chunks: each unique column keeps 64-bit hashes of the fakes earlier chunks drew (`TakenValues`)
and redraws a match; e-mails carry the row's number in the whole table.

Everything is vectorised with numpy / pandas: a million rows take seconds, not minutes. Each
column draws from its own random stream (seed + column name), so one column's refill does not
depend on which other columns exist.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate.identifier_match import (  # noqa: F401 - re-exported for the gate's leak check
    MIN_IDENTIFYING_LENGTH,
    ForbiddenValues,
    forbidden_values,
    identifier_forms,
    is_common_value,
    is_digit_identifier,
    normalize_identifier,
)
from synth_platform.lib.pii.name_dictionaries import fictional_family_names
from synth_platform.lib.spec import DatasetSpec

NAME_TYPES = frozenset({"full_name", "name", "person_name"})
SINGLE_NAME_TYPES = frozenset({"first_name", "last_name"})
ADDRESS_TYPES = frozenset({"street_address", "address"})
TEXT_TYPES = frozenset({"free_text", "prose", "notes", "note", "comment"})
NUMERIC_COLUMN_TYPES = frozenset({"integer", "float"})

_EMAIL_DOMAINS = np.array(["example.com", "example.net", "example.org"], dtype=object)
#: Redraw rounds spent making fakes distinct from each other (never from real values).
_UNIQUE_ROUNDS = 60
#: Uniqueness is only asked of a space at least this many times larger than the rows.
_UNIQUE_HEADROOM = 4

#: Documentation IPv4 blocks (RFC 5737): TEST-NET-1, -2, -3. No host on the internet has one.
IPV4_DOC_BLOCKS = ("192.0.2", "198.51.100", "203.0.113")
#: Documentation IPv6 prefix (RFC 3849).
IPV6_DOC_PREFIX = "2001:db8"
#: Documentation MAC block (RFC 7042, IANA unicast 00-00-5E-00-53-00 .. FF).
MAC_DOC_PREFIX = (0x00, 0x00, 0x5E, 0x00, 0x53)
#: Ofcom's numbers reserved for drama (never allocated to a subscriber): national digits before
#: the three free digits, and how the range is usually written.
UK_DRAMA_RANGES = (
    ("07700900", "07700 900"),
    ("02079460", "020 7946 0"),
    ("01134960", "0113 496 0"),
    ("01144960", "0114 496 0"),
    ("01154960", "0115 496 0"),
    ("01164960", "0116 496 0"),
    ("01174960", "0117 496 0"),
    ("01184960", "0118 496 0"),
    ("01214960", "0121 496 0"),
    ("01314960", "0131 496 0"),
    ("01414960", "0141 496 0"),
    ("01514960", "0151 496 0"),
    ("01614960", "0161 496 0"),
    ("01914980", "0191 498 0"),
    ("01632960", "01632 960"),
)
#: IBAN lengths of countries whose account part is all digits (a fake's country is the plan's).
IBAN_LENGTHS = {"DE": 22, "AT": 20, "CH": 21, "PL": 28, "PT": 25, "SE": 24, "DK": 18, "FI": 18}
IBAN_LENGTHS |= {"CZ": 24, "SK": 24, "SI": 19, "HR": 21, "EE": 20}
DEFAULT_ID_FORMAT = "SYN-##########"
#: At most this many expected chance equalities between the digits of a fake id and the digits of
#: a real identifier (a phone's national digits, say) of a source as large as the synthetic table:
#: the gate's leak check compares digit forms across columns, and a million 10-digit fakes meet a
#: million 10-digit phones about a hundred times by chance. Ids get digits until rows**2 / space
#: is below this (13 digits at 50,000 rows, 17 at ten million).
CHANCE_DIGIT_MATCHES = 0.001
#: Whole-number ids are negative int64s: at most this many digits.
MAX_INTEGER_ID_DIGITS = 18
DEFAULT_INTEGER_ID_FORMAT = "-##########"

#: Why each kind of fake cannot be a real value (for the run's metadata and the evidence pack).
RESERVED_SPACES = {
    "name": "real given names + invented family names outside every shipped name dictionary",
    "street_address": "invented street names (outside every shipped name dictionary) + street suffixes",
    "email": "reserved domains example.com / example.net / example.org (RFC 2606)",
    "phone": "fictional numbers: NANP 555-0100..0199 in any area code; UK Ofcom drama ranges",
    "ssn": "group 00: never issued by the SSA, and not a valid ITIN or ATIN",
    "credit_card": "major industry identifier 0 (never issued to a payment card), Luhn-valid; "
    "in whole-number columns a Luhn-invalid number (no issued card fails Luhn)",
    "iban": "check digits 00 (ISO 13616 only issues 02..98) and a failing MOD 97-10 check",
    "ip_address": "documentation blocks 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32",
    "mac_address": "documentation block 00:00:5E:00:53:00/24 (RFC 7042)",
    "crypto_wallet": "Bitcoin addresses with a deliberately wrong base58check checksum; Ethereum "
    "addresses with 96 leading zero bits (no known key has one)",
    "url": "https://www.example.com/ (RFC 2606)",
    "text": "lorem-ipsum words",
    "id": "a declared prefix (default 'SYN-'); negative numbers in whole-number columns",
}

# --------------------------------------------------------------------------------------------
# Formats a person can ask for (ColumnTreatment.format, from the approved plan)
# --------------------------------------------------------------------------------------------

NAME_FORMATS = ("Given Family", "Family, Given", "FAMILY, Given")
SINGLE_NAME_FORMATS = ("Title", "UPPER")
ADDRESS_FORMATS = ("Number Street",)
EMAIL_FORMATS = ("lower", "UPPER")
SSN_FORMATS = ("###-##-####", "#########", "### ## ####")
CARD_FORMATS = ("#### #### #### ####", "################", "####-####-####-####")
PHONE_FORMATS = ("###-###-####", "nanp", "uk")
IP_FORMATS = ("ipv4", "ipv6")
MAC_FORMATS = (
    "xx:xx:xx:xx:xx:xx",
    "XX:XX:XX:XX:XX:XX",
    "xx-xx-xx-xx-xx-xx",
    "XX-XX-XX-XX-XX-XX",
    "xxxx.xxxx.xxxx",
)
WALLET_FORMATS = ("bitcoin", "ethereum")
URL_FORMATS = ("https",)
TEXT_FORMATS = ("lorem",)

_PHONE_PATTERN_HELP = (
    "a '#'-pattern with 10 '#' (North American, e.g. '(###) ###-####', '+1 ###.###.####'), "
    "11 '#' (UK national, e.g. '##### ######') or '+44' and 10 '#'"
)
_ID_PATTERN_HELP = "a pattern of a declared prefix and at least 6 '#' digits, e.g. 'SYN-##########'"
_INTEGER_ID_PATTERN_HELP = "'-' and 6 to 18 '#' (negative whole numbers), e.g. '-##########'"


def refill_kind(detected_type: str | None, column_type: str = "string") -> str:
    """The family of fakes a column gets: 'name', 'single_name', 'street_address', 'email',
    'phone', 'ssn', 'credit_card', 'iban', 'ip_address', 'mac_address', 'crypto_wallet', 'url',
    'text', or 'id' (generic ids: national ids, record keys, unexplained text, unknown types)."""
    if detected_type in NAME_TYPES:
        return "name"
    if detected_type in SINGLE_NAME_TYPES:
        return "single_name"
    if detected_type in ADDRESS_TYPES:
        return "street_address"
    if detected_type in TEXT_TYPES:
        return "text"
    if detected_type in (
        "email",
        "phone",
        "ssn",
        "credit_card",
        "iban",
        "ip_address",
        "mac_address",
        "crypto_wallet",
        "url",
    ):
        return detected_type
    return "integer_id" if column_type in NUMERIC_COLUMN_TYPES else "id"


def accepted_formats(detected_type: str | None, column_type: str = "string") -> list[str]:
    """The display formats a person can ask for on a refilled column of this type (first: default)."""
    kind = refill_kind(detected_type, column_type)
    return {
        "name": list(NAME_FORMATS),
        "single_name": list(SINGLE_NAME_FORMATS),
        "street_address": list(ADDRESS_FORMATS),
        "email": list(EMAIL_FORMATS),
        "phone": list(PHONE_FORMATS),
        "ssn": list(SSN_FORMATS),
        "credit_card": list(CARD_FORMATS),
        "iban": ["compact", "groups", *IBAN_LENGTHS, *(f"{c} groups" for c in IBAN_LENGTHS)],
        "ip_address": list(IP_FORMATS),
        "mac_address": list(MAC_FORMATS),
        "crypto_wallet": list(WALLET_FORMATS),
        "url": list(URL_FORMATS),
        "text": list(TEXT_FORMATS),
        "id": [DEFAULT_ID_FORMAT],
        "integer_id": [DEFAULT_INTEGER_ID_FORMAT],
    }[kind]


#: What else a pattern-valued format may be, per kind (for the error message).
_PATTERN_HELP = {"phone": _PHONE_PATTERN_HELP, "id": _ID_PATTERN_HELP, "integer_id": _INTEGER_ID_PATTERN_HELP}


def _phone_pattern(fmt: str) -> str | None:
    """'nanp' / 'uk' / a '#'-pattern with its region, or None when the pattern is not a phone's."""
    count = fmt.count("#")
    if not fmt.isascii() or re.search(
        r"[0-9A-Za-z]", fmt.replace("#", "").replace("+44", "").replace("+1", "")
    ):
        return None
    if fmt.lstrip().startswith("+44"):
        return "uk_international" if count == 10 else None
    if count == 10:
        return "nanp"
    if count == 11 and not fmt.lstrip().startswith("+"):
        return "uk"
    return None


def _id_pattern_ok(fmt: str, integer: bool) -> bool:
    if integer:
        return re.fullmatch(r"-#{6,18}", fmt) is not None
    literal = fmt.replace("#", "")
    return (
        fmt.isascii()
        and fmt.count("#") >= 6
        and re.search(r"[^\d\s]", literal) is not None
        and "\\" not in fmt
    )


def _iban_format(fmt: str | None) -> tuple[str, bool] | None:
    """(country, grouped) of an IBAN format, or None when it is not one."""
    if fmt is None:
        return "DE", False
    country, grouped = "DE", False
    for token in fmt.split():
        if token in IBAN_LENGTHS:
            country = token
        elif token in ("groups", "compact"):
            grouped = token == "groups"
        else:
            return None
    return country, grouped


def check_format(
    column: str, detected_type: str | None, fmt: str | None, column_type: str = "string"
) -> None:
    """Raise a ValueError naming the column and the accepted formats when `fmt` is not one."""
    if fmt is None:
        return
    kind = refill_kind(detected_type, column_type)
    ok = {
        "phone": lambda: fmt in PHONE_FORMATS or _phone_pattern(fmt) is not None,
        "iban": lambda: _iban_format(fmt) is not None,
        "id": lambda: _id_pattern_ok(fmt, integer=False),
        "integer_id": lambda: _id_pattern_ok(fmt, integer=True),
    }.get(kind, lambda: fmt in accepted_formats(detected_type, column_type))()
    if not ok:
        accepted = ", ".join(repr(f) for f in accepted_formats(detected_type, column_type))
        if kind in _PATTERN_HELP:
            accepted += f", or {_PATTERN_HELP[kind]}"
        raise ValueError(
            f"column {column!r}: unknown refill format {fmt!r} for {detected_type or 'id'} values; "
            f"accepted formats: {accepted}"
        )


def check_formats(plan: list[ColumnTreatment], spec: DatasetSpec | None = None) -> None:
    """Check every refilled column's format of an approved plan (see `check_format`)."""
    for treatment in plan:
        if not treatment.reaches_model:
            column_type = (
                spec.columns[treatment.column].type if spec and treatment.column in spec.columns else "string"
            )
            check_format(treatment.column, treatment.detected_type, treatment.format, column_type)


def _hash_regex(pattern: str, open_last: bool = False) -> str:
    """An anchored regex of a '#'-pattern: '#' a digit, everything else literal (the last run of
    '#' open-ended when `open_last`: an id pattern may be widened for many rows)."""
    parts = re.split(r"(#+)", pattern)
    last = max((i for i, p in enumerate(parts) if p.startswith("#")), default=-1)
    out = []
    for i, part in enumerate(parts):
        if part.startswith("#"):
            out.append(rf"\d{{{len(part)},}}" if open_last and i == last else rf"\d{{{len(part)}}}")
        else:
            out.append(re.escape(part))
    return "^" + "".join(out) + "$"


def format_regex(detected_type: str | None, fmt: str | None, column_type: str = "string") -> str | None:
    """An anchored regex every fake of this type and format matches (for the gate's format
    expectations of refilled columns), or None for kinds without a fixed shape (names, addresses,
    text, IPs, MACs, wallets, URLs, IBANs)."""
    kind = refill_kind(detected_type, column_type)
    if column_type in NUMERIC_COLUMN_TYPES:
        return None
    if kind == "email":
        return (
            r"^[A-Z.]+\d+@EXAMPLE\.(COM|NET|ORG)$"
            if fmt == "UPPER"
            else r"^[a-z.]+\d+@example\.(com|net|org)$"
        )
    if kind == "ssn":
        return _hash_regex(fmt or SSN_FORMATS[0])
    if kind == "credit_card":
        return _hash_regex(fmt or CARD_FORMATS[0])
    if kind == "phone":
        if fmt in (None, "nanp"):
            return r"^[2-9]\d{2}-555-01\d{2}$"
        if fmt == "uk":
            return r"^0\d{2,4} \d{3,4} ?\d{3,4}$"
        return _hash_regex(fmt)
    if kind == "id":
        return _hash_regex(fmt or DEFAULT_ID_FORMAT, open_last=True)
    return None


# --------------------------------------------------------------------------------------------
# Reserved spaces as patterns (for the gate's leak check: declared, public, never data-derived)
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Drawing fakes from reserved spaces
# --------------------------------------------------------------------------------------------


def _chunk_rng(entropy: int | list[int], chunk: int = 0) -> np.random.Generator:
    """The random stream of one chunk of a table: chunk 0 uses `entropy` itself (a table that fits
    in one chunk is refilled exactly as a whole frame is), chunk i > 0 a child stream spawned from
    it with key i (`SeedSequence` spawn keys: independent of chunk 0 and of each other)."""
    if chunk == 0:
        return np.random.default_rng(entropy)
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(chunk),)))


def _column_seed(seed: int, column: str, chunk: int = 0) -> np.random.Generator:
    return _chunk_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(str(column).encode())], chunk)


class TakenValues:
    """The fakes a column already holds in earlier chunks of the same table, as 64-bit hashes.

    A table written in chunks must keep its unique identifiers unique across chunks, not just
    within one: each chunk's fakes are checked against these and redrawn on a match. Only fakes
    are ever stored or compared (never a real value). Eight bytes a row, kept sorted so a check
    is a binary search; a hash collision between two different fakes only costs a needless redraw.
    """

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._sorted)

    @staticmethod
    def _hashes(values: np.ndarray) -> np.ndarray:
        return pd.util.hash_array(np.asarray(values, dtype=object))  # fakes are text

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Which of `values` an earlier chunk already drew."""
        if not len(self._sorted) or not len(values):
            return np.zeros(len(values), dtype=bool)
        hashes = self._hashes(values)
        at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        return self._sorted[at] == hashes

    def add(self, values: np.ndarray) -> None:
        """Remember a chunk's fakes (two sorted runs merged: linear time with a stable sort)."""
        merged = np.concatenate([self._sorted, np.sort(self._hashes(values))])
        merged.sort(kind="stable")
        self._sorted = merged


def _fill(pattern: str, digits: np.ndarray) -> np.ndarray:
    """Each row's digit string poured into the '#' positions of `pattern`, literals kept."""
    width = pattern.count("#")
    matrix = np.frombuffer("".join(digits.tolist()).encode(), dtype=np.uint8).reshape(len(digits), width)
    out = np.empty((len(digits), len(pattern)), dtype=np.uint8)
    slots = [i for i, c in enumerate(pattern) if c == "#"]
    for i, char in enumerate(pattern):
        if char != "#":
            out[:, i] = ord(char)
    out[:, slots] = matrix
    return np.array(out.view(f"S{len(pattern)}").ravel().astype(str), dtype=object)


class ReservedFaker:
    """Draws fake identifiers of a kind from reserved spaces, vectorised, from its own seeded
    stream. It holds no real value and takes none: its output depends only on its arguments."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        total: int | None = None,
        start: int = 0,
        taken: TakenValues | None = None,
    ):
        """`total`: the rows of the whole table (spaces are sized for it, not for one chunk);
        `start`: the table row this draw begins at (running numbers continue across chunks);
        `taken`: the fakes earlier chunks drew (kept distinct from across the whole table)."""
        self.rng = rng
        self.total = total
        self.start = int(start)
        self.taken = taken

    def _table_rows(self, n: int) -> int:
        return max(n, self.total or 0, 1)

    # -- helpers ---------------------------------------------------------------------------

    def _pick(self, pool: np.ndarray, k: int) -> np.ndarray:
        return pool[self.rng.integers(0, len(pool), k)]

    def _digits(self, k: int, width: int) -> np.ndarray:
        """k strings of `width` random digits."""
        if width <= 0:
            return np.full(k, "", dtype=object)
        matrix = self.rng.integers(0, 10, (k, width), dtype=np.uint8) + 48
        return np.array(matrix.view(f"S{width}").ravel().astype(str), dtype=object)

    def _distinct(self, make: Callable[[int], np.ndarray], n: int, capacity: float) -> np.ndarray:
        """n fakes, repeats among them redrawn while the space is roomy enough (never a check
        against any real value: only the fakes are compared with each other)."""
        values = make(n)
        if capacity < _UNIQUE_HEADROOM * self._table_rows(n):
            return values
        taken = self.taken if self.taken is not None else TakenValues()
        for _ in range(_UNIQUE_ROUNDS):
            repeated = pd.Series(values).duplicated().to_numpy() | taken.contains(values)
            if not repeated.any():
                break
            values[repeated] = make(int(repeated.sum()))
        if self.taken is not None:
            self.taken.add(values)
        return values

    # -- names and addresses: drawn independently of the data -----------------------------

    @staticmethod
    def _name_pools() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from faker.providers.person.en_US import Provider

        female = np.array(sorted(Provider.first_names_female), dtype=object)
        male = np.array(sorted(Provider.first_names_male), dtype=object)
        # family names are invented, outside every shipped name dictionary: no full name can equal
        # a real one (lib.pii.name_dictionaries.fictional_family_names)
        return female, male, fictional_family_names()

    def given_and_family(self, sexes: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Given names that follow the synthetic row's sex (when the table has one), family names."""
        female, male, last = self._name_pools()
        sex = (
            sexes.astype("string").str.lower().fillna("").to_numpy(dtype=str)
            if sexes is not None
            else np.full(n, "", dtype=str)
        )
        any_first = np.where(self.rng.random(n) < 0.5, self._pick(female, n), self._pick(male, n))
        first = np.where(np.char.startswith(sex, "f"), self._pick(female, n), any_first)
        first = np.where(np.char.startswith(sex, "m"), self._pick(male, n), first)
        return first.astype(object), self._pick(last, n)

    @staticmethod
    def format_names(given: np.ndarray, family: np.ndarray, fmt: str | None) -> np.ndarray:
        if fmt in (None, "Given Family"):
            return given + " " + family
        if fmt == "Family, Given":
            return family + ", " + given
        if fmt == "FAMILY, Given":
            return pd.Series(family).str.upper().to_numpy(dtype=object) + ", " + given
        raise ValueError(f"unknown name format {fmt!r}; accepted formats: {', '.join(NAME_FORMATS)}")

    def single_names(self, kind: str, n: int, fmt: str | None) -> np.ndarray:
        female, male, last = self._name_pools()
        pool = np.concatenate([female, male]) if kind == "first_name" else last
        out = self._pick(pool, n)
        return pd.Series(out).str.upper().to_numpy(dtype=object) if fmt == "UPPER" else out

    def street_addresses(self, n: int) -> np.ndarray:
        from faker.providers.address.en_US import Provider

        surnames = self.rng.choice(fictional_family_names(), 400, replace=False)
        streets = np.array(
            [f"{name} {suffix}" for name in surnames for suffix in Provider.street_suffixes[:25]],
            dtype=object,
        )
        number = self.rng.integers(1, 99_999, n).astype(str).astype(object)
        unit = np.where(
            self.rng.random(n) < 0.3, " Apt. " + self.rng.integers(1, 999, n).astype(str).astype(object), ""
        )
        return number + " " + self._pick(streets, n) + unit

    def lorem(self, n: int) -> np.ndarray:
        """Lorem-ipsum sentences: the refill of a dropped free-text column keeps no real word."""
        from faker.providers.lorem.la import Provider

        words = np.array(Provider.word_list, dtype=object)
        lengths = self.rng.integers(4, 13, n)
        out = pd.Series(self._pick(words, n)).str.capitalize().to_numpy(dtype=object)
        for position in range(1, 12):
            more = lengths > position
            out[more] = out[more] + " " + self._pick(words, int(more.sum()))
        return out + "."

    # -- unique identifiers: reserved spaces -----------------------------------------------

    def emails(self, given: np.ndarray, family: np.ndarray, fmt: str | None) -> np.ndarray:
        """`given.family<row>@example.(com|net|org)`: the running number (the row's number in the whole
        table, so chunks never repeat one) makes each distinct."""
        n = len(given)
        local = pd.Series(given + "." + family).str.lower().str.replace(r"[^a-z.]", "", regex=True)
        local = local.str.strip(".").replace("", "user")
        number = pd.Series(np.arange(self.start, self.start + n)).astype(str)  # the table's row number
        out = (local + number + "@" + self._pick(_EMAIL_DOMAINS, n)).to_numpy(dtype=object)
        return pd.Series(out).str.upper().to_numpy(dtype=object) if fmt == "UPPER" else out

    def nanp_digits(self, n: int) -> np.ndarray:
        """10 national digits `NPA 555 01XX`: 555-0100..0199 is fictional in every area code."""
        area = self.rng.integers(200, 1000, n)
        area = np.where(area % 100 == 11, area + 1, area)  # no N11 service codes
        return area.astype(str).astype(object) + "55501" + self._digits(n, 2)

    def uk_digits(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(11 national digits, the usual spacing) in Ofcom's drama ranges."""
        which = self.rng.integers(0, len(UK_DRAMA_RANGES), n)
        prefixes = np.array([r[0] for r in UK_DRAMA_RANGES], dtype=object)[which]
        shown = np.array([r[1] for r in UK_DRAMA_RANGES], dtype=object)[which]
        tail = self._digits(n, 3)
        return prefixes + tail, shown + tail

    def phones(self, n: int, fmt: str | None, numeric: bool = False) -> np.ndarray:
        if numeric:  # a whole-number column: the digits alone
            if fmt is not None and _phone_pattern(fmt) in ("uk", "uk_international"):
                return "44" + pd.Series(self.uk_digits(n)[0]).str[1:].to_numpy(dtype=object)
            return self.nanp_digits(n)
        if fmt == "uk":
            return self.uk_digits(n)[1]
        region = "nanp" if fmt in (None, "nanp") else _phone_pattern(fmt)
        pattern = "###-###-####" if fmt in (None, "nanp") else fmt
        if region == "nanp":
            digits = self.nanp_digits(n)
        else:
            digits = self.uk_digits(n)[0]
            if region == "uk_international":  # +44 and the national digits without their 0
                digits = pd.Series(digits).str[1:].to_numpy(dtype=object)
        return _fill(pattern, digits)

    def ssns(self, n: int, fmt: str | None, numeric: bool = False) -> np.ndarray:
        """`AAA-00-SSSS`: the SSA has never issued group 00 (nor area 000, 666 or 9xx, nor serial
        0000), so none is a person's SSN; ITINs (area 9xx) use groups 50-65, 70-88, 90-92 and
        94-99 and ATINs group 93, so none is a taxpayer number either. Ten million values."""
        digits = self._distinct(lambda k: self._digits(k, 3) + "00" + self._digits(k, 4), n, 1e7)
        if numeric:
            return digits
        return _fill(fmt or SSN_FORMATS[0], digits)

    def cards(self, n: int, fmt: str | None, numeric: bool = False) -> np.ndarray:
        """16 digits, Luhn-valid, with major industry identifier 0 (first digit): ISO/IEC 7812
        reserves MII 0 for ISO/TC 68 and other industry assignments, no payment card carries it.
        A whole-number column cannot hold a leading 0, so there the number starts with 9 and its
        check digit is deliberately wrong: every issued card passes Luhn, these never do."""

        def make(k: int) -> np.ndarray:
            body = self.rng.integers(0, 10, (k, 15))
            body[:, 0] = 9 if numeric else 0
            reversed_ = body[:, ::-1]
            doubled = reversed_[:, ::2] * 2
            doubled = np.where(doubled > 9, doubled - 9, doubled)
            total = doubled.sum(axis=1) + reversed_[:, 1::2].sum(axis=1)
            check = (10 - total % 10) % 10
            if numeric:
                check = (check + 1 + self.rng.integers(0, 9, k)) % 10  # any digit but the right one
            digits = np.concatenate([body, check[:, None]], axis=1).astype(np.uint8) + 48
            return np.array(digits.view("S16").ravel().astype(str), dtype=object)

        digits = self._distinct(make, n, 1e14)
        return digits if numeric else _fill(fmt or CARD_FORMATS[0], digits)

    def ibans(self, n: int, fmt: str | None) -> np.ndarray:
        """`CC00` + digits that fail the ISO 7064 MOD 97-10 check. ISO 13616 check digits are
        98 - (number mod 97), always 02..98, so no bank writes 00; and since 00 would still pass
        a bare `mod 97 == 1` test when the right digits are 97, the account digits are also
        chosen so that the check fails: every validator rejects these, no real IBAN is one."""
        country, grouped = _iban_format(fmt) or ("DE", False)
        width = IBAN_LENGTHS[country] - 4
        tail = np.array([int(d) for c in country for d in str(ord(c) - 55)] + [0, 0], dtype=np.int64)

        def make(k: int) -> np.ndarray:
            bban = self.rng.integers(0, 10, (k, width))
            remainder = np.zeros(k, dtype=np.int64)
            for column in np.concatenate([bban, np.broadcast_to(tail, (k, len(tail)))], axis=1).T:
                remainder = (remainder * 10 + column) % 97
            passes = remainder == 1  # 'CC00' would pass mod 97: move the last digit, then it cannot
            bban[passes, -1] = (bban[passes, -1] + 1) % 10
            digits = (bban.astype(np.uint8) + 48).view(f"S{width}").ravel().astype(str)
            return country + "00" + np.array(digits, dtype=object)

        out = self._distinct(make, n, 10.0**width)
        if grouped:
            out = pd.Series(out).str.replace(r"(.{4})(?!$)", r"\1 ", regex=True).to_numpy(dtype=object)
        return out

    def ips(self, n: int, fmt: str | None) -> np.ndarray:
        if fmt == "ipv6":
            out = np.full(n, IPV6_DOC_PREFIX, dtype=object)
            for _ in range(6):
                out = (
                    out
                    + ":"
                    + pd.Series(self.rng.integers(0, 65536, n)).map("{:x}".format).to_numpy(dtype=object)
                )
            return out
        block = self._pick(np.array(IPV4_DOC_BLOCKS, dtype=object), n)
        return block + "." + self.rng.integers(1, 255, n).astype(str).astype(object)

    def macs(self, n: int, fmt: str | None) -> np.ndarray:
        fmt = fmt or MAC_FORMATS[0]
        last = pd.Series(self.rng.integers(0, 256, n)).map("{:02x}".format).to_numpy(dtype=object)
        if fmt == "xxxx.xxxx.xxxx":
            return "0000.5e00.53" + last
        separator = "-" if "-" in fmt else ":"
        prefix = separator.join(f"{b:02x}" for b in MAC_DOC_PREFIX) + separator
        out = prefix + last
        return pd.Series(out).str.upper().to_numpy(dtype=object) if fmt[0] == "X" else out

    def wallets(self, n: int, fmt: str | None) -> np.ndarray:
        if fmt == "ethereum":
            hexdigits = np.array(list("0123456789abcdef"), dtype=object)
            out = np.full(n, "0x" + "0" * 24, dtype=object)
            for _ in range(16):
                out = out + self._pick(hexdigits, n)
            return out
        return self._distinct(self._bitcoin, n, 2.0**160)

    def _bitcoin(self, k: int) -> np.ndarray:
        """Legacy (P2PKH) addresses whose 4-byte checksum has its last byte flipped: a real
        address always carries the right double-SHA-256 checksum, these never do."""
        payload = np.zeros((k, 25), dtype=np.uint8)
        payload[:, 1:21] = self.rng.integers(0, 256, (k, 20), dtype=np.uint8)
        heads = payload[:, :21].tobytes()
        checks = b"".join(
            hashlib.sha256(hashlib.sha256(heads[i * 21 : (i + 1) * 21]).digest()).digest()[:4]
            for i in range(k)
        )
        payload[:, 21:] = np.frombuffer(checks, dtype=np.uint8).reshape(k, 4)
        payload[:, 24] ^= 0x01
        return _base58(payload)

    def urls(self, n: int) -> np.ndarray:
        return self._distinct(lambda k: "https://www.example.com/u/" + self._digits(k, 10), n, 1e10)

    def ids(self, n: int, fmt: str | None, integer: bool = False) -> tuple[np.ndarray, str]:
        """Generic ids (the key, record ids, national ids, unexplained text): the plan's pattern,
        `SYN-` + at least 10 digits by default -- no real id carries the declared prefix. A plan that asks
        for another prefix declares that the source's ids never carry it: the refill cannot check
        that without reading them, and the gate's leak check does not compare fakes inside their
        declared space either (they do not depend on the data, so an equal real id is chance, not a
        leak; `privacy.reserved_spaces`). A wrong declaration therefore yields fakes that may look
        like real customers' ids: the plan's approver owns that choice. Whole-
        number columns get negative numbers (the minus sign is the prefix: keys are never negative).
        A pattern too small for the rows gets more digits (it never runs out). Returns the
        fakes and the pattern used."""
        pattern = fmt or (DEFAULT_INTEGER_ID_FORMAT if integer else DEFAULT_ID_FORMAT)
        rows = self._table_rows(n)
        while _id_digits_too_few(pattern.count("#"), rows, integer, declared=fmt is not None):
            at = pattern.rindex("#") + 1
            pattern = pattern[:at] + "#" + pattern[at:]
        width = pattern.count("#")

        def make(k: int) -> np.ndarray:  # first digit non-zero: the width is the declared one
            return self.rng.integers(1, 10, k).astype(str).astype(object) + self._digits(k, width - 1)

        digits = self._distinct(make, n, 9 * 10.0 ** (width - 1))
        return _fill(pattern, digits), pattern


def _id_digits_too_few(width: int, rows: int, integer: bool, declared: bool = False) -> bool:
    """Whether an id pattern of `width` digits is too narrow for `rows` fakes: distinct fakes need
    headroom; the default patterns also keep chance digit equalities with a real table of the
    same size rare (`CHANCE_DIGIT_MATCHES`; a declared pattern is the plan's choice, widened only
    for headroom); whole-number ids stop at what an int64 holds."""
    if integer and width >= MAX_INTEGER_ID_DIGITS:
        return False
    space = 9 * 10.0 ** (width - 1)
    if space < _UNIQUE_HEADROOM * rows:
        return True
    return not declared and float(rows) * rows / space > CHANCE_DIGIT_MATCHES


_BASE58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", dtype=np.uint8)


def _base58(payload: np.ndarray) -> np.ndarray:
    """Base58 text of each row of bytes (leading zero bytes as '1'), by vectorised long division:
    32-bit limbs divided by 58**5 at a time, so a million addresses take a second or two."""
    k, width = payload.shape
    padded = np.zeros((k, -(-width // 4) * 4), dtype=np.uint8)
    padded[:, padded.shape[1] - width :] = payload
    limbs = np.ascontiguousarray(padded.view(">u4").astype(np.uint64).T)  # (limbs, k), big-endian limbs
    places = int(np.ceil(width * np.log(256) / np.log(58)))
    chunks = -(-places // 5)
    divisor = np.uint64(58**5)
    digits = np.zeros((chunks * 5, k), dtype=np.uint8)  # most significant first
    for chunk in range(chunks - 1, -1, -1):
        remainder = np.zeros(k, dtype=np.uint64)
        for limb in range(limbs.shape[0]):
            current = (remainder << np.uint64(32)) + limbs[limb]
            limbs[limb] = current // divisor
            remainder = current % divisor
        for place in range(4, -1, -1):
            digits[chunk * 5 + place] = (remainder % np.uint64(58)).astype(np.uint8)
            remainder //= np.uint64(58)
    text = np.ascontiguousarray(_BASE58[digits.T]).view(f"S{chunks * 5}").ravel().astype(str)
    zeros = (payload != 0).argmax(axis=1)  # leading zero bytes: one '1' each, as base58check writes
    ones = pd.Series(np.array(["1" * int(z) for z in range(width + 1)], dtype=object)[zeros])
    return (ones + pd.Series(text, dtype=object).str.lstrip("1")).to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------
# The source's shape
# --------------------------------------------------------------------------------------------


def _degeneralize(values: pd.Series, rule: str, rng: np.random.Generator) -> pd.Series:
    n = len(values)
    if rule == "zip3":
        suffix = pd.Series([f"{d:02d}" for d in rng.integers(0, 100, n)], index=values.index)
        text = values.astype("string")
        return (text + suffix).where(text.str.fullmatch(r"\d{3}").fillna(False), None).astype(object)
    if rule == "year":
        years = pd.to_numeric(values, errors="coerce")
        start = pd.to_datetime(years.astype("Int64").astype("string") + "-01-01", errors="coerce")
        days = pd.to_timedelta(rng.integers(0, 365, n), unit="D")
        return (start + days).dt.normalize()
    if rule == "month":
        start = pd.to_datetime(values.astype("string") + "-01", errors="coerce")
        days = pd.to_timedelta(rng.integers(0, 28, n), unit="D")
        return (start + days).dt.normalize()
    if rule.startswith("bin:"):
        width = int(rule.split(":", 1)[1])
        numbers = pd.to_numeric(values, errors="coerce")
        return numbers + rng.integers(0, width, n)
    raise ValueError(f"unknown generalisation {rule!r}")


def _cast(values: pd.Series, column_type: str) -> pd.Series:
    if column_type == "integer":
        return pd.to_numeric(values, errors="coerce").round().astype("Int64")
    if column_type == "float":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if column_type == "date":
        return pd.to_datetime(values, errors="coerce").dt.normalize()
    if column_type == "boolean":
        return values.astype("boolean")
    return values.astype(object).where(values.notna(), None)


def refill_column(
    treatment: ColumnTreatment,
    n: int,
    seed: int,
    column_type: str = "string",
    sexes: pd.Series | None = None,
    names: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    chunk: int = 0,
    start: int = 0,
    total: int | None = None,
    taken: TakenValues | None = None,
) -> tuple[np.ndarray, dict]:
    """n fakes for one refilled column and a report of how (kind, format, reserved space).

    Inputs are public only: the column's treatment (detected type, format), the row count, the
    seed, the synthetic rows' sex (names follow it) and the fake names of this table (e-mails are
    made from them). Nothing here can see a real value. For one chunk of a larger table: its
    index (its own random stream), first row, the table's rows and the fakes earlier chunks drew
    (`TakenValues`), so unique identifiers stay unique across the whole table."""
    check_format(treatment.column, treatment.detected_type, treatment.format, column_type)
    faker = ReservedFaker(_column_seed(seed, treatment.column, chunk), total=total, start=start, taken=taken)
    kind = refill_kind(treatment.detected_type, column_type)
    fmt, numeric = treatment.format, column_type in NUMERIC_COLUMN_TYPES
    if kind == "name":
        values = faker.format_names(*(names or faker.given_and_family(sexes, n)), fmt)
    elif kind == "single_name":
        values = faker.single_names(treatment.detected_type or "first_name", n, fmt)
    elif kind == "street_address":
        values = faker.street_addresses(n)
    elif kind == "text":
        values = faker.lorem(n)
    elif kind == "email":
        values = faker.emails(*(names or faker.given_and_family(sexes, n)), fmt)
    elif kind == "phone":
        values = faker.phones(n, fmt, numeric)
    elif kind == "ssn":
        values = faker.ssns(n, fmt, numeric)
    elif kind == "credit_card":
        values = faker.cards(n, fmt, numeric)
    elif kind == "iban":
        values = faker.ibans(n, fmt)
    elif kind == "ip_address":
        values = faker.ips(n, fmt)
    elif kind == "mac_address":
        values = faker.macs(n, fmt)
    elif kind == "crypto_wallet":
        values = faker.wallets(n, fmt)
    elif kind == "url":
        values = faker.urls(n)
    else:
        values, fmt = faker.ids(n, fmt, integer=kind == "integer_id")
    space = RESERVED_SPACES["name" if kind == "single_name" else "id" if kind == "integer_id" else kind]
    default = accepted_formats(treatment.detected_type, column_type)[0]
    shown = (
        "digits (whole-number column)"
        if numeric and kind in ("phone", "ssn", "credit_card")
        else fmt or default
    )
    report = {"refilled_as": treatment.detected_type or "id", "format": shown, "space": space}
    return np.asarray(values, dtype=object), report


#: Refill kinds whose fakes are kept distinct across the table (`ReservedFaker._distinct`).
DISTINCT_KINDS = frozenset({"ssn", "credit_card", "iban", "crypto_wallet", "url", "id", "integer_id"})


class SourceShape:
    """Gives a sampled table its source's shape chunk by chunk, as if it were one frame.

    Made once per table (the formats are checked here, before anything is drawn), then called
    on each sampled chunk in order: chunk i draws from its own streams (seed, column, i), e-mails
    number rows across the table, and each unique identifier column remembers the fakes earlier
    chunks drew (`TakenValues`, 8 bytes a row) so no fake repeats anywhere in the table. Memory
    is one chunk plus those hashes. The same inputs and chunk size give the same table.
    `report` says, per refilled column, its kind, format and reserved space (no value).
    """

    def __init__(self, spec: DatasetSpec, plan: list[ColumnTreatment], seed: int, total_rows: int):
        check_formats(plan, spec)
        self.spec, self.seed, self.total_rows = spec, seed, int(total_rows)
        self.by_column = {t.column: t for t in plan}
        self.report: dict[str, dict] = {}
        self._chunks = 0
        self._rows = 0
        self._taken = {
            column: TakenValues()
            for column in spec.columns
            if not self.by_column[column].reaches_model
            and refill_kind(self.by_column[column].detected_type, spec.columns[column].type) in DISTINCT_KINDS
        }
        # The table's people: e-mails are made from the same fake names, as in a real customer table.
        self.name_column = next(
            (
                c
                for c in spec.columns
                if not self.by_column[c].reaches_model and self.by_column[c].detected_type in NAME_TYPES
            ),
            None,
        )

    def chunk(self, sampled: pd.DataFrame) -> pd.DataFrame:
        """The next chunk of the table in the source's column order and types, identifiers refilled."""
        index, start, n = self._chunks, self._rows, len(sampled)
        self._chunks, self._rows = index + 1, start + n
        rng = _chunk_rng(self.seed, index)
        sex_column = next((c for c in sampled.columns if str(c).lower() in ("sex", "gender")), None)
        sexes = sampled[sex_column].reset_index(drop=True) if sex_column else None
        names = None
        if self.name_column is not None:
            people = ReservedFaker(_column_seed(self.seed, "\x00people", index))
            names = people.given_and_family(sexes, n)
        out: dict[str, pd.Series] = {}
        for column in self.spec.columns:
            treatment = self.by_column[column]
            column_type = self.spec.columns[column].type
            if treatment.reaches_model:
                values = sampled[column].reset_index(drop=True)
                if treatment.action == "generalize" and treatment.generalize:
                    values = _degeneralize(values, treatment.generalize, rng)
            else:
                fakes, self.report[column] = refill_column(
                    treatment,
                    n,
                    self.seed,
                    column_type,
                    sexes,
                    names,
                    chunk=index,
                    start=start,
                    total=max(self.total_rows, start + n),
                    taken=self._taken.get(column),
                )
                values = pd.Series(fakes, dtype=object)
            out[column] = _cast(values.reset_index(drop=True), column_type)
        return pd.DataFrame({c: out[c] for c in self.spec.columns})


def restore_source_shape(
    sampled: pd.DataFrame, spec: DatasetSpec, plan: list[ColumnTreatment], seed: int
) -> pd.DataFrame:
    """The sampled frame in the source's column order and types, identifiers refilled.

    A function of public inputs only -- the synthetic frame, the spec, the approved plan's
    treatment of each column (detected type, format) and the seed -- never of a raw value (see
    the module docstring). Formats are checked first (`check_formats`): a bad one is a clear
    ValueError before anything is drawn. `frame.attrs["refill"]` says, per refilled column, its
    kind, format and reserved space (no value). The frame is one chunk of `SourceShape`: the
    chunked writer of the synthetic stage runs the same code.
    """
    shape = SourceShape(spec, plan, seed, len(sampled))
    frame = shape.chunk(sampled)
    frame.attrs["refill"] = shape.report
    return frame
