"""A table's chunks refilled by several worker processes at once, the same table whatever their number.

Refilling is Python-bound (string building, pandas object columns), so one process uses one core.
`fill_chunks` sends each sampled chunk to a pool of worker processes (`ChunkFiller.fill`: a chunk's
fakes depend only on the seed, the column, the chunk's index and first row and its sampled rows)
and takes the results back IN CHUNK ORDER, where the parent reconciles them (`SourceShape.reconcile`:
a unique identifier an earlier chunk already holds is redrawn from the chunk's own redraw stream).
So 1, 2 or 16 workers give the same table, byte for byte.

A filled chunk travels back to the parent as an Arrow table (`_shipped`), not a pickled frame:
its refilled columns are hundreds of thousands of distinct strings, which pickle object by object
(about a second per 250,000 rows, in the worker and again in the parent), while Arrow ships each
column as a few buffers. With `arrow=True` (the synthetic stage) the parent keeps the table as it
is -- reconciling edits only the few redrawn cells' columns, and DuckDB reads Arrow without a
conversion -- so no refilled string becomes a Python object in the parent at all; otherwise it
turns it back into the same frame (the frame's pandas types travel with it). A frame Arrow cannot
hold exactly (an object column of mixed types) travels as it is.

Memory stays bounded: at most `workers + 1` chunks are in flight (sampled, being filled, or filled
and waiting for their turn); the caller consumes chunks one at a time, and only the parent process
writes to the warehouse (DuckDB has one writer). A table that fits in one chunk is refilled in
this process: starting workers would cost more than it saves.

Workers are never forked from the parent (it may hold threads and a DuckDB connection, which a
forked child must not inherit): they are forked from a fork server that started clean, imported
the refill and built its name pools once (`_context`, `worker_preload`), so each starts quickly.
As with any spawned process, a script that calls this must guard its top level with
`if __name__ == "__main__":` (the console scripts, `python -m` and pytest do).

Their number: `SYNTH_REFILL_WORKERS` if set, else the machine's cores (`os.cpu_count()`); 1 (or 0)
means no worker processes at all.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from synth_platform.lib.deidentify.refill.shape import ChunkFiller, FilledChunk, SourceShape

#: What the fork server imports once, before it forks any worker: the refill, and the name pools
#: built (`worker_preload`), so no worker spends its first second building them.
_PRELOAD = "synth_platform.lib.deidentify.refill.worker_preload"
#: Environment variable that sets how many processes refill a table's chunks.
WORKERS_ENV = "SYNTH_REFILL_WORKERS"


def refill_workers() -> int:
    """How many worker processes refill chunks: `SYNTH_REFILL_WORKERS`, else the machine's cores."""
    configured = os.environ.get(WORKERS_ENV, "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError as error:
            message = f"{WORKERS_ENV} must be a whole number of processes, not {configured!r}"
            raise ValueError(message) from error
    return max(1, os.cpu_count() or 1)


def _context() -> multiprocessing.context.BaseContext:
    """Worker processes forked from a fork server (started clean, not from this process: it may
    hold threads and a DuckDB connection) that has imported the refill once: each worker then
    starts in milliseconds instead of importing pandas and the refill itself. Where there is no
    fork server (not POSIX), spawned processes."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([_PRELOAD])
    return context


def _fill(filler: ChunkFiller, index: int, start: int, sampled: pd.DataFrame) -> FilledChunk:
    """One chunk filled in a worker process (a module-level function: the pool pickles it by name),
    its frame packed for the trip back (`_shipped`)."""
    return _shipped(filler.fill(index, start, sampled))


def _shipped(filled: FilledChunk) -> FilledChunk:
    """The chunk with its frame as an Arrow table, which pickles as a few buffers a column; the
    frame itself when Arrow cannot hold it exactly (an object column of mixed types)."""
    try:
        table = pa.Table.from_pandas(filled.frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return filled
    return dataclasses.replace(filled, frame=table)


def _received(filled: FilledChunk) -> FilledChunk:
    """The chunk with its frame back in pandas, with the types it had in the worker (the pandas
    metadata Arrow keeps); `_shipped` undone."""
    if isinstance(filled.frame, pa.Table):
        return dataclasses.replace(filled, frame=filled.frame.to_pandas())
    return filled


def fill_chunks(
    shape: SourceShape, sampled: Iterable[pd.DataFrame], workers: int | None = None, arrow: bool = False
) -> Iterator[pd.DataFrame | pa.Table]:
    """Every chunk of the table in order, refilled by `workers` processes (default
    `refill_workers()`) and reconciled by `shape` in this process: the same frames as
    `shape.chunk` on each sampled chunk in turn. With `arrow`, a chunk a worker filled comes as
    the Arrow table of that frame (for a writer that reads Arrow: no conversion back to pandas);
    a chunk filled in this process stays a frame."""
    workers = refill_workers() if workers is None else max(1, int(workers))
    chunks = iter(sampled)
    first = next(chunks, None)
    if first is None:
        return
    if workers <= 1 or len(first) >= shape.total_rows:  # one chunk (or one process): no pool
        yield shape.chunk(first)
        for frame in chunks:
            yield shape.chunk(frame)
        return
    rest = _prepend(first, chunks)
    del first  # held by `rest` until the pool takes it, then by nobody
    yield from _pooled(shape, rest, workers, arrow)


def _pooled(
    shape: SourceShape, sampled: Iterator[pd.DataFrame], workers: int, arrow: bool = False
) -> Iterator[pd.DataFrame | pa.Table]:
    """Chunks filled by a pool, at most `workers + 1` in flight, reconciled in order (as Arrow
    tables with `arrow`, else as frames)."""
    unpack = (lambda filled: filled) if arrow else _received
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    pending: deque[Future] = deque()
    try:
        for frame in sampled:
            index, start = shape.claim(len(frame))
            pending.append(pool.submit(_fill, shape.filler, index, start, frame))
            del frame  # the pool holds it until a worker has it: this loop keeps no sampled chunk
            if len(pending) > workers:
                yield shape.reconcile(unpack(pending.popleft().result()))
        while pending:
            yield shape.reconcile(unpack(pending.popleft().result()))
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _prepend(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The first chunk (already taken to see whether the table is one chunk), then the rest."""
    yield first
    del first
    yield from rest
