"""The private gate's evidence-only exact checks, computed in a worker process beside the decision.

Under a private gate (a `GateNoise`) the exact checks decide nothing: the noisy bounded figures
do, and the exact ones only fill the restricted evidence pack. The exact attack suite and exact
TSTR were about 3.5 of the gate's 11 seconds on 50,000 rows, on one core while the other idled
(with a free core the gate now takes 1.3-2.2 s less, for 1-2.5 s more CPU: the worker's imports).
`EvidenceWorker` runs them in one worker process, started when the gate starts: it imports
anonymeter, scikit-learn and SDMetrics while the gate's SQL runs, then computes them on the gate's
frames while this process computes the GX suite and the noisy figures. `evaluate` joins it before
it returns, so the report — and the evidence pack written from it before the gate step ends — is
the one the serial path gives.

The exact SDMetrics quality score is computed there too: it decides nothing under a private gate,
and SDMetrics imports torch (about 1 of its 1.4 CPU-s), which the gate's process otherwise never
needs (the run's synthesizer step no longer imports it: `sampling.py`). Those imports ran on a
thread beside the gate's SQL, competing with it for the GIL and the cores (a 3 ms ledger query of
the gate took 0.36 s in a profiled 50,000-row run), and the gate still waited 0.5 s for them.
The worker itself never imports torch (`_WithoutTorch`): SDMetrics needs it only for metrics the
gate does not compute, and its import was 1.4 of the worker's 3.4 s of imports, on the core the
gate's process shares (a 50,000-row gate took 0.5-1 s less without it).

The pack's pictures (`evidence_pictures`: about 1.5 s on 50,000 rows) are drawn there too, queued
behind the exact checks: the gate gives the worker its frames before `evaluate` and joins the
pictures only when it writes the pack, after recording its verdict, so they overlap the noisy
figures instead of following them (`SYNTH_GATE_EVIDENCE_PICTURES=0` draws them in the gate's
process, as before, for a comparison). They are drawn from the model-space frames the exact
checks received (`_pictures_of_exact_frames`): the frames cross to the worker once.

Both cores busy: the exact attacks in `GATE_SIDE_ATTACKS` are computed in the gate's process,
after its noisy figures, so that neither process waits long on the other (CPU seconds on the
demo's 50,000 rows: the worker's share was 5.0 against the gate's 3.4, then 3.9 and 4.0; with the
quality score there, the worker's checks 3.0 and pictures 1.6 against the gate's 4.3, measured on
one BLAS thread each; close copies moved to the gate's process as well would give 2.6 + 1.5 against
4.9, a longer gate). The processes keep OpenBLAS's default threads, though one thread would save
the gate ~0.3 CPU-s: its float32 products differ in the last bit with the thread count, so a
near-tie could pick another nearest row and change a figure.

The same figures: the worker gets the same model-space frames (pickled: values, dtypes and index
kept) and each check seeds its own draws (`checks.seed`, `utility.seed`; anonymeter's global
NumPy seed is set and restored around each attack), so where they run changes nothing
and the pictures are drawn by one function from the same frames
(`synth_platform_tests/test_gate_evidence_worker.py` compares the two paths, pictures byte for byte).

Spawned, not forked: the gate's process holds Dagster's threads and DuckDB connections, which a
forked child must not inherit, and the refill's fork server (`lib/deidentify/refill/parallel.py`)
may already be running with another preload.

Errors surface: an exception in the worker, or a worker that dies, raises `EvidenceWorkerError`
naming the checks and the error's type — not its message, which may quote a value of the data —
and the gate step fails with it. `SYNTH_GATE_EVIDENCE_WORKER=0` computes them in the gate's own
process, where the full error shows.

When: `SYNTH_GATE_EVIDENCE_WORKER` "1" always, "0" never; unset, when the model was trained on at
least `MIN_ROWS` rows (below that, starting a process costs more than it saves).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor

from synth_platform.lib.gate.evaluation.warmup import HEAVY_MODULES, _import_all

#: Environment variable: "1" always use the worker, "0" never, unset: by the training table's size.
WORKER_ENV = "SYNTH_GATE_EVIDENCE_WORKER"
#: Environment variable: "0" draws the pictures in the gate's process even with a worker (the
#: previous behaviour, for a comparison); unset or "1": the worker draws them.
PICTURES_ENV = "SYNTH_GATE_EVIDENCE_PICTURES"
#: Below this many training rows the exact checks take less than starting a worker process.
MIN_ROWS = 10_000
#: What only the exact (evidence) checks and the pictures import: the worker imports them, the
#: gate's process need not.
EVIDENCE_MODULES = ("anonymeter.evaluators", "sklearn.ensemble", "sdmetrics.reports", "matplotlib.pyplot")
#: What the gate's own process still imports beside its SQL when the worker is on (GX decides,
#: scikit-learn scores the bounded TSTR).
GATE_MODULES = ("great_expectations", "sklearn.ensemble")
#: What the worker computes, as an error names it.
EXACT_CHECKS = "the exact quality score, privacy attacks and TSTR (evidence pack only)"
#: The exact attacks the gate's own process computes, after its noisy figures, while the worker
#: computes the others, TSTR and then the pictures: the worker had the longer share (module
#: docstring), so the gate waited on it; absolute exposure (~0.7 CPU-s, no anonymeter import)
#: evens them. Each attack seeds its own draws: the same figures wherever it runs.
GATE_SIDE_ATTACKS = ("absolute_exposure",)
PICTURES = "the evidence pack's pictures"


class EvidenceWorkerError(RuntimeError):
    """The evidence worker failed: the gate fails with this, never passes without its evidence."""


def use_worker(train_rows: int | None) -> bool:
    """Whether the gate computes its exact checks in a worker (`SYNTH_GATE_EVIDENCE_WORKER`, else
    the training table's size)."""
    configured = os.environ.get(WORKER_ENV, "").strip()
    if configured in ("0", "1"):
        return configured == "1"
    if configured:
        raise ValueError(f"{WORKER_ENV} must be 0 or 1 (or unset), not {configured!r}")
    return (train_rows or 0) >= MIN_ROWS


def pictures_in_worker() -> bool:
    """Whether a gate with a worker has it draw the pictures (`SYNTH_GATE_EVIDENCE_PICTURES`)."""
    configured = os.environ.get(PICTURES_ENV, "").strip()
    if configured not in ("", "0", "1"):
        raise ValueError(f"{PICTURES_ENV} must be 0 or 1 (or unset), not {configured!r}")
    return configured != "0"


def gate_modules(with_worker: bool, worker_draws: bool) -> tuple[str, ...]:
    """What the gate's own process imports on a thread beside its SQL: everything without a
    worker; with one, what the decision needs (and matplotlib if the pictures stay here)."""
    if not with_worker:
        return HEAVY_MODULES
    return GATE_MODULES if worker_draws else (*GATE_MODULES, "matplotlib.pyplot")


def evidence_pictures(spec, plan, frames) -> tuple[dict[str, bytes], dict[str, str]]:
    """The evidence pack's pictures and their notes, from the gate's frames (synthetic in source
    shape, train, holdout: the bounded samples `evaluate` gets), in model space as `evaluate` puts
    them. One function for both paths — the gate's process or the worker — so the same bytes."""
    from synth_platform.lib.gate.evaluation.model_space import to_model_space, withhold_rare_generalized

    synthetic, train, holdout = frames
    model_columns = [t.column for t in plan if t.reaches_model]
    train_m = withhold_rare_generalized(train[model_columns], plan)
    holdout_m = withhold_rare_generalized(holdout[model_columns], plan)
    synthetic_m = to_model_space(synthetic, plan, train_m)
    return _render(spec, model_columns, train_m, holdout_m, synthetic_m)


def _render(spec, model_columns, train_m, holdout_m, synthetic_m):
    """The pictures of model-space frames, as `evidence_pictures` puts them."""
    from synth_platform.lib.governance import evidence_plots

    return evidence_plots.render_all(
        train_m,
        synthetic_m,
        holdout_m,
        model_columns,
        first=list(spec.utility.targets),
        seed=spec.checks.seed,
    )


def start_worker(train_rows: int | None) -> tuple[EvidenceWorker | None, str | None]:
    """The gate's worker when `use_worker` says so and a process can be started; else None and,
    when one could not be started (a daemonic process may not have children), why: the exact
    checks then run in the gate's own process, as without a worker. Never raises for that."""
    if not use_worker(train_rows):
        return None, None
    try:
        return EvidenceWorker(), None
    except Exception as error:
        return None, (
            f"the evidence worker could not start ({type(error).__name__}); the exact checks run in "
            "the gate's own process"
        )


class _WithoutTorch:
    """An import hook that makes `torch` (and its submodules) unimportable: installed in the worker,
    whose jobs never use it (SDMetrics treats it as optional: an ImportError leaves its
    Bayesian-network metrics out; see the module docstring for the cost). A module that does need
    torch fails with the usual ModuleNotFoundError, which the gate reports as a worker failure."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (kept out of the gate worker)", name=name)
        return None


def _worker_start() -> None:
    """The worker process's initializer: no torch (`_WithoutTorch`) before anything is imported."""
    if "torch" not in sys.modules:
        sys.meta_path.insert(0, _WithoutTorch())


def _warm() -> list[str]:
    """In the worker: import what the exact checks need, while the gate reads its inputs."""
    failures: list[str] = []
    _import_all(EVIDENCE_MODULES, failures)
    return failures


#: In the worker process: the model-space frames the exact checks got, kept for the pictures
#: (`_pictures_of_exact_frames`), so the gate sends its frames once, not twice.
_RECEIVED: dict[str, tuple] = {}


def _exact(spec, plan, model_columns, train, holdout, synthetic_model):
    """In the worker: (quality, attacks but `GATE_SIDE_ATTACKS`, [utility]) as `evaluate` computes
    them serially (the quality score first, as there)."""
    _RECEIVED["frames"] = (model_columns, train, holdout, synthetic_model)
    from synth_platform.lib.gate.attacks import ATTACKS
    from synth_platform.lib.gate.evaluation.decide import _exact_checks, _quality_check

    quality = _quality_check(spec.checks, model_columns, train, synthetic_model)
    attacks = [name for name in ATTACKS if name not in GATE_SIDE_ATTACKS]
    attack_checks, utility = _exact_checks(
        spec, plan, model_columns, train, holdout, synthetic_model, evidence_only=True, attacks=attacks
    )
    return quality, attack_checks, utility


def _pictures_of_exact_frames(spec):
    """In the worker, after `_exact`: the pictures of the model-space frames it got — the frames
    `evidence_pictures` would compute from the gate's (the same functions of the same frames:
    the same bytes), without sending the gate's frames again (~0.2 s of pickling in the gate on
    50,000 rows, and as much unpickling and re-projecting here)."""
    model_columns, train, holdout, synthetic_model = _RECEIVED.pop("frames")
    return _render(spec, model_columns, train, holdout, synthetic_model)


class EvidenceWorker:
    """One spawned worker process for the exact checks and the pictures; `close` it when the gate
    is done."""

    def __init__(self, job=None, pictures_job=None) -> None:
        """`job`, `pictures_job`: what computes the exact checks and draws the pictures in the
        worker (module-level functions, pickled by name; `_exact` and `evidence_pictures` unless a
        test plants a failing one)."""
        self._job = _exact if job is None else job
        self._pictures_job = evidence_pictures if pictures_job is None else pictures_job
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start
        )
        self._pool.submit(_warm)  # starts the process now: its imports overlap the gate's SQL
        self._exact_submitted = False
        self._pictures_args: tuple | None = None
        self._pictures: Future | None = None

    def _submit(self, job, *args) -> Future:
        """`job(*args)` in the worker; a worker that cannot take it (it died, or the frames could
        not be sent) gives a failed future, reported by the join."""
        try:
            pending = self._pool.submit(job, *args)
        except Exception as error:
            pending = Future()
            pending.set_exception(error)
        return pending

    def submit_exact(self, spec, plan, model_columns, train, holdout, synthetic_model) -> Future:
        """Start the exact checks on model-space frames, then the pictures if they are waiting;
        `result` joins the checks."""
        pending = self._submit(self._job, spec, plan, model_columns, train, holdout, synthetic_model)
        self._exact_submitted = True
        self._start_pictures()
        return pending

    def submit_pictures(self, spec, plan, frames) -> None:
        """Have the worker draw the pack's pictures from the gate's frames (`evidence_pictures`),
        after the exact checks: held until `submit_exact` (so the decision's join never waits on a
        picture), or drawn at once if the checks were submitted. `pictures` joins them."""
        self._pictures_args = (spec, plan, frames)
        if self._exact_submitted:
            self._start_pictures()

    def _start_pictures(self) -> None:
        if self._pictures_args is not None and self._pictures is None:
            if self._exact_submitted and self._job is _exact and self._pictures_job is evidence_pictures:
                # the worker already holds the model-space frames: only the spec goes
                self._pictures = self._submit(_pictures_of_exact_frames, self._pictures_args[0])
            else:
                self._pictures = self._submit(self._pictures_job, *self._pictures_args)
            self._pictures_args = None

    def result(self, pending: Future):
        """The exact checks' outcomes; an `EvidenceWorkerError` if the worker raised or died."""
        return self._join(pending, EXACT_CHECKS)

    def pictures(self) -> tuple[dict[str, bytes], dict[str, str]]:
        """The pictures and notes asked for by `submit_pictures` (drawn now if the exact checks
        never went to the worker); an `EvidenceWorkerError` if the worker raised or died."""
        self._start_pictures()
        if self._pictures is None:
            raise ValueError("no pictures were submitted to the evidence worker")
        return self._join(self._pictures, PICTURES)

    @staticmethod
    def _join(pending: Future, what: str):
        try:
            return pending.result()
        except Exception as error:  # the type only: a message may quote a value of the data
            raise EvidenceWorkerError(
                f"The release gate's evidence worker failed computing {what}: "
                f"{type(error).__name__}. The gate fails rather than release without its evidence; "
                f"set {WORKER_ENV}=0 to compute them in the gate's own process and see the full error."
            ) from None

    def close(self) -> None:
        """Stop the worker, never waiting for it: joined (the gate took its results) it has nothing
        left to do but exit, which took ~0.5 s of the gate's 50,000-row step when waited for (the
        interpreter unloading anonymeter, scikit-learn and matplotlib); not joined (the gate failed,
        or the budget refused it) it ends when its current job does. Queued jobs are cancelled;
        `concurrent.futures` reaps the process in the background (at the latest when Python exits)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> EvidenceWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
