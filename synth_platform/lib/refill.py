"""Give a sampled table its source's shape again.

Sampling yields the masked schema: direct identifiers gone, quasi-identifiers
generalised. Consumers want the production shape, so direct-identifier columns are
refilled with fake values of the same kind, and generalised columns are drawn back into
their original format (a ZIP3 gets two random digits, a birth year a random day).

Two kinds of identifier are refilled differently:

* **unique identifiers** (e-mail, SSN, phone, card, IBAN, IP, account, id, address, ...)
  identify a person by themselves. A fake one never equals a source value in any form
  people write it (`+1-555-…`, `001-…`, an extension, spaces in an IBAN): every drawn
  value is compared with the source's normalised forms and redrawn. The space they are
  drawn from cannot run out: an id format too small for the rows plus the source's values
  (the integers 1..N, a three-letter code) is widened with extra digit positions;
* **common values** (first, last and full names) are shared by many people, so a fake
  one may coincide with a real person's by chance. Coincidences are avoided while the
  space allows (a few redraws, then a wider multi-locale name pool), and any that remain
  are counted (`frame.attrs["refill"]`) and reported, never a failed run.

A dropped free-text column is refilled with lorem-ipsum words: no template of a real
note, and no real word, can reach the synthetic table. Templates of id columns keep only
what at least `MIN_TEMPLATE_VALUES` distinct values share (a prefix like `CUST-`), never
one value's characters.

Everything is vectorised with numpy / pandas: a million rows take seconds, not minutes.
E-mails use the reserved example.* domains so that no real mailbox is ever named.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from synth_platform.lib.masking import ColumnTreatment
from synth_platform.lib.name_dictionaries import dictionaries, pools
from synth_platform.lib.spec import DatasetSpec

_DIGITS = re.compile(r"\D+")
_EXTENSION = r"\s*(?:x|ext\.?|extension|#)\s*\d{1,6}$"
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
_MAX_DRAWS = 60
#: Redraw rounds spent avoiding chance coincidences with common values (names) before accepting them.
COMMON_VALUE_ROUNDS = 4
#: A template is only learnt from at least this many distinct values of its length.
MIN_TEMPLATE_VALUES = 20
#: An id space is widened until it holds this many times the rows plus the source's values.
SPACE_HEADROOM = 20
#: IBAN lengths of countries whose account part is all digits with no national check digit
#: (others are refilled in the German format).
_NUMERIC_IBAN_LENGTHS = {"DE": 22, "AT": 20, "CH": 21, "PL": 28, "PT": 25, "SE": 24, "DK": 18, "FI": 18}
_NUMERIC_IBAN_LENGTHS |= {"CZ": 24, "SK": 24, "SI": 19, "HR": 21, "EE": 20}
NAME_TYPES = frozenset({"full_name", "name", "first_name", "last_name"})
TEXT_TYPES = frozenset({"free_text", "prose", "notes", "note", "comment"})


def is_digit_identifier(n_digits, n_chars):
    """Whether a value is mostly digits (phone, SSN, card), so that its digits alone identify.
    Works element-wise on numpy/pandas lengths too."""
    return (n_digits >= 7) & (n_digits * 10 >= n_chars * 6)


# --------------------------------------------------------------------------------------------
# Normalised forms: how one identifier is recognised however it is written
# --------------------------------------------------------------------------------------------


def _text(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.lower()


def _arrow_text(values: pd.Series) -> pa.Array:
    """Trimmed lower-case text of every value, as an Arrow string array (nulls stay null)."""
    if values.dtype != object or not values.map(type).eq(str).all():
        values = values.astype(object).where(values.isna(), values.astype(str))
    array = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    return pc.utf8_lower(pc.utf8_trim_whitespace(array))


#: One form of some values: (row positions, or None for every row; the form's strings there).
Form = tuple[np.ndarray | None, np.ndarray]


def _np(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


def _sorted_words(texts: pa.Array) -> np.ndarray:
    """Each text's words (commas and dots are separators) sorted: `smith, john` -> `john smith`."""
    cleaned = pc.replace_substring(pc.replace_substring(texts, ",", " "), ".", " ")
    words = pc.utf8_split_whitespace(cleaned)
    counts = _np(pc.list_value_length(words))
    out = np.full(len(texts), "", dtype=object)
    two = np.flatnonzero(counts == 2)
    if len(two):
        pairs = words.take(pa.array(two))
        a, b = pc.list_element(pairs, 0), pc.list_element(pairs, 1)
        first_a = pc.less_equal(a, b)
        joined = pc.if_else(
            first_a, pc.binary_join_element_wise(a, b, " "), pc.binary_join_element_wise(b, a, " ")
        )
        out[two] = _np(joined)
    more = np.flatnonzero((counts > 2) & (counts <= 6))
    for row, items in zip(more, words.take(pa.array(more, type=pa.int64())).to_pylist(), strict=True):
        out[row] = " ".join(sorted(items))
    return out


