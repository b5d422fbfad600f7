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


class ForbiddenValues:
    """The normalised raw identifiers of a source, for fast membership tests of many values.

    The hash table is built once (a pandas Index) and reused for every column and redraw.
    """

    def __init__(self, raw_identifiers: Iterable[pd.Series] = ()):
        forms: set[str] = set()
        for series in raw_identifiers:
            for value in series.dropna().unique():
                forms.update(normalize_identifier(value))
        self._index = pd.Index(sorted(forms), dtype=object)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, value: object) -> bool:
        return any(form in self._index for form in normalize_identifier(value))

    def matches(self, values: pd.Series) -> np.ndarray:
        """Which values equal a raw identifier, as text or (for digit-rich text) by digits alone."""
        if len(self._index) == 0 or values.empty:
            return np.zeros(len(values), dtype=bool)
        text = values.astype(str).str.strip().str.lower()
        hit = self._index.get_indexer(text) >= 0
        if values.dtype == object or str(values.dtype) == "string":
            digits = text.str.replace(r"\D+", "", regex=True)
            digit_form = (is_digit_identifier(digits.str.len(), text.str.len()) & (digits != text)).to_numpy()
            if digit_form.any():
                hit |= digit_form & (self._index.get_indexer(digits) >= 0)
        return hit


def forbidden_values(raw_identifiers: Iterable[pd.Series]) -> ForbiddenValues:
    return ForbiddenValues(raw_identifiers)


def learn_template(values: pd.Series, sample: int = 2000, seed: int = 0) -> str | None:
    """A format template of an ID column: non-digit characters every value shares stay
    literal (a prefix like `CUST-`), other positions become 9 (digit), A (upper), a (lower)
    or ? (mixed). The template holds no individual's value, only what all of them share;
    digit positions are always free so that fresh ids never run short."""
    present = values.dropna().astype(str)
    if present.empty:
        return None
    present = present.sample(min(sample, len(present)), random_state=seed)
    length = Counter(present.str.len()).most_common(1)[0][0]
    same_length = [v for v in present if len(v) == length]
    template = []
    for position in range(length):
        chars = {v[position] for v in same_length}
        if len(chars) == 1 and not chars <= set("0123456789"):  # shared digits stay free: room for new ids
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


_TEMPLATE_CLASSES = {"9": "0123456789", "A": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "a": "abcdefghijklmnopqrstuvwxyz"}
_TEMPLATE_CLASSES["?"] = _TEMPLATE_CLASSES["9"] + _TEMPLATE_CLASSES["A"]


