"""A sampled table back in its source's shape: identifiers refilled, generalised columns drawn back.

`refill_column` draws one column's fakes; `SourceShape` does a whole table chunk by chunk, as if it
were one frame (unique identifiers unique across all chunks); `restore_source_shape` is the
one-frame form. Inputs are public only: the sampled (synthetic) rows, the spec, the approved
plan's treatment of each column and the seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill.formats import accepted_formats, check_format, check_formats
from synth_platform.lib.deidentify.refill.kinds import (
    NAME_TYPES,
    NUMERIC_COLUMN_TYPES,
    RESERVED_SPACES,
    refill_kind,
)
from synth_platform.lib.deidentify.refill.reserved_faker import (
    _UNIQUE_ROUNDS,
    ReservedFaker,
    TakenValues,
    _chunk_rng,
    _column_seed,
)
from synth_platform.lib.spec import DatasetSpec

#: '00'..'99': the two digits a ZIP3 gets back, looked up instead of formatted row by row.
_TWO_DIGITS = np.array([f"{d:02d}" for d in range(100)], dtype=object)


def _fullmatch_each_distinct(text: pd.Series, pattern: str) -> np.ndarray:
    """`text.str.fullmatch(pattern)` (missing: False), matched once per distinct value (a ZIP3
    column holds at most a thousand) rather than once per row."""
    codes, distinct = pd.factorize(text)
    matches = pd.Series(distinct, dtype="string").str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    return np.append(matches, False)[codes]  # code -1 (missing) takes the appended False


def _degeneralize(values: pd.Series, rule: str, rng: np.random.Generator) -> pd.Series:
    n = len(values)
    if rule == "zip3":
        suffix = pd.Series(_TWO_DIGITS[rng.integers(0, 100, n)], index=values.index)
        text = values.astype("string")
        return (text + suffix).where(_fullmatch_each_distinct(text, r"\d{3}"), None).astype(object)
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
    present = values.notna()
    if present.all():  # nothing to turn into None (a refilled column): no second copy
        return values.astype(object)
    return values.astype(object).where(present, None)


def refill_column(
    treatment: ColumnTreatment,
    n: int,
    seed: int,
    column_type: str = "string",
    sexes: pd.Series | None = None,
    names: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    chunk: int = 0,
    start: int = 0,
    total: int | None = None,
    taken: TakenValues | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict]:
    """n fakes for one refilled column and a report of how (kind, format, reserved space).

    Inputs are public only: the column's treatment (detected type, format), the row count, the
    seed, the synthetic rows' sex (names follow it) and the fake names of this table (e-mails are
    made from them). Nothing here can see a real value. For one chunk of a larger table: its
    index (its own random stream), first row, the table's rows and the fakes earlier chunks drew
    (`TakenValues`), so unique identifiers stay unique across the whole table. `rng`: another
    stream than the column's own (redraws of fakes an earlier chunk already holds)."""
    check_format(treatment.column, treatment.detected_type, treatment.format, column_type)
    stream = rng if rng is not None else _column_seed(seed, treatment.column, chunk)
    faker = ReservedFaker(stream, total=total, start=start, taken=taken)
    kind = refill_kind(treatment.detected_type, column_type)
    fmt, numeric = treatment.format, column_type in NUMERIC_COLUMN_TYPES
    if kind == "name":
        values = faker.format_names(*(names or faker.given_and_family(sexes, n)), fmt)
    elif kind == "single_name":
        values = faker.single_names(treatment.detected_type or "first_name", n, fmt)
    elif kind == "street_address":
        values = faker.street_addresses(n)
    elif kind == "text":
        values = faker.lorem(n)
    elif kind == "email":
        values = faker.emails(*(names or faker.given_and_family(sexes, n)), fmt)
    elif kind == "phone":
        values = faker.phones(n, fmt, numeric)
    elif kind == "ssn":
        values = faker.ssns(n, fmt, numeric)
    elif kind == "credit_card":
        values = faker.cards(n, fmt, numeric)
    elif kind == "iban":
        values = faker.ibans(n, fmt)
    elif kind == "ip_address":
        values = faker.ips(n, fmt)
    elif kind == "mac_address":
        values = faker.macs(n, fmt)
    elif kind == "crypto_wallet":
        values = faker.wallets(n, fmt)
    elif kind == "url":
        values = faker.urls(n)
    else:
        values, fmt = faker.ids(n, fmt, integer=kind == "integer_id")
    space = RESERVED_SPACES["name" if kind == "single_name" else "id" if kind == "integer_id" else kind]
    default = accepted_formats(treatment.detected_type, column_type)[0]
    shown = (
        "digits (whole-number column)"
        if numeric and kind in ("phone", "ssn", "credit_card")
        else fmt or default
    )
    report = {"refilled_as": treatment.detected_type or "id", "format": shown, "space": space}
    return np.asarray(values, dtype=object), report


