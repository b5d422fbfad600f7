"""Deterministic, neighbour-preserving train/holdout split, with one row per person.

A row's side is decided by an HMAC-SHA256 under a key derived from the platform's pseudonym
key (domain-separated, so no split hash equals a pseudonym) and the spec's split seed:

- with a key column, of the row's key value, so a person stays on the same side across every
  refresh;
- without one, of the row's canonical content (its cells, by column name, in a fixed text form).

Either way a row's side depends on that row alone: adding or removing one source row moves no
other row between train and holdout (the neighbouring datasets of the DP analysis stay neighbours
after the split), and changing one row moves at most that row. The holdout is what the privacy
attacks compare against, so it must never reach a model.

**One row per person (contribution bounding).** With a key column, at most one row per key value
is kept: the one whose keyed hash of its content is smallest -- deterministic, and independent of
any other person's rows. A person with m rows would otherwise weigh about m^2 times a single row in
a zCDP budget. Rows with an empty key cannot be told apart and each counts as its own person.
The number of rows dropped is a count of the real data: governed-side information only.

**Rows the release gate needs (`rows_needed`).** The gate's `holdout_size` check passes only when
the *noisy* holdout count (Gaussian, sd from the gate's rho share for that check) is surely
(`private_decision.Z` sd) at least `checks.min_holdout_rows`, and the noisy train count at least
`checks.min_evaluation_rows`. A table whose split falls short trains, spends budget and can then
only block. So, from the spec's public settings alone (never from data), this module computes the
people each side needs for that check to pass with probability `SIZE_CHECK_PASS`, and the people a
source needs so that the keyed split -- each person's side an independent keyed coin, so each
side's count is binomial -- gives both sides that many except with probability `SPLIT_SHORTFALL`.
Ingest refuses a smaller table (`lib.storage.ingest.check_enough_rows`) and the split step stops before
training if its sides still fall short (`shortfall`). Both decide on exact counts, as
`source.min_rows` always did: they stop a run on the governed side before anything is trained or
charged, and say only that the table is too small for the gate.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import binom, norm

if TYPE_CHECKING:  # type hints only: evaluation (SDV, GX) is imported when the gate's needs are asked
    from synth_platform.lib.deidentify.masking import ColumnTreatment
    from synth_platform.lib.spec import DatasetSpec

_CONTEXT = b"synth_platform split v1"
#: Used when no platform key is given (benchmarks, tests): the split is then public given the seed.
_PUBLIC = b"synth_platform public split key"


@dataclass(frozen=True)
class SplitResult:
    train: pd.DataFrame
    holdout: pd.DataFrame
    #: Rows beyond the first of a key value, dropped before the split (a count: governed side only).
    duplicate_rows_dropped: int = 0


def _split_key(secret: str | bytes | None, seed: int) -> bytes:
    raw = _PUBLIC if secret is None else (secret.encode() if isinstance(secret, str) else bytes(secret))
    return hmac.new(raw, _CONTEXT + b"|seed=" + str(int(seed)).encode(), hashlib.sha256).digest()


def _key_missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy()


def _in_duckdb(frame: pd.DataFrame, build) -> list[tuple]:
    """Run a `split_sql` builder's SELECT on the frame, registered in an in-memory DuckDB: the
    warehouse's SQL is the one implementation, whatever the table's size."""
    import duckdb

    from synth_platform.lib.deidentify.masking import register_frame
    from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb

    # registered under positional names: a frame's column may be called anything (a hidden tag
    # such as "\x00person", names differing in case); the canonical row keeps the real names
    plain = frame.set_axis([f"c{i}" for i in range(frame.shape[1])], axis=1)
    con = duckdb.connect()
    try:
        kinds = register_frame(con, "frame_to_split", plain)
        columns = [(f"c{i}", kinds[f"c{i}"], str(name)) for i, name in enumerate(frame.columns)]
        sql, params = build(DUCKDB.quote("frame_to_split"), columns)
        with bind_duckdb(con, params):
            return con.execute(sql).fetchall()
    finally:
        con.close()


def _key_name(frame: pd.DataFrame, key: str | None) -> str | None:
    """The key's positional name in the registered frame (`_in_duckdb`), None without a key."""
    if key is None or key not in frame.columns:
        return None
    return f"c{list(frame.columns).index(key)}"


