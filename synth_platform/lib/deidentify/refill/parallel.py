"""A table's chunks refilled by several worker processes at once, the same table whatever their number.

Refilling is Python-bound (string building, pandas object columns), so one process uses one core.
`fill_chunks` sends each sampled chunk to a pool of worker processes (`ChunkFiller.fill`: a chunk's
fakes depend only on the seed, the column, the chunk's index and first row and its sampled rows)
and takes the results back IN CHUNK ORDER, where the parent reconciles them (`SourceShape.reconcile`:
a unique identifier an earlier chunk already holds is redrawn from the chunk's own redraw stream).
So 1, 2 or 16 workers give the same table, byte for byte.

Memory stays bounded: at most `workers + 1` chunks are in flight (sampled, being filled, or filled
and waiting for their turn); the caller consumes chunks one at a time, and only the parent process
writes to the warehouse (DuckDB has one writer). A table that fits in one chunk is refilled in
this process: starting workers would cost more than it saves.

Workers are never forked from the parent (it may hold threads and a DuckDB connection, which a
forked child must not inherit): they are forked from a fork server that started clean and imported
the refill once (`_context`), so each starts quickly. As with any spawned process, a script that
calls this must guard its top level with `if __name__ == "__main__":` (the console scripts,
`python -m` and pytest do).

Their number: `SYNTH_REFILL_WORKERS` if set, else the machine's cores (`os.cpu_count()`); 1 (or 0)
means no worker processes at all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from synth_platform.lib.deidentify.refill.shape import ChunkFiller, FilledChunk, SourceShape

#: What the fork server imports once, before it forks any worker.
_PRELOAD = "synth_platform.lib.deidentify.refill.shape"
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
    """One chunk filled in a worker process (a module-level function: the pool pickles it by name)."""
    return filler.fill(index, start, sampled)


def fill_chunks(
    shape: SourceShape, sampled: Iterable[pd.DataFrame], workers: int | None = None
) -> Iterator[pd.DataFrame]:
    """Every chunk of the table in order, refilled by `workers` processes (default
    `refill_workers()`) and reconciled by `shape` in this process: the same frames as
    `shape.chunk` on each sampled chunk in turn."""
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
    yield from _pooled(shape, rest, workers)


def _pooled(shape: SourceShape, sampled: Iterator[pd.DataFrame], workers: int) -> Iterator[pd.DataFrame]:
    """Chunks filled by a pool, at most `workers + 1` in flight, reconciled in order."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    pending: deque[Future] = deque()
    try:
        for frame in sampled:
            index, start = shape.claim(len(frame))
            pending.append(pool.submit(_fill, shape.filler, index, start, frame))
            del frame  # the pool holds it until a worker has it: this loop keeps no sampled chunk
            if len(pending) > workers:
                yield shape.reconcile(pending.popleft().result())
        while pending:
            yield shape.reconcile(pending.popleft().result())
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _prepend(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The first chunk (already taken to see whether the table is one chunk), then the rest."""
    yield first
    del first
    yield from rest