#: Refill kinds whose fakes are kept distinct across the table (`ReservedFaker._distinct`).
DISTINCT_KINDS = frozenset({"ssn", "credit_card", "iban", "crypto_wallet", "url", "id", "integer_id"})


class _KeptDistinct(TakenValues):
    """Stands in for earlier chunks' fakes when a chunk is filled on its own (there are none):
    it records only whether the faker kept the column's fakes distinct -- it adds them only when
    the column's space is roomy enough (`ReservedFaker._distinct`) -- without hashing them."""

    def __init__(self) -> None:
        super().__init__()
        self.kept = False

    def add(self, values: np.ndarray) -> None:
        self.kept = True


@dataclass(frozen=True)
class FilledChunk:
    """One chunk refilled on its own (possibly in a worker process), before the table-wide step.

    `hashes`: per unique-identifier column, the 64-bit hashes of its fakes (`TakenValues.hashes`),
    so the parent checks them against earlier chunks without shipping the values twice."""

    index: int
    #: the filled frame; an Arrow table of it when it came back from a worker (`parallel`)
    frame: pd.DataFrame | pa.Table
    report: dict[str, dict]
    hashes: dict[str, np.ndarray]


@dataclass(frozen=True)
class ChunkFiller:
    """What refilling one chunk needs, and nothing of earlier chunks: picklable, so a worker
    process can fill chunk i while another fills chunk i + 1. A chunk's fakes depend only on
    (seed, column, chunk index, its first row, the table's rows) and its sampled rows -- never on
    which process drew it or how many there are. Fakes that repeat one of an EARLIER chunk are
    redrawn afterwards, in chunk order, by `SourceShape` (`_reconcile`)."""

    spec: DatasetSpec
    by_column: dict[str, ColumnTreatment]
    seed: int
    total_rows: int
    name_column: str | None
    distinct_columns: tuple[str, ...]

    def fill(self, index: int, start: int, sampled: pd.DataFrame) -> FilledChunk:
        """Chunk `index` (table rows from `start`) in the source's column order and types,
        identifiers refilled and distinct within the chunk."""
        n = len(sampled)
        rng = _chunk_rng(self.seed, index)
        sex_column = next((c for c in sampled.columns if str(c).lower() in ("sex", "gender")), None)
        sexes = sampled[sex_column].reset_index(drop=True) if sex_column else None
        names = None
        if self.name_column is not None:
            people = ReservedFaker(_column_seed(self.seed, "\x00people", index))
            names = people.given_and_family(sexes, n)
        out: dict[str, pd.Series] = {}
        report: dict[str, dict] = {}
        hashes: dict[str, np.ndarray] = {}
        for column in self.spec.columns:
            treatment = self.by_column[column]
            column_type = self.spec.columns[column].type
            if treatment.reaches_model:
                values = sampled[column].reset_index(drop=True)
                if treatment.action == "generalize" and treatment.generalize:
                    values = _degeneralize(values, treatment.generalize, rng)
            else:
                # a fresh record of this chunk's fakes: filled only where the column's space is
                # roomy enough for uniqueness (`ReservedFaker._distinct`), as before
                own = _KeptDistinct() if column in self.distinct_columns else None
                fakes, report[column] = refill_column(
                    treatment,
                    n,
                    self.seed,
                    column_type,
                    sexes,
                    names,
                    chunk=index,
                    start=start,
                    total=self.table_rows(start + n),
                    taken=own,
                )
                if own is not None and own.kept:
                    hashes[column] = TakenValues.hashes(fakes)
                values = pd.Series(fakes, dtype=object)
            out[column] = _cast(values.reset_index(drop=True), column_type)
        return FilledChunk(index, pd.DataFrame({c: out[c] for c in self.spec.columns}), report, hashes)

    def table_rows(self, end: int) -> int:
        """The rows the table's spaces are sized for (more when the sampler gave more)."""
        return max(self.total_rows, end)

    def redraw(
        self, column: str, k: int, index: int, start: int, rng: np.random.Generator
    ) -> tuple[pd.Series, np.ndarray]:
        """k fresh fakes of a unique-identifier column from a redraw stream: (cast, hashes)."""
        treatment, column_type = self.by_column[column], self.spec.columns[column].type
        fakes, _report = refill_column(
            treatment, k, self.seed, column_type, total=self.table_rows(start + k), rng=rng
        )
        return _cast(pd.Series(fakes, dtype=object), column_type), TakenValues.hashes(fakes)


