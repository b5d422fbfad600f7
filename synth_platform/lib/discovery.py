"""PII discovery: classify every column, with evidence a reviewer can check.

Three kinds of evidence are combined, each measured on a seeded sample of rows:
the column name (normalised: `EmailAddress`, `e_mail` and `email` are one name), the
share of values that match a *validated* pattern for a type (an SSN's area/group/
serial rules, a card number's Luhn digit, a phone's 10 NANP digits), and uniqueness.
Value patterns only count for text columns and only at a high share, so numeric
columns (`fnlwgt`, `capital_gain`) are never taken for SSNs or ZIP codes. A spec
hint overrides the verdict but the measurements are still reported.

Evidence is built from names, shares and counts only: never a cell value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

PII_CLASSES = ("direct_identifier", "quasi_identifier", "sensitive", "other")
VALUE_SHARE_MIN = 0.8  # share of sampled values that must match a pattern when the name says nothing
NAME_AND_VALUE_SHARE_MIN = 0.5  # with a matching name, half the values matching is enough


@dataclass(frozen=True)
class ColumnFinding:
    column: str
    pii_class: str
    detected_type: str | None
    name_match: bool
    pattern_share: float | None
    uniqueness: float
    null_share: float
    source: str
    evidence: str


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# type -> (class, normalised-name regex)
_NAME_RULES: list[tuple[str, str, str]] = [
    ("email", "direct_identifier", r"^(e?mail|emailaddress|email\w*|\w*emailaddr\w*)$"),
    ("ssn", "direct_identifier", r"^(ssn|socialsecurity\w*|sin|nationalid\w*|taxid)$"),
    ("phone", "direct_identifier", r"^(phone\w*|tel|telephone\w*|mobile\w*|cell\w*|fax\w*|\w*phone)$"),
    ("credit_card", "direct_identifier", r"^(cc|creditcard\w*|cardnumber|cardno|pan)$"),
    ("iban", "direct_identifier", r"^(iban|bankaccount\w*|accountnumber)$"),
    ("ip_address", "direct_identifier", r"^(ip|ipaddress|ipaddr|ipv4|ipv6)$"),
    ("street_address", "direct_identifier", r"^(\w*address\w*|street\w*|addr\w*|addressline\d?)$"),
    ("first_name", "direct_identifier", r"^(firstname|givenname|forename|fname)$"),
    ("last_name", "direct_identifier", r"^(lastname|surname|familyname|lname)$"),
    ("full_name", "direct_identifier", r"^(name|fullname|customername|patientname|personname|clientname)$"),
    ("zip_code", "quasi_identifier", r"^(zip|zipcode|zip5|postcode|postalcode|postal)$"),
    ("date_of_birth", "quasi_identifier", r"^(dob|dateofbirth|birthdate|birthday|birthdt|bday)$"),
    ("age", "quasi_identifier", r"^(age|ageyears)$"),
    ("sex", "quasi_identifier", r"^(sex|gender)$"),
    ("race", "quasi_identifier", r"^(race|ethnicity|ethnic\w*)$"),
    ("marital_status", "quasi_identifier", r"^(marital\w*|maritalstatus)$"),
    ("nationality", "quasi_identifier", r"^(nativecountry|nationality|countryofbirth|citizenship)$"),
    ("occupation", "quasi_identifier", r"^(occupation|jobtitle|profession)$"),
    ("education", "quasi_identifier", r"^(education|educationlevel|degree)$"),
    ("income", "sensitive", r"^(income|salary|wage\w*|earnings|annualincome)$"),
    ("health", "sensitive", r"^(diagnosis\w*|icd\w*|condition|disease|medication\w*|health\w*)$"),
    ("religion", "sensitive", r"^(religion|faith)$"),
    ("sexual_orientation", "sensitive", r"^(sexualorientation|orientation)$"),
    ("political_opinion", "sensitive", r"^(politic\w*|party|partyaffiliation)$"),
]
_ID_NAME = re.compile(r"^(\w*id|\w*_id|id_\w*|\w*uuid|\w*number)$")

_EMAIL = r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
_SSN = r"(?!000|666|9\d\d)\d{3}-?(?!00)\d{2}-?(?!0000)\d{4}"
_ZIP = r"\d{5}(?:-\d{4})?"
_IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_FULL_NAME = (
    r"(?:(?:Mr|Mrs|Ms|Miss|Dr)\.? )?[A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+\.?){1,3}"
    r"(?: (?:Jr|Sr|II|III|IV|MD|PhD|DDS|DVM)\.?)?"
)
_STREET = (
    r"\d{1,6} [A-Za-z0-9 .'\-]+ (?:St|Street|Ave|Avenue|Rd|Road|Blvd|Dr|Drive|Ln|Lane|Ct|Court|Way|Pl|Place|"
    r"Ter|Terrace|Cir|Circle|Pkwy|Parkway|Sq|Square|[A-Z][a-z]+)\.?(?: (?:Apt|Suite|Unit|#)\.? ?\w+)?"
)
_IBAN = r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}"

# Value patterns that can decide a type on their own (text columns only).
_VALUE_TYPES = [
    "email",
    "ssn",
    "phone",
    "credit_card",
    "ip_address",
    "iban",
    "street_address",
    "full_name",
    "zip_code",
]
_TYPE_CLASS = {t: c for t, c, _ in _NAME_RULES} | {"customer_id": "direct_identifier"}


def _luhn_valid(digits: pd.Series) -> pd.Series:
    """Vectorised Luhn check of digit strings (12-19 digits)."""
    out = pd.Series(False, index=digits.index)
    for length in range(12, 20):
        subset = digits[digits.str.len() == length]
        if subset.empty:
            continue
        matrix = np.array([list(map(int, s)) for s in subset])[:, ::-1]
        doubled = matrix[:, 1::2] * 2
        doubled = np.where(doubled > 9, doubled - 9, doubled)
        total = matrix[:, ::2].sum(axis=1) + doubled.sum(axis=1)
        out.loc[subset.index] = total % 10 == 0
    return out


def _phone_valid(text: pd.Series) -> pd.Series:
    shaped = text.str.fullmatch(
        r"(?:\+?1[ .\-]?)?\(?\d{3}\)?[ .\-]?\d{3}[ .\-]?\d{4}(?: ?(?:x|ext\.?) ?\d{1,5})?"
    )
    digits = text.str.replace(r"(?: ?(?:x|ext\.?) ?\d{1,5})$", "", regex=True).str.replace(
        r"\D", "", regex=True
    )
    digits = digits.where(digits.str.len() != 11, digits.str.slice(1))
    nanp = digits.str.fullmatch(r"[2-9]\d{2}[2-9]\d{6}")
    return shaped.fillna(False) & nanp.fillna(False)


def _pattern_share(kind: str, text: pd.Series) -> float:
    if text.empty:
        return 0.0
    if kind == "email":
        hits = text.str.fullmatch(_EMAIL)
    elif kind == "ssn":
        hits = text.str.fullmatch(_SSN) & (text.str.contains("-") | text.str.fullmatch(r"\d{9}"))
    elif kind == "phone":
        hits = _phone_valid(text)
    elif kind == "credit_card":
        digits = text.str.replace(r"[ \-]", "", regex=True)
        hits = digits.str.fullmatch(r"\d{12,19}") & _luhn_valid(
            digits.where(digits.str.fullmatch(r"\d+"), "")
        )
    elif kind == "ip_address":
        hits = text.str.fullmatch(_IPV4)
    elif kind == "iban":
        hits = text.str.replace(" ", "").str.fullmatch(_IBAN)
    elif kind == "street_address":
        hits = text.str.fullmatch(_STREET)
    elif kind == "full_name":
        hits = text.str.fullmatch(_FULL_NAME)
    elif kind == "zip_code":
        hits = text.str.fullmatch(_ZIP)
    elif kind == "date_of_birth":
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        hits = parsed.notna() & (parsed.dt.year > 1900) & (parsed < pd.Timestamp.now())
    else:
        return 0.0
    return float(hits.fillna(False).mean())


def _name_type(column: str) -> str | None:
    normalised = _norm(column)
    for kind, _cls, pattern in _NAME_RULES:
        if re.match(pattern, normalised):
            return kind
    return None


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or str(series.dtype) in ("string", "category")


def _classify(column: str, values: pd.Series) -> tuple[str, str | None, bool, float | None, list[str]]:
    """(class, type, name_match, pattern_share, evidence parts) from name and values."""
    present = values.dropna()
    text_column = _is_text(values)
    text = present.astype(str).str.strip() if text_column else pd.Series(dtype="string")
    uniqueness = present.nunique() / len(present) if len(present) else 0.0
    name_type = _name_type(column)
    evidence: list[str] = []

    if name_type is not None:
        evidence.append(f"name matches '{name_type}'")
        share = None
        if name_type in _VALUE_TYPES and text_column:
            share = _pattern_share(name_type, text)
        elif name_type == "date_of_birth":
            share = _pattern_share(name_type, present.astype(str))
        if share is not None and share < NAME_AND_VALUE_SHARE_MIN and name_type in _VALUE_TYPES:
            evidence.append(f"but only {share:.1%} of values are valid {name_type}")
            name_type = None  # the name lies (e.g. a free-text 'address_notes' column); fall through
        else:
            if share is not None:
                evidence.append(f"{share:.1%} of values are valid {name_type}")
            return _TYPE_CLASS[name_type], name_type, True, share, evidence

    if text_column and len(text):
        shares = {kind: _pattern_share(kind, text) for kind in _VALUE_TYPES}
        # Names and streets are only believed on high-cardinality columns: "Never-married" is no name.
        for kind in ("full_name", "street_address"):
            if uniqueness < 0.2:
                shares[kind] = 0.0
        best = max(shares, key=shares.get)
        if shares[best] >= VALUE_SHARE_MIN:
            evidence.append(f"{shares[best]:.1%} of values are valid {best}")
            return _TYPE_CLASS[best], best, False, shares[best], evidence

    if _ID_NAME.match(column.lower()) and uniqueness > 0.95 and len(present):
        evidence.append("id-like name")
        return "direct_identifier", "customer_id", True, None, evidence
    return "other", None, False, None, evidence


def discover(
    frame: pd.DataFrame,
    hints: Mapping[str, tuple[str, str | None]] | None = None,
    sample_rows: int = 10_000,
    seed: int = 0,
) -> list[ColumnFinding]:
    """Classify every column of `frame`, in column order; `hints` (column -> (class, type)) win."""
    hints = hints or {}
    sample = frame.sample(min(sample_rows, len(frame)), random_state=seed) if len(frame) else frame
    findings = []
    for column in frame.columns:
        values = sample[column]
        present = values.dropna()
        null_share = float(values.isna().mean()) if len(values) else 1.0
        uniqueness = float(present.nunique() / len(present)) if len(present) else 0.0
        pii_class, kind, name_match, share, parts = _classify(str(column), values)
        source = "detected"
        if column in hints:
            hinted_class, hinted_type = hints[column]
            parts.insert(0, f"spec hint: {hinted_class}" + (f" ({hinted_type})" if hinted_type else ""))
            pii_class, kind, source = hinted_class, hinted_type or kind, "spec_hint"
        parts.append(f"{uniqueness:.1%} unique in {len(values):,} sampled rows")
        if null_share:
            parts.append(f"{null_share:.1%} null")
        findings.append(
            ColumnFinding(
                column=str(column),
                pii_class=pii_class,
                detected_type=kind,
                name_match=name_match,
                pattern_share=None if share is None else round(share, 4),
                uniqueness=round(uniqueness, 4),
                null_share=round(null_share, 4),
                source=source,
                evidence="; ".join(parts),
            )
        )
    return findings


def findings_table(findings: list[ColumnFinding]) -> pd.DataFrame:
    """One row per column, for the UI and the warehouse: classes, types, measurements, evidence."""
    return pd.DataFrame([asdict(f) for f in findings], columns=list(ColumnFinding.__dataclass_fields__))