def _template_tokens(template: str) -> list[tuple[bool, str]]:
    """(is_literal, text) per position: a literal character, or the alphabet to draw from."""
    tokens, escaped = [], False
    for char in template:
        if escaped:
            tokens.append((True, char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _TEMPLATE_CLASSES:
            tokens.append((False, _TEMPLATE_CLASSES[char]))
        else:
            tokens.append((True, char))
    return tokens


class IdentifierFaker:
    """Draws fake identifiers of a detected type, never one in `forbidden`, unique where asked.

    Faker costs ~0.1 ms a call, so names and street addresses are composed with numpy
    from pools of Faker parts; only the rows that hit a forbidden value are drawn again.
    """

    def __init__(self, seed: int, forbidden: ForbiddenValues):
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng = np.random.default_rng(seed)
        self.forbidden = forbidden

    def _hits_forbidden(self, values: pd.Series) -> np.ndarray:
        return self.forbidden.matches(values)

    def _compose(
        self, make_rows: Callable[[np.ndarray], np.ndarray], n: int, unique: bool = False
    ) -> list[str]:
        """Make all n rows, then remake only the rows (by position) that hit a forbidden value
        (or repeat an earlier row, when `unique`)."""
        values = pd.Series(make_rows(np.arange(n)), dtype=object)
        for _round in range(_MAX_DRAWS):
            bad = self._hits_forbidden(values)
            if unique:
                bad |= values.duplicated().to_numpy()
            if not bad.any():
                return values.tolist()
            values[bad] = make_rows(np.flatnonzero(bad))
        raise RuntimeError("could not draw fresh fake identifiers that avoid every source value")

    def _draw(self, make: Callable[[], str], n: int, unique: bool) -> list[str]:
        values: list[str] = []
        seen: set[str] = set()
        for _ in range(n):
            for _attempt in range(_MAX_DRAWS):
                value = make()
                if value in self.forbidden or (unique and value in seen):
                    continue
                break
            else:
                raise RuntimeError("could not draw a fresh fake identifier; the value space is exhausted")
            seen.add(value)
            values.append(value)
        return values

    def _pick(self, pool: np.ndarray, k: int) -> np.ndarray:
        return self.rng.integers(0, len(pool), k)

    def _pool(self, make: Callable[[], str], size: int = 3000) -> np.ndarray:
        return np.array([make() for _ in range(size)], dtype=object)

    def names(self, sexes: pd.Series | None, n: int) -> list[str]:
        female, male = self._pool(self.fake.first_name_female), self._pool(self.fake.first_name_male)
        last = self._pool(self.fake.last_name)
        lowered = (
            sexes.astype("string").str.lower().fillna("").to_numpy()
            if sexes is not None
            else np.array([""] * n)
        )

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            sex = lowered[rows].astype(str)
            any_first = np.where(
                self.rng.random(k) < 0.5, female[self._pick(female, k)], male[self._pick(male, k)]
            )
            first = np.where(np.char.startswith(sex, "f"), female[self._pick(female, k)], any_first)
            first = np.where(np.char.startswith(sex, "m"), male[self._pick(male, k)], first)
            return first + " " + last[self._pick(last, k)]

        return self._compose(make_rows, n)

    def street_addresses(self, n: int) -> list[str]:
        streets = self._pool(self.fake.street_name)

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            number = self.rng.integers(1, 99_999, k).astype(str).astype(object)
            unit = np.where(
                self.rng.random(k) < 0.3,
                " Apt. " + self.rng.integers(1, 999, k).astype(str).astype(object),
                "",
            )
            return number + " " + streets[self._pick(streets, k)] + unit

        return self._compose(make_rows, n)

    def templated_ids(self, template: str, n: int) -> list[str]:
        tokens = _template_tokens(template)

        def make_rows(rows: np.ndarray) -> np.ndarray:
            out = np.full(len(rows), "", dtype=object)
            for is_literal, text in tokens:
                if is_literal:
                    out = out + text
                else:
                    alphabet = np.array(list(text), dtype=object)
                    out = out + alphabet[self.rng.integers(0, len(alphabet), len(rows))]
            return out

        return self._compose(make_rows, n, unique=True)

    def emails(self, names: list[str] | None, n: int) -> list[str]:
        if names is None:
            names = self.names(None, n)
        local = pd.Series(names).str.lower().str.replace(r"[^a-z ]", "", regex=True).str.split()
        local = local.map(lambda parts: ".".join(parts[:1] + parts[-1:]) if parts else "user")
        number = pd.Series(np.arange(n)).astype(str)
        domain = pd.Series(np.array(_EMAIL_DOMAINS)[self.rng.integers(0, 3, n)])
        # The running number makes each address unique; example.* domains make none deliverable.
        emails = local + number + "@" + domain
        if self._hits_forbidden(emails).any():  # only possible if the source itself used example.*
            return self._draw(
                lambda: f"{self.fake.user_name()}{self.rng.integers(10**9)}@example.org", n, True
            )
        return emails.tolist()

    def by_type(self, detected_type: str | None, n: int, template: str | None) -> list[str]:
        if detected_type in ("full_name", "name"):
            return self.names(None, n)
        if detected_type in ("street_address", "address"):
            return self.street_addresses(n)
        makers: dict[str, Callable[[], str]] = {
            "phone": self.fake.phone_number,
            "ssn": self.fake.ssn,
            "credit_card": self.fake.credit_card_number,
            "ip_address": self.fake.ipv4_public,
            "iban": self.fake.iban,
            "first_name": self.fake.first_name,
            "last_name": self.fake.last_name,
        }
        if detected_type in makers:
            return self._draw(makers[detected_type], n, unique=False)
        if template:
            return self.templated_ids(template, n)
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
    forbidden: ForbiddenValues,
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