def _forms(text: pa.Array) -> list[Form]:
    """The forms of trimmed lower-case texts, each for the rows it applies to."""
    forms: list[Form] = [(None, _np(pc.fill_null(text, "")))]
    has_digit = _np(pc.fill_null(pc.match_substring_regex(text, r"\d"), False))
    rows = np.flatnonzero(has_digit)
    if len(rows):
        subset = text.take(pa.array(rows))
        compact = pc.replace_substring_regex(subset, r"[\s\-./()]+", "")
        changed = _np(pc.not_equal(compact, subset))
        forms.append((rows[changed], _np(compact)[changed]))
        with_ext = pc.or_(pc.match_substring(subset, "x"), pc.match_substring(subset, "#"))
        bare = pc.if_else(with_ext, pc.replace_substring_regex(subset, _EXTENSION, ""), subset)
        digits = pc.replace_substring_regex(bare, r"\D+", "")
        national = pc.if_else(pc.starts_with(digits, "00"), pc.utf8_slice_codeunits(digits, 2), digits)
        nanp = pc.and_(pc.equal(pc.utf8_length(national), 11), pc.starts_with(national, "1"))
        national = pc.if_else(nanp, pc.utf8_slice_codeunits(national, 1), national)
        rich = is_digit_identifier(_np(pc.utf8_length(digits)), _np(pc.utf8_length(bare)))
        keep = rich & _np(pc.not_equal(national, subset))
        forms.append((rows[keep], _np(national)[keep]))
    wordy = np.flatnonzero(~has_digit & _np(pc.fill_null(pc.match_substring_regex(text, r"[\s,]"), False)))
    if len(wordy):
        forms.append((wordy, _sorted_words(text.take(pa.array(wordy)))))
    return forms


def _aligned(n: int, form: Form, index) -> pd.Series:
    rows, values = form
    out = pd.Series([None] * n, index=index, dtype=object)
    out.iloc[np.arange(n) if rows is None else rows] = values
    return out.where(out != "", None)


def identifier_forms(values: pd.Series) -> list[pd.Series]:
    """The forms under which each value is recognised, as aligned series (None where a form
    does not apply): trimmed lower-case text; the text without spaces and separators (an IBAN
    in groups); the national digits of a phone-like number (extension, `+` / `00` / `001` and
    a NANP country code `1` dropped); the sorted words of a name (`Smith, John` = `John Smith`).
    Computed with Arrow kernels: a million values take a second or two.
    """
    return [_aligned(len(values), form, values.index) for form in _forms(_arrow_text(values))]


def normalize_identifier(value: object) -> list[str]:
    """The forms of one value (see `identifier_forms`)."""
    out: list[str] = []
    for _rows, values in _forms(_arrow_text(pd.Series([value], dtype=object))):
        for item in values:
            if isinstance(item, str) and item and item not in out:
                out.append(item)
    return out


#: Raw values shorter than this identify nobody ("79", "A12", "Ann"): equality with one is
#: neither a leak nor worth reporting. Refilled ids are drawn from wider formats anyway.
MIN_IDENTIFYING_LENGTH = 6


