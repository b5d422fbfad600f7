"""PII discovery: classify every column, with evidence a reviewer can check.

The values decide, the name only adds: each column's sampled values go through the
validated detectors of `detectors` (checksums, registries, parsers, name dictionaries,
a free-text scanner), so a legacy schema whose identifier columns are called `c7` is
classified as well as one that says `email`. The column name is a second opinion:

* values that validate as a type decide the type, whatever the name says;
* a name that says identifier (`ssn`, `phone`) keeps the column an identifier even when
  its values fail validation (`123 45 6789` typed by hand): a wrong "other" would send
  real identifiers to the model, a wrong "identifier" only drops a column;
* **fail safe**: a text column that is highly unique and that no detector explains is a
  direct identifier ("unexplained high-uniqueness text"); a spec hint can release it.

Numeric columns are never identifiers by shape (`fnlwgt`, amounts, counts); only values
that pass a card's Luhn check or a phone registry at a high share, or an id-like name,
make them one. A spec hint overrides the verdict, and the measurements are still reported.

Cost is bounded: discovery reads a seeded sample of rows (`sample_rows`), detectors see at
most a few thousand values per column. On a warehouse table (`discover_table`) the sample is
drawn in SQL (a keyed hash of the row id, a fixed seed) and the whole-table facts the verdict
depends on, each column's distinct count and null share, are counted in SQL over every row: the
table never reaches pandas. A table no larger than the sample is read whole, in its own order,
so its findings are exactly those of `discover` on the frame. Evidence is built from names,
shares and counts: never a cell value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from synth_platform.lib.pii import detectors
from synth_platform.lib.pii.detectors import DIRECT_TYPES
from synth_platform.lib.storage.warehouse import quote_ident

PII_CLASSES = ("direct_identifier", "quasi_identifier", "sensitive", "other")
#: A text column at least this unique (in the sample) that no detector explains is an identifier.
UNEXPLAINED_UNIQUENESS = 0.9
#: Fewer sampled values than this and uniqueness says nothing.
MIN_VALUES_FOR_UNIQUENESS = 10
UNEXPLAINED = "unexplained high-uniqueness text"


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
    ("ssn", "direct_identifier", r"^(ssn|socialsecurity\w*|sin|nationalid\w*|taxid|nino|nir|bsn|pesel|cpf)$"),
    ("phone", "direct_identifier", r"^(phone\w*|tel|telephone\w*|mobile\w*|cell\w*|fax\w*|\w*phone)$"),
    ("credit_card", "direct_identifier", r"^(cc|creditcard\w*|cardnumber|cardno|pan)$"),
    ("iban", "direct_identifier", r"^(iban|bankaccount\w*|accountnumber|accountno)$"),
    ("ip_address", "direct_identifier", r"^(ip|ipaddress|ipaddr|ipv4|ipv6)$"),
    ("mac_address", "direct_identifier", r"^(mac|macaddress|macaddr)$"),
    ("crypto_wallet", "direct_identifier", r"^(wallet\w*|btc\w*|eth\w*address|cryptoaddress)$"),
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
_TYPE_CLASS = {t: c for t, c, _ in _NAME_RULES} | dict.fromkeys(DIRECT_TYPES, "direct_identifier")
_TYPE_CLASS |= {"customer_id": "direct_identifier", "date_of_birth": "quasi_identifier"}


def _name_type(column: str) -> str | None:
    normalised = _norm(column)
    for kind, _cls, pattern in _NAME_RULES:
        if re.match(pattern, normalised):
            return kind
    return None


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or str(series.dtype) in ("string", "category")


def _value_detection(values: pd.Series, uniqueness: float, seed: int) -> detectors.Detection | None:
    present = values.dropna()
    if present.empty:
        return None
    if _is_text(values):
        text = detectors.sample_text(present, seed=seed)
        return detectors.detect(text, uniqueness, int(present.nunique()))
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = pd.to_datetime(present, errors="coerce")
        if hasattr(dates.dt, "tz") and dates.dt.tz is not None:
            dates = dates.dt.tz_localize(None)
        has_time = bool((dates != dates.dt.normalize()).mean() > 0.5)
        kind = "date_of_birth" if detectors.birth_date_like(dates, has_time) else "date"
        return detectors.Detection(kind, 1.0, 1.0)
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_float_dtype(values):
        return detectors.detect_numeric(present)
    return None


def _classify(
    column: str, values: pd.Series, uniqueness: float, seed: int, sampled_uniqueness: float | None = None
) -> tuple[str, str | None, bool, float | None, list[str]]:
    """(class, type, name_match, pattern_share, evidence parts) from values first, then name.

    `uniqueness` is the column's (the whole table's when known); the detectors, tuned on samples,
    see the sample's (`sampled_uniqueness`, the same figure when the sample is the table).
    """
    present = values.dropna()
    name_type = _name_type(column)
    detector_uniqueness = uniqueness if sampled_uniqueness is None else sampled_uniqueness
    found = _value_detection(values, detector_uniqueness, seed)
    evidence: list[str] = []
    share = None if found is None else found.share
    if name_type is not None:
        evidence.append(f"name matches '{name_type}'")
    if found is not None:
        evidence.append(found.describe())

    # 1. Values that validate as a direct identifier decide, whatever the name says.
    if found is not None and found.pii_class == "direct_identifier" and found.kind != "unexplained_text":
        return "direct_identifier", found.kind, name_type == found.kind, share, evidence

    # 2. A name that says direct identifier keeps the column one, even if the values fail.
    if name_type is not None and _TYPE_CLASS.get(name_type) == "direct_identifier":
        if found is None or found.kind != name_type:
            evidence.append("values do not validate, kept as an identifier because the name says so")
        return "direct_identifier", name_type, True, share, evidence

    # 3. Quasi-identifying values (ZIP, date of birth), or a quasi / sensitive name.
    if found is not None and found.pii_class == "quasi_identifier":
        return "quasi_identifier", found.kind, name_type == found.kind, share, evidence
    if name_type is not None:
        return _TYPE_CLASS[name_type], name_type, True, share, evidence

    # 4. Fail safe: unexplained, highly unique text is an identifier until a spec says otherwise.
    explained = found is not None and found.kind not in ("prose",)
    if (
        _is_text(values)
        and not explained
        and len(present) >= MIN_VALUES_FOR_UNIQUENESS
        and uniqueness >= UNEXPLAINED_UNIQUENESS
    ):
        evidence.append(UNEXPLAINED)
        return "direct_identifier", "free_text" if found else "unexplained_text", False, share, evidence

    if _ID_NAME.match(column.lower()) and uniqueness > 0.95 and len(present):
        evidence.append("id-like name")
        return "direct_identifier", "customer_id", True, share, evidence
    return "other", None if found is None else found.kind, False, share, evidence


@dataclass(frozen=True)
class ColumnFacts:
    """Whole-table figures of one column, counted in SQL: rows, non-null values, distinct values."""

    rows: int
    present: int
    distinct: int

    @property
    def null_share(self) -> float:
        return (self.rows - self.present) / self.rows if self.rows else 1.0

    @property
    def uniqueness(self) -> float:
        return self.distinct / self.present if self.present else 0.0


def discover(
    frame: pd.DataFrame,
    hints: Mapping[str, tuple[str, str | None]] | None = None,
    sample_rows: int = 10_000,
    seed: int = 0,
    facts: Mapping[str, ColumnFacts] | None = None,
) -> list[ColumnFinding]:
    """Classify every column of `frame`, in column order; `hints` (column -> (class, type)) win.

    `facts` (column -> whole-table figures) replace the sample's null share and uniqueness when
    `frame` is a sample of a larger table (`discover_table`).
    """
    hints = hints or {}
    facts = facts or {}
    sample = frame.sample(min(sample_rows, len(frame)), random_state=seed) if len(frame) else frame
    findings = []
    for column in frame.columns:
        values = sample[column]
        present = values.dropna()
        null_share = float(values.isna().mean()) if len(values) else 1.0
        uniqueness = float(present.nunique() / len(present)) if len(present) else 0.0
        sampled_uniqueness, counted_rows = uniqueness, len(values)
        if column in facts:
            null_share, uniqueness = facts[column].null_share, facts[column].uniqueness
            counted_rows = facts[column].rows
        pii_class, kind, name_match, share, parts = _classify(
            str(column), values, uniqueness, seed, sampled_uniqueness
        )
        source = "detected"
        if column in hints:
            hinted_class, hinted_type = hints[column]
            parts.insert(0, f"spec hint: {hinted_class}" + (f" ({hinted_type})" if hinted_type else ""))
            pii_class, kind, source = hinted_class, hinted_type or kind, "spec_hint"
        counted = "sampled rows" if counted_rows == len(values) else "rows"
        parts.append(f"{uniqueness:.1%} unique in {counted_rows:,} {counted}")
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


def table_sample_sql(schema: str, table: str, sample_rows: int, seed: int) -> str:
    """A seeded sample of a warehouse table's rows, in table order: the rows with the smallest keyed
    hash of their row id (a streamed top-N, the same rows on every run of one table). A table no
    larger than `sample_rows` is returned whole, in its own order."""
    name = f"{quote_ident(schema)}.{quote_ident(table)}"
    chosen = f"SELECT rowid FROM {name} ORDER BY hash(rowid, {int(seed)}), rowid LIMIT {int(sample_rows)}"
    return f"SELECT * FROM {name} WHERE rowid IN ({chosen}) ORDER BY rowid"


def table_facts(con, schema: str, table: str) -> dict[str, ColumnFacts]:
    """Each column's rows, non-null values and exact distinct values over the whole table, one
    column per query so that DuckDB holds one column's distinct set at a time."""
    name = f"{quote_ident(schema)}.{quote_ident(table)}"
    columns = [r[0] for r in con.execute(f"SELECT * FROM {name} LIMIT 0").description]
    facts = {}
    for column in columns:
        quoted = quote_ident(column)
        rows, present, distinct = con.execute(
            f"SELECT count(*), count({quoted}), count(DISTINCT {quoted}) FROM {name}"
        ).fetchone()
        facts[column] = ColumnFacts(int(rows), int(present), int(distinct))
    return facts