def holdout_mask(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    key: str | None = None,
    *,
    secret: str | bytes | None = None,
) -> np.ndarray:
    """True for the rows that go to the holdout: keyed HMAC of the key value, or of the row's content.

    `secret` is the platform's pseudonym key (the chain always passes it); without it the split
    is still neighbour-preserving but anyone who knows the seed can recompute it.
    """
    from synth_platform.lib.storage.sql_dialect import DUCKDB
    from synth_platform.lib.synthesize import split_sql

    if not 0.0 < fraction < 1.0:
        raise ValueError("holdout fraction must be between 0 and 1")
    rows = _in_duckdb(
        frame,
        lambda source, columns: split_sql.holdout_flags_select(
            source, _key_name(frame, key), fraction, seed, secret, DUCKDB, columns
        ),
    )
    return np.array([bool(row[0]) for row in rows], dtype=bool)


def one_row_per_key(
    frame: pd.DataFrame, key: str | None, seed: int = 0, *, secret: str | bytes | None = None
) -> tuple[pd.DataFrame, int]:
    """At most one row per key value (contribution bounding); returns (kept rows, rows dropped).

    The row kept for a key value is the one with the smallest keyed hash of its content, so the
    choice is the same every run and does not depend on any other person's rows. Rows whose key
    is empty each count as their own person. Row order is kept; the index is reset.
    """
    from synth_platform.lib.storage.sql_dialect import DUCKDB
    from synth_platform.lib.synthesize import split_sql

    if key is None or key not in frame.columns or frame.empty:
        return frame.reset_index(drop=True), 0
    rows = _in_duckdb(
        frame,
        lambda source, columns: split_sql.kept_positions_select(
            source, _key_name(frame, key), seed, secret, DUCKDB, columns
        ),
    )
    positions = np.array([int(row[0]) - 1 for row in rows], dtype=np.int64)
    return frame.iloc[positions].reset_index(drop=True), len(frame) - len(positions)


def split_dataset(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    key: str | None = None,
    *,
    secret: str | bytes | None = None,
) -> SplitResult:
    """One row per key value (with a key), then the keyed, neighbour-preserving split."""
    bounded, dropped = one_row_per_key(frame, key, seed, secret=secret)
    mask = holdout_mask(bounded, fraction, seed, key, secret=secret)
    return SplitResult(bounded[~mask].reset_index(drop=True), bounded[mask].reset_index(drop=True), dropped)


def split_train_holdout(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    key: str | None = None,
    *,
    secret: str | bytes | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): `split_dataset` without the count of dropped rows."""
    result = split_dataset(frame, fraction, seed, key, secret=secret)
    return result.train, result.holdout


# --- Rows the release gate needs, from the spec alone -----------------------------------------

#: At most this chance that the keyed split of a table ingest accepted leaves a side short of the
#: gate's need (shared by the two sides): a refused run costs nothing, a short split wastes budget.
SPLIT_SHORTFALL = 1e-4
#: At least this chance that the gate's private size check passes when each side holds what it
#: needs: at exactly `min + Z sd` the noisy check would pass only half the time, a coin flip paid for
#: with a training's budget.
SIZE_CHECK_PASS = 0.99
#: The largest holdout fraction ingest suggests: beyond half, the model learns from fewer people
#: than it is judged on.
MAX_SUGGESTED_FRACTION = 0.5


class SplitTooSmallError(ValueError):
    """After the split, a side holds fewer people than the release gate needs: stop before training."""


@dataclass(frozen=True)
class RowsNeeded:
    """What a dataset's spec asks of a table before it is worth training on (all public)."""

    #: people the holdout needs for the gate's size check to pass with probability SIZE_CHECK_PASS
    holdout: int
    #: people train needs, likewise (checks.min_evaluation_rows plus the same margin)
    train: int
    #: people (rows, one per key value) the source needs at `fraction` for both sides to get theirs
    source: int
    fraction: float
    #: the noise margin added to each minimum: (Z + z(SIZE_CHECK_PASS)) sd of the gate's noisy counts
    margin: float
    noise_sd: float
    #: the real-data checks the gate's rho is split over (the holdout's share sets `noise_sd`)
    checks: tuple[str, ...]
    #: `source.min_rows`: the spec's explicit floor, applied besides `source`
    min_rows: int

    @property
    def floor(self) -> int:
        """The rows ingest asks for: the larger of the gate's need and the explicit `source.min_rows`."""
        return max(self.source, self.min_rows)


def _widest_plan() -> list[ColumnTreatment]:
    """A stand-in plan under which every plan-dependent gate check applies (two quasi-identifiers and
    a sensitive column reach the model): the most checks share the gate's rho, so the holdout's share
    is the smallest and its noise the largest. Used before an approved plan is known (at ingest)."""
    from synth_platform.lib.deidentify.masking import ColumnTreatment

    return [
        ColumnTreatment("_qi_1", "quasi_identifier", None, "keep"),
        ColumnTreatment("_qi_2", "quasi_identifier", None, "keep"),
        ColumnTreatment("_secret", "sensitive", None, "keep"),
    ]


