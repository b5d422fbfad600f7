"""Display formats a person can ask for on a refilled column, checked before anything is drawn.

A format comes from the approved plan (`ColumnTreatment.format`) or the detected type's default,
never from the data. `check_formats` raises a clear ValueError naming the column and the accepted
formats; `format_regex` gives the gate the shape every fake of a format has.
"""

from __future__ import annotations

import re

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill.kinds import (
    DEFAULT_ID_FORMAT,
    DEFAULT_INTEGER_ID_FORMAT,
    IBAN_LENGTHS,
    NUMERIC_COLUMN_TYPES,
    refill_kind,
)
from synth_platform.lib.spec import DatasetSpec

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