def discover_table(
    con,
    schema: str,
    table: str,
    hints: Mapping[str, tuple[str, str | None]] | None = None,
    sample_rows: int = 10_000,
    seed: int = 0,
) -> tuple[list[ColumnFinding], pd.DataFrame]:
    """`discover` on a warehouse table: a seeded SQL sample for the detectors, whole-table facts for
    the null shares and uniqueness; returns the findings and the sample (for `quasi_identifier_risk`)."""
    sample = con.execute(table_sample_sql(schema, table, sample_rows, seed)).df()
    facts = table_facts(con, schema, table)
    return discover(sample, hints=hints, sample_rows=sample_rows, seed=seed, facts=facts), sample


def findings_table(findings: list[ColumnFinding]) -> pd.DataFrame:
    """One row per column, for the UI and the warehouse: classes, types, measurements, evidence."""
    return pd.DataFrame([asdict(f) for f in findings], columns=list(ColumnFinding.__dataclass_fields__))


# --------------------------------------------------------------------------------------------
# Quasi-identifier risk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuasiIdentifierRisk:
    """How many records the quasi-identifier combination singles out (k-anonymity figures)."""

    columns: list[str]
    records: int
    unique_share: float  # share of records alone in their group (k = 1)
    below_k5_share: float  # share of records in groups smaller than 5

    def as_metadata(self) -> dict:
        return {
            "qi_columns": ", ".join(self.columns),
            "qi_records": self.records,
            "qi_unique_share_k1": round(self.unique_share, 4),
            "qi_below_k5_share": round(self.below_k5_share, 4),
        }