def gate_checks(
    spec: DatasetSpec, plan: Sequence[ColumnTreatment] | Sequence[str] | None = None
) -> list[str]:
    """The real-data checks of the gate (`evaluation.real_data_checks`, asked at run time so a check
    added later changes the margin too); given check names are taken as they are; without a plan,
    the widest set the spec allows (the most demanding case)."""
    from synth_platform.lib.gate import evaluation

    if plan and all(isinstance(p, str) for p in plan):
        return list(plan)
    return evaluation.real_data_checks(spec, list(plan) if plan is not None else _widest_plan())


def gate_noise_sd(spec: DatasetSpec, checks: Sequence[str]) -> float:
    """The sd of the gate's noisy train and holdout counts: Δ = 1 at the holdout check's rho share."""
    from synth_platform.lib.gate import evaluation, private_decision

    rho = private_decision.split_rho(spec.checks.gate_rho, list(checks))[evaluation.HOLDOUT_CHECK]
    return private_decision.gaussian_sigma(1.0, rho)


def gate_margin(noise_sd: float) -> float:
    """Rows above a minimum for the noisy check `count - Z sd >= minimum` to pass with probability
    SIZE_CHECK_PASS: Z sd for the check's own caution, z(SIZE_CHECK_PASS) sd for the noise's draw."""
    from synth_platform.lib.gate import private_decision

    return (private_decision.Z + float(norm.ppf(SIZE_CHECK_PASS))) * noise_sd


def sure_side(people: int, fraction: float) -> int:
    """The most people a side of share `fraction` surely gets from `people`: the largest h with
    P(Binomial(people, fraction) >= h) >= 1 - SPLIT_SHORTFALL / 2 (each side takes half the chance)."""
    if people <= 0:
        return 0
    return max(0, int(binom.ppf(SPLIT_SHORTFALL / 2, people, fraction)))


def _fits(people: int, fraction: float, holdout: int, train: int) -> bool:
    return sure_side(people, fraction) >= holdout and sure_side(people, 1.0 - fraction) >= train


def source_rows(holdout: int, train: int, fraction: float) -> int:
    """The fewest people for which the keyed split at `fraction` surely gives both sides their need
    (binomial tails; monotone in the number of people, so a doubling then bisection search)."""
    low, high = max(holdout + train - 1, 0), max(holdout + train, 1)
    while not _fits(high, fraction, holdout, train):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _fits(middle, fraction, holdout, train) else (middle, high)
    return high


def rows_needed(
    spec: DatasetSpec, plan: Sequence[ColumnTreatment] | Sequence[str] | None = None
) -> RowsNeeded:
    """The people each side and the source need for this spec's gate (public settings only).

    `plan`: the approved masking plan's treatments, or the gate's check names; None assumes every
    plan-dependent check applies (at ingest, before the plan is checked): a few rows more at most.
    """
    checks = gate_checks(spec, plan)
    sd = gate_noise_sd(spec, checks)
    margin = gate_margin(sd)
    holdout = math.ceil(spec.checks.min_holdout_rows + margin)
    train = math.ceil(spec.checks.min_evaluation_rows + margin)
    fraction = spec.split.holdout_fraction
    return RowsNeeded(
        holdout=holdout,
        train=train,
        source=source_rows(holdout, train, fraction),
        fraction=fraction,
        margin=margin,
        noise_sd=sd,
        checks=tuple(checks),
        min_rows=spec.source.min_rows,
    )


def fraction_for(people: int, needed: RowsNeeded) -> float | None:
    """The smallest holdout fraction (in hundredths, up to MAX_SUGGESTED_FRACTION) at which `people`
    surely split into enough on both sides; None when no such fraction exists."""
    for hundredths in range(1, round(MAX_SUGGESTED_FRACTION * 100) + 1):
        fraction = hundredths / 100
        if _fits(people, fraction, needed.holdout, needed.train):
            return fraction
    return None


def min_holdout_rows_for(people: int, needed: RowsNeeded) -> int | None:
    """The largest `checks.min_holdout_rows` with which `people` would do at the spec's fraction (the
    margin unchanged); None when even 1 would not, or when train falls short whatever the minimum."""
    if sure_side(people, 1.0 - needed.fraction) < needed.train:
        return None
    most = math.floor(sure_side(people, needed.fraction) - needed.margin)
    return most if most >= 1 else None


def count_people(frame: pd.DataFrame, key: str | None) -> int:
    """The people the split will see: one per key value (`one_row_per_key`), a row each without a key
    or with an empty key. Cheap: no hashing."""
    if key is None or key not in frame.columns:
        return len(frame)
    values = frame[key]
    missing = _key_missing(values)
    return int(values[~missing].nunique()) + int(missing.sum())


