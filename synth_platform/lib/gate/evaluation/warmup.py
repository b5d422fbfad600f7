"""Import the gate's heavy libraries while the gate waits on DuckDB.

The gate's first seconds are SQL (keyed samples, exact copies, the identifier-leak scan:
`read_gate_inputs`), during which DuckDB holds no Python lock; its next ones import Great
Expectations, SDMetrics (and torch through it), anonymeter, scikit-learn and matplotlib, which
took about a third of the gate on the demo. `warm_imports` imports them on a background thread
while the SQL runs and waits for that thread on exit, so no figure is computed while an import
is still under way (two threads importing each other's modules could otherwise meet half-built
modules). Importing changes no figure: every check seeds its own draws.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: what the gate and its evidence pack import lazily, in the order they are first needed
HEAVY_MODULES = (
    "great_expectations",  # the public GX suite (decides)
    "sklearn.ensemble",  # TSTR, exact and bounded (decides when the spec declares targets)
    "sdmetrics.reports",  # the exact quality score (evidence)
    "anonymeter.evaluators",  # the exact singling-out, linkability, inference attacks (evidence)
    "matplotlib.pyplot",  # the evidence pack's pictures
)


def _import_all(modules: tuple[str, ...], failures: list[str]) -> None:
    """Import each module; a failure is recorded, never raised (the check that needs the module
    imports it again and reports the error where it belongs)."""
    from synth_platform.lib.gate import quality

    quality._hide_spark_connect_from_gx()  # the guard GX's import needs in a step subprocess
    for name in modules:
        try:
            if name == "matplotlib.pyplot":
                import matplotlib

                matplotlib.use("Agg", force=True)  # as the evidence pack draws: headless
            importlib.import_module(name)
        except Exception as error:  # reported by the check that needs the module
            failures.append(f"{name}: {type(error).__name__}")


class WarmImports:
    """A background thread importing `modules`; `wait` before computing any figure."""

    def __init__(self, modules: tuple[str, ...] = HEAVY_MODULES):
        self.failures: list[str] = []  # names and error types only
        self._worker = threading.Thread(
            target=_import_all, args=(modules, self.failures), name="gate-warm-imports", daemon=True
        )
        self._worker.start()

    def wait(self) -> list[str]:
        """Block until every import finished (or failed); the modules that failed."""
        self._worker.join()
        return self.failures


@contextmanager
def warm_imports(modules: tuple[str, ...] = HEAVY_MODULES) -> Iterator[list[str]]:
    """Import `modules` on a background thread for the duration of the block; on exit, wait for
    it. Yields the list of modules that failed to import (filled by the time the block exits)."""
    warm = WarmImports(modules)
    try:
        yield warm.failures
    finally:
        warm.wait()