def quasi_identifier_risk(
    frame: pd.DataFrame,
    findings: Sequence[ColumnFinding],
    generalize: Mapping[str, str] | None = None,
) -> QuasiIdentifierRisk:
    """Share of records unique (k = 1) and below k = 5 on the combination of quasi-identifiers.

    `generalize` (column -> rule, as in the spec) measures the risk of the table as masking
    will publish it (ZIP3, birth year) rather than of the raw values. One pandas groupby
    over a few columns: cheap even on millions of rows. Only shares are returned.
    """
    from synth_platform.lib.deidentify.masking import generalize as apply_rule

    columns = [f.column for f in findings if f.pii_class == "quasi_identifier" and f.column in frame]
    if not columns or frame.empty:
        return QuasiIdentifierRisk(columns, len(frame), 0.0, 0.0)
    parts = {}
    for column in columns:
        values = frame[column]
        rule = (generalize or {}).get(column)
        if rule:
            values = apply_rule(values, rule)
        parts[column] = values.astype("string").fillna("<NA>")
    keys = pd.DataFrame(parts)
    sizes = keys.groupby(columns, sort=False, dropna=False)[columns[0]].transform("size")
    return QuasiIdentifierRisk(columns, len(frame), float((sizes == 1).mean()), float((sizes < 5).mean()))


