"""Fake ids must not meet real numbers by chance once tables are large.

The gate's leak check compares the digits of every synthetic cell with the national digits of
every raw phone (and other digit identifiers), across columns. A million `SYN-` + 10-digit fakes
met a million real 10-digit phones about a hundred times by chance and blocked honest releases;
the default id pattern now grows with the rows so that such equalities stay rare.
"""

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill import refill_column
from synth_platform.lib.gate.privacy import identifier_leaks


def _real_looking_phones(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    area, exchange, line = rng.integers(201, 990, n), rng.integers(200, 1000, n), rng.integers(0, 10_000, n)
    return pd.Series([f"({a}) {e}-{ln:04d}" for a, e, ln in zip(area, exchange, line, strict=True)])


def test_default_ids_of_a_large_table_do_not_match_real_phones_by_chance():
    rows = 300_000  # 10-digit fakes would meet as many 10-digit phones ~10 times by chance
    values, report = refill_column(
        ColumnTreatment("account", "direct_identifier", "account_ref", "drop"), rows, 3
    )
    fakes = pd.Series(values, dtype=object)
    assert fakes.str.fullmatch(r"SYN-[1-9]\d{9,}").all() and fakes.is_unique
    leaks = identifier_leaks(pd.DataFrame({"account": fakes}), [_real_looking_phones(rows, 11)])
    assert leaks.leaked_cells == 0, leaks.columns_with_leaks
    assert report["format"].count("#") > 10  # wider than the small-table default


def test_whole_number_ids_stay_within_int64():
    values, _ = refill_column(
        ColumnTreatment("n", "direct_identifier", "record_id", "drop"), 20_000, 5, "integer"
    )
    numbers = pd.Series(values).astype("int64")
    assert (numbers < 0).all() and numbers.is_unique
