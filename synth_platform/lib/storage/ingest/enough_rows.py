"""Too few rows is a problem of the file too: a table smaller than what the release gate needs
after the keyed split is refused before any run trains and spends budget on it.

The need comes from the spec's public settings (`lib.synthesize.split.rows_needed`); the message
says which settings would let the table through, never a value. `source.min_rows` stays an
explicit floor beside it (the larger applies).
"""

from __future__ import annotations

import pandas as pd

from synth_platform.lib.spec import DatasetSpec, spec_location
from synth_platform.lib.storage.ingest.errors import (
    TooFewRowsError,
)
from synth_platform.lib.storage.ingest.landing import TypedLanding
from synth_platform.lib.synthesize import split


def check_enough_rows(table: pd.DataFrame | TypedLanding, spec: DatasetSpec, file_name: str) -> None:
    """Refuse a table the release gate could only block for lack of rows (TooFewRowsError).

    The need is the spec's (`lib.synthesize.split.rows_needed`, before the approved plan is checked: every
    plan-dependent gate check counted); the table's size is its people, one per key value, as the
    split will see them (counted in SQL for a checked landing file). The message names the rows it
    has, the rows needed and the settings that would let it through, never a value.
    """
    if isinstance(table, TypedLanding):
        rows, people = table.rows, table.people
    else:
        rows, people = len(table), split.count_people(table, spec.key)
    needed = split.rows_needed(spec)
    if people >= needed.source:
        return
    raise TooFewRowsError(_too_few_message(file_name, spec, rows, people, needed))


def _too_few_message(file_name: str, spec: DatasetSpec, rows: int, people: int, needed) -> str:
    """What is short, why, and what a person can change (more rows, the fraction, the minimum)."""
    has = f"{rows} data rows" if people == rows else f"{rows} data rows ({people} people, one row per key)"
    where = spec_location(spec.name)
    why = (
        f"{file_name}: {has}, too few for the release gate of '{spec.name}': its holdout must hold "
        f"{needed.holdout} people and train {needed.train} (checks.min_holdout_rows "
        f"{spec.checks.min_holdout_rows} / min_evaluation_rows {spec.checks.min_evaluation_rows} plus "
        f"{needed.margin:.0f} for the private gate's noise, sd {needed.noise_sd:.1f}), and at "
        f"split.holdout_fraction {needed.fraction:g} the keyed split gives both that (but for a chance "
        f"of {split.SPLIT_SHORTFALL:g}) from {needed.source} people on; a smaller table would train, "
        "spend budget and then be blocked."
    )
    options = [f"deliver at least {needed.source} rows (one per person)"]
    fraction = split.fraction_for(people, needed)
    if fraction is not None and fraction > needed.fraction:
        options.append(
            f"set split.holdout_fraction: {fraction:g} in {where} (train then keeps about "
            f"{round(people * (1 - fraction))} people)"
        )
    if fraction is None:
        most = split.MAX_SUGGESTED_FRACTION
        why += f" No split.holdout_fraction up to {most:g} is enough for {people} people."
    minimum = split.min_holdout_rows_for(people, needed)
    if minimum is not None and minimum < spec.checks.min_holdout_rows:
        options.append(
            f"lower checks.min_holdout_rows to {minimum} (the privacy attacks then judge from fewer "
            "holdout people: only larger leaks stand out of the noise, and fewer leaks are blocked)"
        )
    options.append("raise checks.gate_rho (less noise on the gate's figures, more budget per release)")
    return why + " To let this table through: " + "; or ".join(options) + "."
