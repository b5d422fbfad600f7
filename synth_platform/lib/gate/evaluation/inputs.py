"""What the gate reads from the warehouse: keyed bounded samples of the synthetic, train and
holdout tables for the pandas checks, and the figures that must stay exact over the whole tables
(sizes, exact copies, identifier leaks) in SQL."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.gate import privacy
from synth_platform.lib.spec import DatasetSpec

#: rows of each of train, holdout and synthetic the gate's pandas checks read at most. Every check
#: already works on a bounded sample of people (quality: `checks.evaluation_rows`; the attacks'
#: own sizes; the private figures' m, capped at this): a larger table adds SQL scans, not pandas work.
GATE_SAMPLE_ROWS = 50_000


@dataclass(frozen=True)
class WholeTables:
    """Figures over the whole warehouse tables (SQL), beside the bounded samples the checks read:
    sizes, exact copies and identifier leaks must stay exact (one copied or leaked row in millions
    is what they look for), so no sample decides them."""

    rows: dict[str, int]  # train, holdout, synthetic: COUNT(*)
    sample_rows: dict[str, int]  # rows of each sample the pandas checks read
    copies: privacy.ExactCopyResult
    leaks: privacy.LeakResult
    #: source people with an identifying identifier in the synthetic table (the private figure)
    leaking_people: int
    #: per row of the training sample (its index): an exact copy is somewhere in the synthetic table
    copied: pd.Series


def sample_query(source: str, columns: list[str], rows: int, hash_key: str) -> str:
    """The `rows` rows with the smallest keyed hash of their content (DuckDB's `hash`, ties broken
    by the content): a fixed function of the table and the key, so re-running the gate reads the
    same rows, and one person added or removed changes the sample by at most one row in and one
    row out (as `bounded_figures.keyed_sample`, which then picks each check's m people inside
    it: the composition keeps that bound)."""
    names = ", ".join(privacy._ident(c) for c in columns)
    literal = "'" + hash_key.replace("'", "''") + "'"
    return f"SELECT {names} FROM {source} ORDER BY hash({literal}, {names}), {names} LIMIT {int(rows)}"


def _sample(con, schema: str, table: str, rows: int, hash_key: str) -> tuple[pd.DataFrame, int]:
    """(sample, rows of the whole table). A table of at most `rows` rows is read whole in its
    stored order: the keyed sample would hold the same rows, and the order keeps every seeded
    check's draws (and so its figures) what they were when the gate read whole tables."""
    source = f"{privacy._ident(schema)}.{privacy._ident(table)}"
    total = int(con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
    if total <= rows:
        return con.execute(f"SELECT * FROM {source}").df(), total
    columns = list(privacy.table_columns(con, schema, table))
    return con.execute(sample_query(source, columns, rows, hash_key)).df(), total


def _copied_flags(con, plan, synthetic: tuple[str, str], train: tuple[str, str], sample: pd.DataFrame):
    """Per row of the training sample, whether an exact copy (model columns, NULL-safe, model space)
    is anywhere in the whole synthetic table: the private exact-copy figure's indicator."""
    n = sum(1 for t in plan if t.reaches_model)
    if sample.empty or n == 0:
        return pd.Series(False, index=sample.index)
    like = privacy.table_columns(con, *train)
    people_frame = sample.reset_index(drop=True)
    people_frame["__i"] = np.arange(len(people_frame))  # positions, whatever order DuckDB scans in
    con.register("__gate_people", people_frame)
    try:
        types = {c: like.get(c, "VARCHAR") for c in sample.columns}
        select = ", ".join(privacy.model_space_select(plan, like, types, real=True))
        people = f"(SELECT __i, {select} FROM __gate_people)"
        syn = privacy._model_space_relation(con, plan, *synthetic, like, real=False)
        hits = con.execute(
            f"SELECT a.__i FROM {people} a SEMI JOIN {syn} b "  # a semi-join needs no DISTINCT
            f"ON {privacy._null_safe_on(n)}"
        ).fetchall()
    finally:
        con.unregister("__gate_people")
    flags = np.zeros(len(sample), dtype=bool)
    flags[[h[0] for h in hits]] = True
    return pd.Series(flags, index=sample.index)


def _reserved_spaces(spec: DatasetSpec, plan: list[ColumnTreatment]) -> privacy.ReservedSpaces:
    """The plan's declared reserved spaces for the leak check (as the SQL scan derives them)."""
    return privacy.reserved_spaces(plan, {c: col.type for c, col in spec.columns.items()})


def read_gate_inputs(
    con,
    plan: list[ColumnTreatment],
    tables: dict[str, tuple[str, str]],
    identifier_columns: list[str],
    hash_key: str,
    sample_rows: int = GATE_SAMPLE_ROWS,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, WholeTables]:
    """(synthetic, train, holdout samples, whole-table figures) for `evaluate`, read from the
    warehouse: `tables` maps synthetic / train / holdout / raw to (schema, table). Tables of at
    most `sample_rows` rows are read whole, in stored order: the gate then sees exactly what it
    saw when it read whole tables."""

    frames, rows = {}, {}
    for name in ("synthetic", "train", "holdout"):
        frames[name], rows[name] = _sample(con, *tables[name], sample_rows, hash_key)
    copies = privacy.exact_copies_sql(con, plan, tables["synthetic"], tables["train"], tables["holdout"])
    if identifier_columns:
        candidates = privacy.leak_candidates(
            con, tables["synthetic"], tables["raw"], identifier_columns, plan
        )
        leaks = privacy.identifier_leaks_of_candidates(candidates, list(frames["synthetic"].columns))
        leaking = privacy.leaking_people_sql(con, candidates, tables["raw"])
    else:
        leaks = privacy.identifier_leaks(frames["synthetic"].iloc[:0], [])
        leaking = 0
    copied = _copied_flags(con, plan, tables["synthetic"], tables["train"], frames["train"])
    whole = WholeTables(
        rows=rows,
        sample_rows={name: len(frame) for name, frame in frames.items()},
        copies=copies,
        leaks=leaks,
        leaking_people=leaking,
        copied=copied,
    )
    return frames["synthetic"], frames["train"], frames["holdout"], whole