def _common(text: pa.Array) -> np.ndarray:
    lengths = _np(pc.fill_null(pc.utf8_length(text), 0))
    out = lengths < MIN_IDENTIFYING_LENGTH
    candidates = np.flatnonzero(~out & ~_np(pc.fill_null(pc.match_substring_regex(text, r"[\d@/:]"), True)))
    if not len(candidates):
        return out
    subset = text.take(pa.array(candidates))
    subset = pc.replace_substring(
        pc.replace_substring(pc.replace_substring(subset, ",", " "), ".", " "), "-", " "
    )
    words = pc.utf8_split_whitespace(subset)
    counts = _np(pc.list_value_length(words))
    known = _np(pc.is_in(pc.list_flatten(words), value_set=name_words()))
    parents = _np(pc.list_parent_indices(words))
    unknown = np.bincount(parents[~known], minlength=len(candidates)) if len(parents) else np.zeros(0)
    out[candidates] = (unknown == 0) & (counts >= 1) & (counts <= 6)
    return out


@lru_cache(maxsize=1)
def name_words() -> pa.Array:
    """Every dictionary first / last name word, lower-case as written and accent-folded."""
    first, last = dictionaries()
    raw_first, raw_last = pools()
    lowered = {w.lower() for w in [*raw_first, *raw_last]}
    return pa.array(sorted(first | last | lowered), type=pa.string())


def is_common_value(values: pd.Series) -> np.ndarray:
    """Values too common to identify anyone: shorter than MIN_IDENTIFYING_LENGTH characters, or
    one to six words that are all dictionary first or last names (a name many people share,
    which a fake-name generator also produces by chance). Equality with such a source value is
    a coincidence, not a leak; every other identifier is unique to its person."""
    return _common(_arrow_text(values))


