"""Give a sampled table its source's shape again.

Sampling yields the masked schema: direct identifiers gone, quasi-identifiers
generalised. Consumers want the production shape, so direct-identifier columns are
refilled with fake values of the same kind (Faker, seeded), and generalised columns
are drawn back into their original format (a ZIP3 gets two random digits, a birth
year a random day). A refilled value that happens to equal any raw identifier of the
source is drawn again, so no real identifier can reach the synthetic table by chance.
E-mails use the reserved example.* domains so that no real mailbox is ever named.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from faker import Faker

from synth_platform.lib.masking import ColumnTreatment
from synth_platform.lib.spec import DatasetSpec

_DIGITS = re.compile(r"\D+")
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
_MAX_DRAWS = 50


def normalize_identifier(value: object) -> list[str]:
    """The forms under which an identifier is recognised: trimmed lower-case, and its
    digits alone when it has enough of them to be a phone, SSN or card number."""
    text = str(value).strip().lower()
    forms = [text]
    digits = _DIGITS.sub("", text)
    if is_digit_identifier(len(digits), len(text)) and digits != text:
        forms.append(digits)
    return forms


def is_digit_identifier(n_digits, n_chars):
    """Whether a value is mostly digits (phone, SSN, card), so that its digits alone identify.
    Works element-wise on numpy/pandas lengths too."""
    return (n_digits >= 7) & (n_digits * 10 >= n_chars * 6)


def forbidden_values(raw_identifiers: Iterable[pd.Series]) -> set[str]:
    forbidden: set[str] = set()
    for series in raw_identifiers:
        for value in series.dropna().unique():
            forbidden.update(normalize_identifier(value))
    return forbidden


def learn_template(values: pd.Series, sample: int = 2000, seed: int = 0) -> str | None:
    """A format template of an ID column: characters every value shares stay literal,
    other positions become 9 (digit), A (upper), a (lower) or ? (mixed). The template
    holds no individual's value, only what all of them have in common."""
    present = values.dropna().astype(str)
    if present.empty:
        return None
    present = present.sample(min(sample, len(present)), random_state=seed)
    length = Counter(present.str.len()).most_common(1)[0][0]
    same_length = [v for v in present if len(v) == length]
    template = []
    for position in range(length):
        chars = {v[position] for v in same_length}
        if len(chars) == 1:
            char = chars.pop()
            template.append("\\" + char if char in "9Aa?\\" else char)
        elif all(c.isdigit() for c in chars):
            template.append("9")
        elif all(c.isupper() for c in chars):
            template.append("A")
        elif all(c.islower() for c in chars):
            template.append("a")
        else:
            template.append("?")
    return "".join(template)


def _from_template(template: str, rng: np.random.Generator) -> str:
    out, escaped = [], False
    for char in template:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "9":
            out.append(str(rng.integers(10)))
        elif char == "A":
            out.append(chr(65 + rng.integers(26)))
        elif char == "a":
            out.append(chr(97 + rng.integers(26)))
        elif char == "?":
            out.append("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rng.integers(36)])
        else:
            out.append(char)
    return "".join(out)


class IdentifierFaker:
    """Draws fake identifiers of a detected type, never one in `forbidden`, unique where asked."""

    def __init__(self, seed: int, forbidden: set[str]):
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng = np.random.default_rng(seed)
        self.forbidden = forbidden

    def _draw(self, make: Callable[[], str], n: int, unique: bool) -> list[str]:
        values: list[str] = []
        seen: set[str] = set()
        for _ in range(n):
            for _attempt in range(_MAX_DRAWS):
                value = make()
                forms = normalize_identifier(value)
                if any(f in self.forbidden for f in forms) or (unique and value in seen):
                    continue
                break
            else:
                raise RuntimeError("could not draw a fresh fake identifier; the value space is exhausted")
            seen.add(value)
            values.append(value)
        return values

    def names(self, sexes: pd.Series | None, n: int) -> list[str]:
        if sexes is None:
            return self._draw(self.fake.name, n, unique=False)
        lowered = sexes.astype("string").str.lower().fillna("")
        out = []
        for sex in lowered:
            make = (
                self.fake.name_female
                if sex.startswith("f")
                else self.fake.name_male
                if sex.startswith("m")
                else self.fake.name
            )
            out.extend(self._draw(make, 1, unique=False))
        return out

    def emails(self, names: list[str] | None, n: int) -> list[str]:
        counter = iter(range(10**9))

        def from_name(name: str) -> Callable[[], str]:
            parts = re.sub(r"[^a-z ]", "", name.lower()).split()
            local = ".".join(parts[:1] + parts[-1:]) or self.fake.user_name()
            return lambda: f"{local}{next(counter)}@{_EMAIL_DOMAINS[self.rng.integers(3)]}"

        if names is None:
            return self._draw(
                lambda: f"{self.fake.user_name()}{next(counter)}@{_EMAIL_DOMAINS[self.rng.integers(3)]}",
                n,
                unique=True,
            )
        values: list[str] = []
        for name in names:
            values.extend(self._draw(from_name(name), 1, unique=False))
        return values

    def by_type(self, detected_type: str | None, n: int, template: str | None) -> list[str]:
        makers: dict[str, Callable[[], str]] = {
            "phone": self.fake.phone_number,
            "ssn": self.fake.ssn,
            "street_address": self.fake.street_address,
            "address": lambda: self.fake.address().replace("\n", ", "),
            "credit_card": self.fake.credit_card_number,
            "ip_address": self.fake.ipv4_public,
            "iban": self.fake.iban,
            "first_name": self.fake.first_name,
            "last_name": self.fake.last_name,
        }
        if detected_type in makers:
            return self._draw(makers[detected_type], n, unique=False)
        if template:
            return self._draw(lambda: _from_template(template, self.rng), n, unique=True)
        return self._draw(lambda: self.fake.bothify("ID-########"), n, unique=True)


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


def restore_source_shape(
    sampled: pd.DataFrame,
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    forbidden: set[str],
    templates: Mapping[str, str | None],
    seed: int,
) -> pd.DataFrame:
    """The sampled frame in the source's column order and types, identifiers refilled."""
    rng = np.random.default_rng(seed)
    faker = IdentifierFaker(seed, forbidden)
    n = len(sampled)
    by_column = {t.column: t for t in plan}
    sex_column = next((c for c in ("sex", "gender") if c in sampled.columns), None)
    out: dict[str, pd.Series] = {}
    names: list[str] | None = None
    # Names first: e-mails are made from them, as in a real customer table.
    ordered = sorted(spec.columns, key=lambda c: by_column[c].detected_type not in ("full_name", "name"))
    for column in ordered:
        treatment = by_column[column]
        if treatment.reaches_model:
            values = sampled[column]
            if treatment.action == "generalize" and treatment.generalize:
                values = _degeneralize(values, treatment.generalize, rng)
        elif treatment.detected_type in ("full_name", "name"):
            names = faker.names(sampled[sex_column] if sex_column else None, n)
            values = pd.Series(names)
        elif treatment.detected_type == "email":
            values = pd.Series(faker.emails(names, n))
        else:
            values = pd.Series(faker.by_type(treatment.detected_type, n, templates.get(column)))
        out[column] = _cast(values.reset_index(drop=True), spec.columns[column].type)
    return pd.DataFrame({c: out[c] for c in spec.columns})
