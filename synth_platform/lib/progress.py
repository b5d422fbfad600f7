"""Progress lines for long steps (fitting, sampling, attacks), so a million-row run is not silent.

`timed(log, what, rows)` logs one line when a step starts and one when it ends, with the row
count and the seconds taken. `log` is anything with `.info` (a Dagster `context.log`, a
`logging.Logger`): this module does not import Dagster. Lines carry counts and durations only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed(log, what: str, rows: int | None = None) -> Iterator[None]:
    started = time.perf_counter()
    on = f" on {rows:,} rows" if rows is not None else ""
    if log is not None:
        log.info(f"{what}: started{on}")
    try:
        yield
    except BaseException:
        if log is not None:
            log.info(f"{what}: stopped by an error after {time.perf_counter() - started:.1f} s")
        raise
    if log is not None:
        log.info(f"{what}: done{on} in {time.perf_counter() - started:.1f} s")