def _column(frame: pd.DataFrame | pa.Table, column: str) -> pd.Series:
    """One column of a filled chunk as pandas, with the type it had in the frame (an Arrow
    table keeps the frame's pandas metadata: text stays object, Int64 stays Int64)."""
    if isinstance(frame, pa.Table):
        return frame.select([column]).to_pandas()[column]
    return frame[column]


def _redraw_rng(seed: int, column: str, index: int) -> np.random.Generator:
    """The stream redraws of chunk `index`'s fakes come from: independent of every column and
    chunk stream (a two-part spawn key), and the same in whichever process runs it."""
    entropy = [int(seed) & 0xFFFFFFFF, zlib.crc32(str(column).encode())]
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(index), 1)))


class SourceShape:
    """Gives a sampled table its source's shape chunk by chunk, as if it were one frame.

    Made once per table (the formats are checked here, before anything is drawn), then called
    on each sampled chunk in order: chunk i draws from its own streams (seed, column, i), e-mails
    number rows across the table, and each unique identifier column remembers the fakes earlier
    chunks drew (`TakenValues`, 8 bytes a row) so no fake repeats anywhere in the table. Memory
    is one chunk plus those hashes. The same inputs and chunk size give the same table.
    `report` says, per refilled column, its kind, format and reserved space (no value).

    Each chunk is first filled on its own (`ChunkFiller.fill`, which a worker process can run:
    `chunks` fills several at once), then reconciled here in chunk order: a fake an earlier chunk
    already holds is redrawn from the chunk's redraw stream. So the table is the same whether one
    process or several filled it.
    """

    def __init__(self, spec: DatasetSpec, plan: list[ColumnTreatment], seed: int, total_rows: int):
        check_formats(plan, spec)
        self.spec, self.seed, self.total_rows = spec, seed, int(total_rows)
        self.by_column = {t.column: t for t in plan}
        self.report: dict[str, dict] = {}
        self._chunks = 0
        self._rows = 0
        self._taken = {
            column: TakenValues()
            for column in spec.columns
            if not self.by_column[column].reaches_model
            and refill_kind(self.by_column[column].detected_type, spec.columns[column].type) in DISTINCT_KINDS
        }
        # The table's people: e-mails are made from the same fake names, as in a real customer table.
        self.name_column = next(
            (
                c
                for c in spec.columns
                if not self.by_column[c].reaches_model and self.by_column[c].detected_type in NAME_TYPES
            ),
            None,
        )
        self.filler = ChunkFiller(
            spec, self.by_column, int(seed), self.total_rows, self.name_column, tuple(self._taken)
        )
        self._starts: dict[int, int] = {}  # claimed, not yet reconciled: index -> first row
        self._reconciled = 0

    def claim(self, n: int) -> tuple[int, int]:
        """The next chunk's (index, first table row), for a chunk of n rows (in sampling order)."""
        index, start = self._chunks, self._rows
        self._chunks, self._rows = index + 1, start + n
        self._starts[index] = start
        return index, start

    def chunk(self, sampled: pd.DataFrame) -> pd.DataFrame:
        """The next chunk of the table in the source's column order and types, identifiers refilled."""
        index, start = self.claim(len(sampled))
        return self.reconcile(self.filler.fill(index, start, sampled))

    def chunks(
        self, sampled: Iterable[pd.DataFrame], workers: int | None = None, arrow: bool = False
    ) -> Iterator[pd.DataFrame | pa.Table]:
        """Every chunk of the table, in order, filled by `workers` processes at once (default:
        `parallel.refill_workers()`); the same table whatever the count (`parallel.fill_chunks`).
        `arrow`: a chunk a worker filled stays the Arrow table it travelled as (for a writer)."""
        from synth_platform.lib.deidentify.refill.parallel import fill_chunks

        return fill_chunks(self, sampled, workers, arrow)

    def reconcile(self, filled: FilledChunk) -> pd.DataFrame | pa.Table:
        """Chunk `filled.index` made consistent with the chunks before it (call in chunk order):
        a unique-identifier fake an earlier chunk drew is redrawn (never compared with a real
        value: only with other fakes, by hash), then the chunk's fakes are remembered."""
        if filled.index != self._reconciled:
            raise ValueError(f"chunk {filled.index} reconciled out of order (expected {self._reconciled})")
        self._reconciled += 1
        start = self._starts.pop(filled.index)
        frame = filled.frame
        for column, hashes in filled.hashes.items():
            frame = self._unrepeat(frame, column, hashes, filled.index, start)
        self.report.update(filled.report)
        return frame

    def _unrepeat(
        self, frame: pd.DataFrame | pa.Table, column: str, hashes: np.ndarray, index: int, start: int
    ) -> pd.DataFrame | pa.Table:
        """Redraw the fakes of `column` that an earlier chunk drew or that a redraw repeated
        inside this chunk, then remember the chunk's fakes. A frame is changed in place; an Arrow
        table (immutable) comes back with that one column replaced, the rest untouched."""
        taken = self._taken[column]
        hashes = np.array(hashes, dtype=np.uint64)
        repeated = taken.contains_hashes(hashes)
        rng = None
        replaced = None
        for _ in range(_UNIQUE_ROUNDS):
            if not repeated.any():
                break
            rng = rng or _redraw_rng(self.seed, column, index)
            at = np.flatnonzero(repeated)
            values, new_hashes = self.filler.redraw(column, len(at), index, start, rng)
            replaced = (_column(frame, column) if replaced is None else replaced).copy()
            replaced.iloc[at] = values.array  # the column's own dtype (text, Int64)
            hashes[at] = new_hashes
            repeated = taken.contains_hashes(hashes) | pd.Series(hashes).duplicated().to_numpy()
        taken.add_hashes(hashes)
        if replaced is None:
            return frame
        if isinstance(frame, pa.Table):
            at = frame.schema.get_field_index(column)
            field = frame.schema.field(at)
            return frame.set_column(at, field, pa.Array.from_pandas(replaced, type=field.type))
        frame[column] = replaced
        return frame


def restore_source_shape(
    sampled: pd.DataFrame, spec: DatasetSpec, plan: list[ColumnTreatment], seed: int
) -> pd.DataFrame:
    """The sampled frame in the source's column order and types, identifiers refilled.

    A function of public inputs only -- the synthetic frame, the spec, the approved plan's
    treatment of each column (detected type, format) and the seed -- never of a raw value (see
    the module docstring). Formats are checked first (`check_formats`): a bad one is a clear
    ValueError before anything is drawn. `frame.attrs["refill"]` says, per refilled column, its
    kind, format and reserved space (no value). The frame is one chunk of `SourceShape`: the
    chunked writer of the synthetic stage runs the same code.
    """
    shape = SourceShape(spec, plan, seed, len(sampled))
    frame = shape.chunk(sampled)
    frame.attrs["refill"] = shape.report
    return frame
