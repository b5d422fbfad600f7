"""First- and last-name dictionaries for finding person names by their values.

A column of single given names or surnames has no pattern a regex could check, so the
evidence is membership: what share of the values are known first names, known last
names. The lists are Faker's per-locale person providers (installed with Faker, read
from its modules: nothing is downloaded), pooled over the Latin-script locales. Names
are compared case-folded and without accents, so `José` and `JOSE` are one name.

The same lists feed the refill of name columns, so fake names come from the same
population of spellings the detector knows.
"""

from __future__ import annotations

import importlib
import pkgutil
import unicodedata
from functools import lru_cache

import numpy as np

#: Latin-script locales whose person providers are pooled (about 40k distinct spellings).
LOCALES = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "en_NZ",
    "de_DE",
    "de_AT",
    "fr_FR",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pt_PT",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "no_NO",
    "fi_FI",
    "cs_CZ",
    "hu_HU",
    "ro_RO",
    "tr_TR",
    "hr_HR",
    "id_ID",
)

#: Words that Faker lists as names but that are ordinary category values in real tables
#: ("White", "Black" in a race column). Membership of these never counts as evidence.
_AMBIGUOUS_WORDS = (
    "white black brown green gray grey young king may june april august will mark rich bill love "
    "summer winter major long short little sale price rose lane dean"
)
_AMBIGUOUS = frozenset(_AMBIGUOUS_WORDS.split())


def fold(text: str) -> str:
    """Case-folded, accents removed: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _names(provider: type, kind: str) -> set[str]:
    """Every list of `kind` ("first_name" / "last_name") a provider holds, whatever it calls
    it (`first_names_female`, `male_last_names`, weighted dicts)."""
    out: set[str] = set()
    for attribute in dir(provider):
        if kind not in attribute or not attribute.endswith(("s", "_female", "_male")):
            continue
        values = getattr(provider, attribute)
        if isinstance(values, dict):
            values = list(values)
        if isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values):
            out.update(values)
    return out


@lru_cache(maxsize=1)
def _raw_lists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    first: set[str] = set()
    last: set[str] = set()
    for locale in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except (ImportError, AttributeError):  # a locale dropped by a later Faker: fewer names
            continue
        first |= _names(provider, "first_name")
        last |= _names(provider, "last_name")
    return tuple(sorted(first)), tuple(sorted(last))


@lru_cache(maxsize=1)
def dictionaries() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names), folded; multi-word entries are split into their words."""
    first_raw, last_raw = _raw_lists()

    def words(values: tuple[str, ...]) -> frozenset[str]:
        out: set[str] = set()
        for value in values:
            for word in value.replace("-", " ").split():
                folded = fold(word).strip(".'")
                if len(folded) >= 2 and folded not in _AMBIGUOUS:
                    out.add(folded)
        return frozenset(out)

    return words(first_raw), words(last_raw)


@lru_cache(maxsize=1)
def pools() -> tuple[np.ndarray, np.ndarray]:
    """(first names, last names) as spelled by Faker, single words, for drawing fake names."""
    first_raw, last_raw = _raw_lists()

    def clean(values: tuple[str, ...]) -> np.ndarray:
        kept = sorted({v for v in values if v.isalpha() and v[:1].isupper() and len(v) >= 2})
        return np.array(kept, dtype=object)

    return clean(first_raw), clean(last_raw)


@lru_cache(maxsize=1)
def every_faker_name() -> frozenset[str]:
    """Every first- and last-name word of EVERY Faker locale (folded), not only the pooled ones.

    The detection dictionaries pool 25 Latin-script locales; an invented family name checked only
    against those can still be a real surname elsewhere (the 6,000 names once held 'Simard', a
    common Quebec surname, and 'Morard', listed by fr_CA / fr_CH). A fake 'Marie Simard' then
    meets every real Marie Simard of a large table by chance: the pair space (given x family)
    is small enough that ten million fakes cover most of it. Public lists only, no data.
    """
    import faker.providers.person as person

    out: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        try:
            provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        for kind in ("first_name", "last_name"):
            for value in _names(provider, kind):
                out.update(fold(word).strip(".'") for word in value.replace("-", " ").split())
    return frozenset(out)


#: Syllables of the fictional family names: pronounceable, Latin letters only.
_ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
    "th",
    "sh",
    "ch",
)
_NUCLEI = ("a", "e", "i", "o", "u", "ae", "ei", "ou", "ia")
_CODAS = ("", "n", "r", "l", "s", "th", "nd", "rk", "lt", "m", "v", "x")
_ENDINGS = ("ane", "ell", "ick", "owe", "ard", "ine", "ost", "urn", "ix", "ay", "um", "ev")


#: Syllables of an invented family name (before its ending). One syllable and an ending make
#: real surnames too often ('Simard', 'Morard': 4 of 6,000 such words are names in Faker locales
#: the dictionaries do not pool, so real surnames beyond every list meet them at a similar rate);
#: two syllables made none of 6,000 meet any of the 35,000 held-out name words.
FICTIONAL_SYLLABLES = 2


@lru_cache(maxsize=1)
def fictional_family_names(count: int = 6000) -> np.ndarray:
    """Invented family names that are in none of the shipped name dictionaries (25 locales) and
    in no name list of any Faker locale (`every_faker_name`).

    Refill draws family names and street names from here, never from lists of real names: a
    fake full name ('Maria Trelshusick') or street ('Bethzoost Avenue') then cannot equal a real
    person's name or street drawn from those dictionaries, so a planted real name can never
    reappear in a synthetic table, and nothing has to be compared with the data to ensure it.
    The list is a fixed function of this code (a seeded generator), the same on every machine.
    """
    rng = np.random.default_rng(20261203)
    first, last = dictionaries()
    known = first | last | every_faker_name()  # every locale's names: no real surname from any list
    out: set[str] = set()
    while len(out) < count:
        word = (
            "".join(
                _ONSETS[rng.integers(len(_ONSETS))]
                + _NUCLEI[rng.integers(len(_NUCLEI))]
                + _CODAS[rng.integers(len(_CODAS))]
                for _ in range(FICTIONAL_SYLLABLES)
            )
            + _ENDINGS[rng.integers(len(_ENDINGS))]
        )
        if 5 <= len(word) <= 12 and fold(word) not in known:
            out.add(word.capitalize())
    return np.array(sorted(out), dtype=object)
