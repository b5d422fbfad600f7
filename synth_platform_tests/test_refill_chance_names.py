"""Fake full names must not meet real people's names by chance once tables are large.

A refilled name is a real given name and an invented family name. The invented names avoided
the 25 pooled name dictionaries only, and some were real surnames elsewhere ('Simard', common in
Quebec; 'Morard'). The pair space (given x family, a few million) is small enough that ten
million fakes cover most of it, so every real 'Marie Simard' of a large source would have been
met by chance and counted as a leak. Invented names are now two syllables and an ending, and in
no name list of any Faker locale.
"""

import math

import pandas as pd
from faker.providers.person.en_US import Provider as EnglishNames

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import CHANCE_DIGIT_MATCHES, refill_column
from synth_platform.lib.gate.privacy import identifier_leaks
from synth_platform.lib.pii.name_dictionaries import (
    dictionaries,
    every_faker_name,
    fictional_family_names,
    fold,
)

#: Real surnames outside the pooled dictionaries that a one-syllable invented name once equalled.
REAL_SURNAMES_BEYOND_THE_DICTIONARIES = ("Simard", "Morard")


def _expected_chance_name_matches(rows: int) -> float:
    """Expected source people whose full name a refilled table of `rows` rows meets by chance,
    when the source (as large) draws family names from names the pooled dictionaries do not hold
    (every Faker locale's name words beyond them: stand-ins for real surnames beyond every list)
    and given names from the refill's own pool. Computed from the sizes of the spaces: the share
    of such people whose family name is an invented one, times the chance that the fakes hold
    their (given, family) pair at least once."""
    first, last = dictionaries()
    beyond = every_faker_name() - first - last
    invented = {fold(name) for name in fictional_family_names()}
    given = len(EnglishNames.first_names_female) + len(EnglishNames.first_names_male)
    pair_covered = 1.0 - math.exp(-rows / (given * len(invented)))
    return rows * len(invented & beyond) / len(beyond) * pair_covered


def test_expected_chance_name_matches_stay_negligible_at_ten_million_rows():
    for rows in (50_000, 1_000_000, 10_000_000):
        assert _expected_chance_name_matches(rows) <= CHANCE_DIGIT_MATCHES, rows


def test_invented_family_names_are_no_name_of_any_faker_locale():
    invented = {fold(name) for name in fictional_family_names()}
    assert len(invented) >= 5000
    assert not invented & every_faker_name()
    assert not invented & {fold(s) for s in REAL_SURNAMES_BEYOND_THE_DICTIONARIES}


def test_real_people_with_surnames_beyond_the_dictionaries_are_never_met():
    """Plant every given name of the refill's pool with real surnames the dictionaries miss, in
    the 'Family, Given' form, then search 120,000 fakes written 'Given Family' for them."""
    given = sorted(set(EnglishNames.first_names_female) | set(EnglishNames.first_names_male))
    source = pd.Series(
        [f"{family}, {name}" for family in REAL_SURNAMES_BEYOND_THE_DICTIONARIES for name in given]
        + [None, "Zoë Ærøskøbing"],
        dtype=object,
    )
    values, _ = refill_column(
        ColumnTreatment("kunde_navn", "direct_identifier", "full_name", "drop"), 120_000, 17
    )
    fakes = pd.Series(values, dtype=object)
    assert fakes.str.fullmatch(r"\S+ [A-Z][a-z]+").all()
    leaks = identifier_leaks(pd.DataFrame({"kunde_navn": fakes}), [source])
    assert leaks.leaked_cells == 0, leaks.columns_with_leaks
    families = {fold(family) for family in fakes.str.split(" ").str[-1].unique()}
    assert not families & every_faker_name()
