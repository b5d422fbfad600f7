"""Code location for the kill tests: the real definitions, with one place to hang chosen by env.

`SYNTH_TEST_STALL_AT` names the point (`raw`, `split`, `fit`, `sample`, `gate`, `verdict`,
`release`); when the run gets there it writes its process id to `SYNTH_TEST_STALL_MARKER` and
sleeps, so the test can `kill -9` it at exactly that point. Four points hang *inside* a
transaction whose writes belong together, after its last write and before its COMMIT, the worst
place to die: `raw` (the raw table and its ingest-log row), `split` (train and holdout),
`verdict` (the gate's assessment and, for a failed gate, its `blocked` ledger row) and `release`
(the release and its `released` ledger row). `fit` and `sample` hang between steps' writes, `gate`
as the gate starts evaluating. Nothing else changes.
"""

import contextlib
import os
import time
from pathlib import Path

from synth_platform.definitions import build_definitions
from synth_platform.defs.chain import split
from synth_platform.lib.gate import evaluation
from synth_platform.lib.governance import ledger, release
from synth_platform.lib.storage import ingest_log
from synth_platform.lib.synthesize import synthesis, synthetic_table

_POINT = os.environ.get("SYNTH_TEST_STALL_AT", "")


def _stall(point: str) -> None:
    if point == _POINT:
        Path(os.environ["SYNTH_TEST_STALL_MARKER"]).write_text(str(os.getpid()))
        time.sleep(600)


def _hang(module, name: str, point: str, when=lambda *a, **k: True) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            _stall(point)
        return result

    setattr(module, name, wrapper)


def _before(module, name: str, point: str) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        _stall(point)
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def _stall_before_commit(module, point: str) -> None:
    """Hang at the end of the body of `module`'s `replacing_tables` transaction, before its COMMIT."""
    original = module.replacing_tables

    @contextlib.contextmanager
    def wrapper(con, tables):
        with original(con, tables):
            yield
            _stall(point)

    module.replacing_tables = wrapper


_hang(ingest_log, "record_ingest", "raw")  # raw table and ingest-log row written, not committed
_stall_before_commit(split, "split")  # train and holdout written (lease checked), not committed
_before(synthesis, "save_and_promote", "fit")  # fitted and charged, model not yet saved
_before(synthetic_table, "_swap", "sample")  # sampled and staged, synthetic table not yet swapped in
_before(evaluation, "evaluate", "gate")  # the gate's step runs, no verdict yet
# The verdict's last write: the assessment of a passed gate, or the `blocked` row of a failed one.
_hang(release, "record_assessment", "verdict", when=lambda con, assessment, *a, **k: assessment.passed)
_hang(ledger, "append", "verdict", when=lambda con, entry, *a, **k: entry.event == "blocked")
_hang(ledger, "append", "release", when=lambda con, entry, *a, **k: entry.event == "released")

defs = build_definitions()