class ForbiddenValues:
    """The normalised raw identifiers of a source, for fast membership tests of many values.

    Forms of *identifying* values and of *common* values (see `is_common_value`) are kept
    apart, so that a check can tell a leak from a chance coincidence. Each is a pandas Index
    of distinct strings whose hash table is built once and reused for every column and redraw.
    """

    def __init__(self, raw_identifiers: Iterable[pd.Series] = ()):
        identifying: list[np.ndarray] = []
        common: list[np.ndarray] = []
        for series in raw_identifiers:
            unique = pd.Series(series.dropna().unique(), dtype=object)
            if unique.empty:
                continue
            text = _arrow_text(unique)
            long_enough = _np(pc.fill_null(pc.utf8_length(text), 0)) >= MIN_IDENTIFYING_LENGTH
            if not long_enough.all():  # "79", "A12": too short to identify anyone, ignored
                text = text.filter(pa.array(long_enough))
            is_common = _common(text)
            for rows, values in _forms(text):
                flags = is_common if rows is None else is_common[rows]
                identifying.append(values[~flags])
                common.append(values[flags])
        self._identifying = _distinct(identifying)
        self._common = _distinct(common)

    def __len__(self) -> int:
        return len(self._identifying) + len(self._common)

    def __contains__(self, value: object) -> bool:
        return bool(self.matches(pd.Series([value], dtype=object))[0])

    def classify(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(equals an identifying raw value, equals only a common raw value), in any form."""
        n = len(values)
        identifying = np.zeros(n, dtype=bool)
        common = np.zeros(n, dtype=bool)
        if n == 0 or len(self) == 0:
            return identifying, common
        text = _arrow_text(values)
        as_text = values.dtype == object or str(values.dtype) in ("string", "category")
        forms = _forms(text) if as_text else [(None, _np(pc.fill_null(text, "")))]
        for rows, form in forms:
            target = slice(None) if rows is None else rows
            if len(self._identifying):
                identifying[target] |= self._identifying.get_indexer(form) >= 0
            if len(self._common):
                common[target] |= self._common.get_indexer(form) >= 0
        return identifying, common & ~identifying

    def matches(self, values: pd.Series) -> np.ndarray:
        """Which values equal a raw identifier (identifying or common) in any of its forms."""
        identifying, common = self.classify(values)
        return identifying | common


def _distinct(parts: list[np.ndarray]) -> pd.Index:
    if not parts:
        return pd.Index([], dtype=object)
    values = pd.unique(np.concatenate(parts))
    return pd.Index(values[values != ""], dtype=object)


def forbidden_values(raw_identifiers: Iterable[pd.Series]) -> ForbiddenValues:
    return ForbiddenValues(raw_identifiers)


# --------------------------------------------------------------------------------------------
# Templates of id columns
# --------------------------------------------------------------------------------------------


def learn_template(values: pd.Series, sample: int = 2000, seed: int = 0) -> str | None:
    """A format template of an ID column: non-digit characters that every value of the modal
    length shares stay literal (a prefix like `CUST-`), other positions become 9 (digit),
    A (upper), a (lower) or ? (mixed). Learnt only from at least MIN_TEMPLATE_VALUES distinct
    values of that length, so the template holds what many values share and never one value;
    values with spaces (prose) get no template. Digit positions are always free."""
    present = values.dropna().astype(str)
    if present.empty:
        return None
    present = present.sample(min(sample, len(present)), random_state=seed)
    if present.str.contains(r"\s", regex=True).mean() > 0.5:
        return None
    length = Counter(present.str.len()).most_common(1)[0][0]
    same_length = sorted({v for v in present if len(v) == length})
    if len(same_length) < MIN_TEMPLATE_VALUES or length == 0:
        return None
    template = []
    for position in range(length):
        chars = {v[position] for v in same_length}
        if len(chars) == 1 and not chars <= set("0123456789"):  # shared digits stay free: room for new ids
            char = chars.pop()
            template.append("\\" + char if char in "9Aa?\\" else char)
        elif all(c.isdigit() for c in chars):
            template.append("9")
        elif all(c.isascii() and c.isupper() for c in chars):
            template.append("A")
        elif all(c.isascii() and c.islower() for c in chars):
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


def template_capacity(template: str) -> float:
    """How many distinct values a template can produce."""
    return float(
        np.prod([float(len(t)) for literal, t in _template_tokens(template) if not literal] or [0.0])
    )


def widen_template(template: str, need: int) -> str:
    """The template with digit positions added after its last free position until it holds
    SPACE_HEADROOM x `need` values: a small or dense id space (1..N, `A99`) cannot run out."""
    while template_capacity(template) < SPACE_HEADROOM * max(need, 1):
        tokens = _template_tokens(template)
        free = [i for i, (literal, _) in enumerate(tokens) if not literal]
        at = free[-1] + 1 if free else len(tokens)
        rebuilt = [
            "\\" + t if literal and t in "9Aa?\\" else t if literal else _class_char(t)
            for literal, t in tokens
        ]
        rebuilt.insert(at, "9")
        template = "".join(rebuilt)
    return template


def _class_char(alphabet: str) -> str:
    return next(k for k, v in _TEMPLATE_CLASSES.items() if v == alphabet)


# --------------------------------------------------------------------------------------------
# Drawing fake identifiers
# --------------------------------------------------------------------------------------------


class IdentifierFaker:
    """Draws fake identifiers of a detected type, vectorised, never a unique identifier in
    `forbidden`; common values (names) avoid it while the space allows and are counted."""

    def __init__(self, seed: int, forbidden: ForbiddenValues):
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng = np.random.default_rng(seed)
        self.forbidden = forbidden
        self.coincidences: dict[str, int] = {}

    # -- the redraw loop -------------------------------------------------------------------

    def _compose(
        self,
        make_rows: Callable[[np.ndarray], np.ndarray],
        n: int,
        unique: bool = False,
        common: bool = False,
        label: str = "",
        wider: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> list[str]:
        """Make all n rows, then remake only the rows that hit a forbidden value (or repeat an
        earlier row, when `unique`). Common values give up after COMMON_VALUE_ROUNDS (then a
        `wider` maker) and count what remains; unique identifiers must succeed."""
        values = pd.Series(make_rows(np.arange(n)), dtype=object)
        rounds = COMMON_VALUE_ROUNDS * (2 if wider else 1) if common else _MAX_DRAWS
        checked = len(self.forbidden) > 0
        bad = self.forbidden.matches(values) if checked else np.zeros(n, dtype=bool)
        for round_ in range(rounds):
            if unique:
                bad |= values.duplicated().to_numpy()
            if not bad.any():
                return values.tolist()
            rows = np.flatnonzero(bad)
            maker = wider if (wider is not None and round_ >= COMMON_VALUE_ROUNDS) else make_rows
            values.iloc[rows] = maker(rows)
            bad = np.zeros(n, dtype=bool)
            if checked:  # only the redrawn rows can newly hit a source value
                bad[rows] = self.forbidden.matches(values.iloc[rows])
        if common:
            self.coincidences[label] = int(bad.sum())
            return values.tolist()
        raise RuntimeError(  # unreachable for widened spaces; kept as a guard
            "could not draw fresh fake identifiers that avoid every source value"
        )

    def _pick(self, pool: np.ndarray, k: int) -> np.ndarray:
        return pool[self.rng.integers(0, len(pool), k)]

    def _digits(self, k: int, width: int) -> np.ndarray:
        """k strings of `width` random digits."""
        if width <= 0:
            return np.full(k, "", dtype=object)
        matrix = self.rng.integers(0, 10, (k, width), dtype=np.uint8) + 48
        return np.array(matrix.view(f"S{width}").ravel().astype(str), dtype=object)

    # -- names -----------------------------------------------------------------------------

    def _name_pools(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from faker.providers.person.en_US import Provider

        female = np.array(sorted(Provider.first_names_female), dtype=object)
        male = np.array(sorted(Provider.first_names_male), dtype=object)
        last = np.array(sorted(Provider.last_names), dtype=object)
        return female, male, last

    def names(self, sexes: pd.Series | None, n: int, label: str = "full_name") -> list[str]:
        female, male, last = self._name_pools()
        wide_last = pools()[1]
        lowered = (
            sexes.astype("string").str.lower().fillna("").to_numpy(dtype=str)
            if sexes is not None
            else np.full(n, "", dtype=str)
        )

        def firsts(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            sex = lowered[rows]
            any_first = np.where(self.rng.random(k) < 0.5, self._pick(female, k), self._pick(male, k))
            first = np.where(np.char.startswith(sex, "f"), self._pick(female, k), any_first)
            return np.where(np.char.startswith(sex, "m"), self._pick(male, k), first)

        def make_rows(rows: np.ndarray) -> np.ndarray:
            return firsts(rows) + " " + self._pick(last, len(rows))

        def wider(rows: np.ndarray) -> np.ndarray:
            return firsts(rows) + " " + self._pick(wide_last, len(rows))

        return self._compose(make_rows, n, common=True, label=label, wider=wider)

    def single_names(self, kind: str, n: int, label: str) -> list[str]:
        female, male, last = self._name_pools()
        wide_first, wide_last = pools()
        narrow = np.concatenate([female, male]) if kind == "first_name" else last
        wide = wide_first if kind == "first_name" else wide_last

        def make_rows(rows: np.ndarray) -> np.ndarray:
            return self._pick(narrow, len(rows))

        def wider(rows: np.ndarray) -> np.ndarray:
            return self._pick(wide, len(rows))

        return self._compose(make_rows, n, common=True, label=label, wider=wider)

    # -- unique identifiers ----------------------------------------------------------------

    def street_addresses(self, n: int) -> list[str]:
        from faker.providers.address.en_US import Provider

        surnames = self.rng.choice(pools()[1], 400, replace=False)
        streets = np.array(
            [f"{name} {suffix}" for name in surnames for suffix in Provider.street_suffixes[:25]],
            dtype=object,
        )

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            number = self.rng.integers(1, 99_999, k).astype(str).astype(object)
            unit = np.where(
                self.rng.random(k) < 0.3,
                " Apt. " + self.rng.integers(1, 999, k).astype(str).astype(object),
                "",
            )
            return number + " " + self._pick(streets, k) + unit

        return self._compose(make_rows, n)

    def templated_ids(self, template: str, n: int) -> list[str]:
        tokens = _template_tokens(widen_template(template, n + len(self.forbidden)))

        def make_rows(rows: np.ndarray) -> np.ndarray:
            out = np.full(len(rows), "", dtype=object)
            for is_literal, text in tokens:
                if is_literal:
                    out = out + text
                else:
                    out = out + self._pick(np.array(list(text), dtype=object), len(rows))
            return out

        return self._compose(make_rows, n, unique=True)

    def integer_ids(self, n: int) -> list[str]:
        """Whole-number ids (as text) from a digit width that holds SPACE_HEADROOM x the rows plus
        the source's values, first digit non-zero: keys 1..N get ids they can never equal."""
        width = 7
        while 9 * 10.0 ** (width - 1) < SPACE_HEADROOM * (n + len(self.forbidden)):
            width += 1

        def make_rows(rows: np.ndarray) -> np.ndarray:
            lead = self.rng.integers(1, 10, len(rows)).astype(str).astype(object)
            return lead + self._digits(len(rows), width - 1)

        return self._compose(make_rows, n, unique=True)

    def phones(self, n: int, template: str | None) -> list[str]:
        """In the source's own format when one is learnt (`+44 20 …`, `(555) …`), else NANP
        `AAA-EEE-LLLL` with area and exchange codes that start 2-9."""
        tokens = _template_tokens(template) if template else []
        digits_only = bool(tokens) and all(  # digits and phone punctuation only: the gate's format
            (t in "+().-x /0123456789") if literal else t == _TEMPLATE_CLASSES["9"] for literal, t in tokens
        )
        if digits_only and template_capacity(template) >= SPACE_HEADROOM * (n + len(self.forbidden)):
            return self.templated_ids(template, n)

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            area = self.rng.integers(200, 1000, k).astype(str).astype(object)
            exchange = self.rng.integers(200, 1000, k).astype(str).astype(object)
            return area + "-" + exchange + "-" + self._digits(k, 4)

        return self._compose(make_rows, n)

    def ssns(self, n: int) -> list[str]:
        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            area = self.rng.integers(1, 900, k)
            area = np.where(area == 666, 667, area)
            group = self.rng.integers(1, 100, k)
            serial = self.rng.integers(1, 10_000, k)
            return np.array(
                pd.Series(area).map("{:03d}".format)
                + "-"
                + pd.Series(group).map("{:02d}".format)
                + "-"
                + pd.Series(serial).map("{:04d}".format),
                dtype=object,
            )

        return self._compose(make_rows, n)

    def cards(self, n: int) -> list[str]:
        """16-digit numbers starting with 4 and a valid Luhn check digit."""

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            body = np.concatenate(
                [np.full((k, 1), 4), self.rng.integers(0, 10, (k, 14))], axis=1
            )  # 15 digits, check digit last
            reversed_ = body[:, ::-1]
            doubled = reversed_[:, ::2] * 2
            doubled = np.where(doubled > 9, doubled - 9, doubled)
            total = doubled.sum(axis=1) + reversed_[:, 1::2].sum(axis=1)
            check = (10 - total % 10) % 10
            digits = np.concatenate([body, check[:, None]], axis=1).astype(np.uint8) + 48
            return np.array(digits.view("S16").ravel().astype(str), dtype=object)

        return self._compose(make_rows, n)

    def ibans(self, n: int, template: str | None) -> list[str]:
        """IBANs with valid ISO 7064 check digits, in the source's commonest country and length."""
        country = template[:2] if template and template[:2] in _NUMERIC_IBAN_LENGTHS else "DE"
        length = _NUMERIC_IBAN_LENGTHS[country]
        letters = {c: str(ord(c) - 55) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
        tail = "".join(letters[c] for c in country) + "00"

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            bban = self._digits(k, length - 4)
            numbers = pd.Series(bban) + tail
            remainder = np.zeros(k, dtype=np.int64)
            matrix = np.frombuffer("".join(numbers).encode(), dtype=np.uint8).reshape(k, -1) - 48
            for column in range(matrix.shape[1]):
                remainder = (remainder * 10 + matrix[:, column]) % 97
            check = pd.Series(98 - remainder).map("{:02d}".format)
            return np.array(country + check + pd.Series(bban), dtype=object)

        return self._compose(make_rows, n)

    def ips(self, n: int, v6: bool) -> list[str]:
        """IPv6 in the documentation prefix 2001:db8::/32 (never a real host); IPv4 public-looking."""

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            if v6:
                groups = [pd.Series(self.rng.integers(0, 65536, k)).map("{:x}".format) for _ in range(6)]
                out = pd.Series(["2001:db8"] * k)
                for group in groups:
                    out = out + ":" + group
                return np.array(out, dtype=object)
            first = self._pick(np.array([o for o in range(11, 224) if o not in (100, 127, 169, 172, 192)]), k)
            octets = [pd.Series(first).astype(str)] + [
                pd.Series(self.rng.integers(0, 256, k)).astype(str) for _ in range(3)
            ]
            return np.array(octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3], dtype=object)

        return self._compose(make_rows, n)

    def macs(self, n: int) -> list[str]:
        """Locally administered unicast MACs (second-lowest bit of the first octet set): no vendor's."""

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            octets = self.rng.integers(0, 256, (k, 6))
            octets[:, 0] = (octets[:, 0] | 0x02) & 0xFE
            parts = [pd.Series(octets[:, i]).map("{:02x}".format) for i in range(6)]
            out = parts[0]
            for part in parts[1:]:
                out = out + ":" + part
            return np.array(out, dtype=object)

        return self._compose(make_rows, n)

    def wallets(self, n: int, template: str | None) -> list[str]:
        alphabet = np.array(list("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"), dtype=object)
        hexdigits = np.array(list("0123456789abcdef"), dtype=object)
        ethereum = bool(template and template.startswith("0x"))

        def make_rows(rows: np.ndarray) -> np.ndarray:
            k = len(rows)
            out = np.full(k, "0x" if ethereum else "1", dtype=object)
            for _ in range(40 if ethereum else 33):
                out = out + self._pick(hexdigits if ethereum else alphabet, k)
            return out

        return self._compose(make_rows, n)

    def urls(self, n: int) -> list[str]:
        def make_rows(rows: np.ndarray) -> np.ndarray:
            return "https://www.example.com/u/" + self._digits(len(rows), 10)

        return self._compose(make_rows, n)

    def emails(self, names: list[str] | None, n: int) -> list[str]:
        if names is None:
            names = self.names(None, n, label="email (names)")
        local = pd.Series(names).str.lower().str.replace(r"[^a-z ]", "", regex=True).str.split()
        local = local.map(lambda parts: ".".join(parts[:1] + parts[-1:]) if parts else "user")
        number = pd.Series(np.arange(n)).astype(str)
        domain = pd.Series(np.array(_EMAIL_DOMAINS)[self.rng.integers(0, 3, n)])
        # The running number makes each address unique; example.* domains make none deliverable.
        emails = local + number + "@" + domain

        def make_rows(rows: np.ndarray) -> np.ndarray:
            return "user" + self._digits(len(rows), 12) + "@example.org"

        if len(self.forbidden) and self.forbidden.matches(emails).any():
            # Only possible if the source itself used example.* addresses: numbered ones instead.
            return self._compose(make_rows, n, unique=True)
        return emails.tolist()

    def lorem(self, n: int) -> list[str]:
        """Lorem-ipsum sentences: the refill of a dropped free-text column keeps no real word."""
        from faker.providers.lorem.la import Provider

        words = np.array(Provider.word_list, dtype=object)
        lengths = self.rng.integers(4, 13, n)
        out = self._pick(words, n).astype(object)
        out = pd.Series(out).str.capitalize().to_numpy(dtype=object)
        for position in range(1, 12):
            more = lengths > position
            out[more] = out[more] + " " + self._pick(words, int(more.sum()))
        return list(out + ".")

    # -- dispatch --------------------------------------------------------------------------

    def by_type(
        self, detected_type: str | None, n: int, template: str | None, column_type: str = "string"
    ) -> list[str]:
        label = detected_type or "id"
        if detected_type in ("full_name", "name"):
            return self.names(None, n, label=label)
        if detected_type in ("first_name", "last_name"):
            return self.single_names(detected_type, n, label=label)
        if detected_type in ("street_address", "address"):
            return self.street_addresses(n)
        if detected_type in TEXT_TYPES:
            return self.lorem(n)
        if detected_type == "email":
            return self.emails(None, n)
        if detected_type == "phone":
            return self.phones(n, template)
        if detected_type == "ssn":
            return self.ssns(n)
        if detected_type == "credit_card":
            return self.cards(n)
        if detected_type == "iban":
            return self.ibans(n, template)
        if detected_type == "ip_address":
            return self.ips(n, v6=bool(template and ":" in template))
        if detected_type == "mac_address":
            return self.macs(n)
        if detected_type == "crypto_wallet":
            return self.wallets(n, template)
        if detected_type == "url":
            return self.urls(n)
        if column_type in ("integer", "float") or (template and set(template) <= {"9"}):
            return self.integer_ids(n)
        if template:
            return self.templated_ids(template, n)
        if detected_type == "unexplained_text":
            return self.templated_ids("ID-9999999999", n)
        return self.templated_ids("ID-99999999", n)


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


def restore_source_shape(
    sampled: pd.DataFrame,
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    forbidden: ForbiddenValues,
    templates: Mapping[str, str | None],
    seed: int,
) -> pd.DataFrame:
    """The sampled frame in the source's column order and types, identifiers refilled.

    `frame.attrs["refill"]` says, per refilled column, how it was refilled and how many fake
    common values (names) coincide with some source value by chance (counts only).
    """
    rng = np.random.default_rng(seed)
    faker = IdentifierFaker(seed, forbidden)
    n = len(sampled)
    by_column = {t.column: t for t in plan}
    sex_column = next((c for c in sampled.columns if str(c).lower() in ("sex", "gender")), None)
    out: dict[str, pd.Series] = {}
    names: list[str] | None = None
    report: dict[str, dict] = {}
    # Names first: e-mails are made from them, as in a real customer table.
    ordered = sorted(spec.columns, key=lambda c: by_column[c].detected_type not in ("full_name", "name"))
    for column in ordered:
        treatment = by_column[column]
        column_type = spec.columns[column].type
        if treatment.reaches_model:
            values = sampled[column]
            if treatment.action == "generalize" and treatment.generalize:
                values = _degeneralize(values, treatment.generalize, rng)
        elif treatment.detected_type in ("full_name", "name"):
            names = faker.names(sampled[sex_column] if sex_column else None, n, label=column)
            values = pd.Series(names)
        elif treatment.detected_type == "email":
            values = pd.Series(faker.emails(names, n))
        else:
            kind = treatment.detected_type
            if kind in ("first_name", "last_name"):
                values = pd.Series(faker.single_names(kind, n, label=column))
            else:
                values = pd.Series(faker.by_type(kind, n, templates.get(column), column_type))
        if not treatment.reaches_model:
            report[column] = {
                "refilled_as": treatment.detected_type or "id",
                "chance_coincidences": faker.coincidences.get(column, 0),
            }
        out[column] = _cast(values.reset_index(drop=True), column_type)
    frame = pd.DataFrame({c: out[c] for c in spec.columns})
    frame.attrs["refill"] = report
    return frame
