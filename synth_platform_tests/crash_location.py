"""Code location for the kill tests: the real definitions, with one place to hang chosen by env.

`SYNTH_TEST_STALL_AT` names the point (`fit`, `sample`, `gate`, `release`); when the run gets
there it writes its process id to `SYNTH_TEST_STALL_MARKER` and sleeps, so the test can
`kill -9` it at exactly that point. `gate` hangs as the gate starts evaluating (an evaluation
costs the most time; the verdict's own transaction is the same mechanism as the release's);
`release` hangs *inside* the transaction that writes the release and its ledger row, the
worst place to die. Nothing else changes.
"""

import os
import time
from pathlib import Path

from synth_platform.definitions import build_definitions
from synth_platform.lib import evaluation, ledger, synthesis

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


_before(synthesis, "save_and_promote", "fit")  # fitted and charged, model not yet saved
_hang(synthesis, "load_and_sample", "sample")  # sampled, synthetic table not yet written
_before(evaluation, "evaluate", "gate")  # the gate's step runs, no verdict yet
_hang(ledger, "append", "release", when=lambda con, entry, *a, **k: entry.event == "released")

defs = build_definitions()
