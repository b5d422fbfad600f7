"""Recognising raw identifiers however they are written: the gate's leak check only.

This is the restricted side: `privacy.identifier_leaks` compares a synthetic table with the
source's raw direct identifiers through these normalised forms. The refill
(`lib.deidentify.refill`) never uses this module -- fake identifiers are drawn from reserved spaces
and never compared with, or redrawn against, real values.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth_platform.lib.pii.name_dictionaries import dictionaries, pools

_EXTENSION = r"\s*(?:x|ext\.?|extension|#)\s*\d{1,6}$"
#: Whitespace as Arrow's `utf8_trim_whitespace` and `utf8_split_whitespace` know it, in RE2 syntax (Arrow's
#: regex kernels and DuckDB both use RE2). RE2's `\s` alone is ASCII: a name whose words a no-break space
#: separates was never compared with its words reordered, nor a code grouped by them compacted. The SQL
#: leak scan's keys use the same class (`privacy`), checked against Arrow code point by code point.
WHITESPACE_CLASS = r"\s\p{Z}\x{0B}\x{1C}-\x{1F}\x{85}"


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
        compact = pc.replace_substring_regex(subset, f"[{WHITESPACE_CLASS}\\-./()]+", "")
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
    spaced = pc.fill_null(pc.match_substring_regex(text, f"[{WHITESPACE_CLASS},]"), False)
    wordy = np.flatnonzero(~has_digit & _np(spaced))
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
