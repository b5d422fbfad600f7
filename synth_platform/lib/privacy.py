"""Privacy checks that need no model of the data: exact copies and identifier leaks.

* exact copies: synthetic rows identical to a training row;
* identifier leaks: any raw direct-identifier value of the source, in any column.

The calibrated attacks (close and near copies, membership inference, anonymeter's
singling out / linkability / inference, unique people) live in `lib/attacks/`; they
replaced the distance-to-closest-record train share that used to be here, which a table
of planted real people passed (see `lib/attacks/closest_record.py` for why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synth_platform.lib.refill import forbidden_values


@dataclass(frozen=True)
class ExactCopyResult:
    copies: int
    share: float
    holdout_baseline_share: float  # how often a *real* unseen row equals a training row


@dataclass(frozen=True)
class LeakResult:
    leaked_cells: int  # cells equal to an identifying raw value: a leak, blocking
    columns_with_leaks: dict[str, int]
    coincidences: int = 0  # cells equal only to a common raw value (a name): chance, reported
    columns_with_coincidences: dict[str, int] = field(default_factory=dict)
    rule: str = ""  # how a leak is told from a coincidence, for the report


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns as comparable strings (1 == 1.0, NaN == None), so equal rows hash equal."""
    out = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            values = pd.to_numeric(values, errors="coerce").astype("float64").round(9)
        out[column] = values.astype("string").fillna("<NA>")
    return pd.DataFrame(out)


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return pd.util.hash_pandas_object(_canonical(frame, columns), index=False).to_numpy()


def exact_copies(synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, columns: list[str]):
    train_hashes = _row_hashes(train, columns)
    synthetic_copies = np.isin(_row_hashes(synthetic, columns), train_hashes)
    holdout_copies = np.isin(_row_hashes(holdout, columns), train_hashes)
    return ExactCopyResult(
        copies=int(synthetic_copies.sum()),
        share=float(synthetic_copies.mean()) if len(synthetic) else 0.0,
        holdout_baseline_share=float(holdout_copies.mean()) if len(holdout) else 0.0,
    )


LEAK_RULE = (
    "a synthetic cell is a leak when it equals a raw direct identifier of the source in any written "
    "form (case, spaces and separators, phone country code and extension, 'Smith, John' word order); "
    "raw values shorter than 6 characters once trimmed (a short code, initials, a key under 100000) "
    "are not compared, since every column is searched and such a value turns up there by chance; "
    "when the raw value is a common one (one to six words, each a dictionary first or last name), "
    "many people share it and a fake-name generator produces it by chance, so equality is a "
    "coincidence: counted and reported, not a leak"
)


def identifier_leaks(synthetic: pd.DataFrame, raw_identifiers: Iterable[pd.Series]) -> LeakResult:
    """Count synthetic cells (in any column) equal to a raw direct identifier of the source.

    Cells equal to an *identifying* raw value (an e-mail, a number, an address, an id) are
    leaks; cells equal only to a *common* raw value (a name many people share) are chance
    coincidences, counted apart (`LEAK_RULE` says how the two are told apart). Only counts
    are returned: the leaked values themselves must not travel further.
    """
    forbidden = forbidden_values(raw_identifiers)
    per_column: dict[str, int] = {}
    by_chance: dict[str, int] = {}
    for column in synthetic.columns:
        # Each distinct value is looked up once: a category column of a million rows costs a few lookups.
        codes, uniques = pd.factorize(synthetic[column].dropna())
        distinct_identifying, distinct_common = forbidden.classify(pd.Series(uniques))
        identifying, common = distinct_identifying[codes], distinct_common[codes]
        if identifying.any():
            per_column[str(column)] = int(identifying.sum())
        if common.any():
            by_chance[str(column)] = int(common.sum())
    return LeakResult(
        leaked_cells=sum(per_column.values()),
        columns_with_leaks=per_column,
        coincidences=sum(by_chance.values()),
        columns_with_coincidences=by_chance,
        rule=LEAK_RULE,
    )