def _generalized_sql(column: str, rule: str | None) -> str:
    """A quasi-identifier's group key in SQL, as `masking.generalize` would publish it (NULL as
    '<NA>', a group of its own): only which rows share a key matters, not its spelling."""
    value = quote_ident(column)
    if rule == "zip3":
        text = f"trim(CAST({value} AS VARCHAR))"
        value = f"CASE WHEN length({text}) >= 3 THEN left({text}, 3) END"
    elif rule == "year":
        value = f"year(TRY_CAST({value} AS TIMESTAMP))"
    elif rule == "month":
        value = f"strftime(TRY_CAST({value} AS TIMESTAMP), '%Y-%m')"
    elif rule and rule.startswith("bin:"):
        width = int(rule.split(":", 1)[1])
        value = f"floor(TRY_CAST({value} AS DOUBLE) / {width}) * {width}"
    elif rule:
        raise ValueError(f"unknown generalisation {rule!r}")
    return f"COALESCE(CAST({value} AS VARCHAR), '<NA>')"


def quasi_identifier_risk_table(
    con,
    schema: str,
    table: str,
    findings: Sequence[ColumnFinding],
    generalize: Mapping[str, str] | None = None,
) -> QuasiIdentifierRisk:
    """`quasi_identifier_risk` over every row of a warehouse table: one SQL GROUP BY on the
    (generalised) quasi-identifiers, so the shares are the whole table's, never a sample's."""
    name = f"{quote_ident(schema)}.{quote_ident(table)}"
    present = {r[0] for r in con.execute(f"SELECT * FROM {name} LIMIT 0").description}
    columns = [f.column for f in findings if f.pii_class == "quasi_identifier" and f.column in present]
    records = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
    if not columns or not records:
        return QuasiIdentifierRisk(columns, records, 0.0, 0.0)
    keys = ", ".join(_generalized_sql(c, (generalize or {}).get(c)) for c in columns)
    unique, below = con.execute(
        f"SELECT count(*) FILTER (WHERE size = 1), COALESCE(sum(size) FILTER (WHERE size < 5), 0) "
        f"FROM (SELECT count(*) AS size FROM {name} GROUP BY {keys})"
    ).fetchone()
    return QuasiIdentifierRisk(columns, records, int(unique) / records, int(below) / records)