def shortfall(train_rows: int, holdout_rows: int, needed: RowsNeeded) -> str | None:
    """Why a split cannot pass the gate's size check (None when it can): said after the split, before
    any training, so a run stops without spending budget."""
    short = []
    if holdout_rows < needed.holdout:
        short.append(f"the holdout has {holdout_rows} people, the gate needs {needed.holdout}")
    if train_rows < needed.train:
        short.append(f"train has {train_rows} people, the gate needs {needed.train}")
    if not short:
        return None
    return (
        "; ".join(short)
        + f" (checks.min_holdout_rows / min_evaluation_rows plus {needed.margin:.0f} for the private "
        f"gate's noise, sd {needed.noise_sd:.1f}): the gate could only block"
    )


def require_gate_rows(train_rows: int, holdout_rows: int, needed: RowsNeeded) -> None:
    """Raise SplitTooSmallError when the split's sides fall short of what the gate needs."""
    problem = shortfall(train_rows, holdout_rows, needed)
    if problem:
        raise SplitTooSmallError(problem)


@dataclass(frozen=True)
class SplitCounts:
    """What a split in the warehouse wrote: rows per side and rows dropped beyond one per key."""

    train: int
    holdout: int
    duplicate_rows_dropped: int


def split_table(
    con,
    source: tuple[str, str],
    train_target: tuple[str, str],
    holdout_target: tuple[str, str],
    fraction: float,
    seed: int,
    key: str | None,
    *,
    secret: str | bytes | None = None,
    before_commit=None,
    replacing=None,
) -> SplitCounts:
    """Write train and holdout from `source` inside the warehouse (`split_sql`), in one transaction;
    the keyed pass over `source` runs once for both sides (`_sided_once`).

    `before_commit(con, counts)` runs in that transaction once both sides exist (the run-lease check
    and the gate's row need): if it raises, neither side is replaced. `replacing`: the transaction
    (`warehouse.replacing_tables` unless the caller names its own, e.g. a test's instrumented one).
    """
    from synth_platform.lib.deidentify.masking_sql import duckdb_column_kinds
    from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb
    from synth_platform.lib.storage.warehouse import replacing_tables
    from synth_platform.lib.synthesize import split_sql

    if not 0.0 < fraction < 1.0:
        raise ValueError("holdout fraction must be between 0 and 1")
    relation = DUCKDB.relation(*source)
    columns = list(duckdb_column_kinds(con, relation).items())
    params = split_sql.split_params(secret, seed)  # the split key's HMAC pads, bound as variables
    total = int(con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0])
    with bind_duckdb(con, params), _sided_once(con, relation, key, fraction, columns) as sides:
        tables = {train_target: sides["train"], holdout_target: sides["holdout"]}
        with (replacing or replacing_tables)(con, tables):
            train, holdout = (
                int(con.execute(f"SELECT count(*) FROM {DUCKDB.relation(*target)}").fetchone()[0])
                for target in (train_target, holdout_target)
            )
            counts = SplitCounts(train, holdout, total - train - holdout)
            if before_commit is not None:
                before_commit(con, counts)
    return counts


#: The connection-local table holding every kept row with its side (`_sided_once`).
_SIDED = "_synth_split_sided"


@contextmanager
def _sided_once(con, relation: str, key: str | None, fraction: float, columns) -> Iterator[dict]:
    """Train's and holdout's SELECTs reading one TEMP table of the sided rows, not two keyed passes.

    `split_sql.split_selects` gives two SELECTs that share their `WITH ... sided` part (the
    one-row-per-key ranking and an HMAC per row: the split's whole cost) and differ only in the
    side they keep. That part runs once here into a TEMP table (the connection's own memory,
    spilling to the warehouse's private temp folder; never in the database file, so a crash leaves
    nothing behind), and each side selects from it: the same rows in the same order (by source
    position), columns and types. The caller binds the split key's parameters; dropped after use.
    """
    from synth_platform.lib.storage.sql_dialect import DUCKDB
    from synth_platform.lib.storage.warehouse import SqlQuery
    from synth_platform.lib.synthesize import split_sql

    with_ = split_sql._ctes(relation, key, fraction, columns, DUCKDB, bound=True)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_SIDED} AS {with_}\nSELECT * FROM sided")
    names, flag, position = (
        split_sql._select_columns(columns, DUCKDB),
        split_sql._HOLDOUT,
        split_sql._POS,
    )
    try:
        yield {
            "train": SqlQuery(f"SELECT {names} FROM temp.{_SIDED} WHERE NOT {flag} ORDER BY {position}"),
            "holdout": SqlQuery(f"SELECT {names} FROM temp.{_SIDED} WHERE {flag} ORDER BY {position}"),
        }
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{_SIDED}")
