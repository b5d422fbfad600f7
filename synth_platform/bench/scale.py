"""The governed chain through a real Dagster run at 50k, 1M and 10M rows: seconds per stage, peak RSS.

For each size a fresh temporary project (its own DAGSTER_HOME, warehouse, landing folder, key in
$SYNTH_SECRETS_DIR) gets a landing file of the demo's shape (`synth_platform.bench.data`: Adult
resampled with fresh identifiers, cached under data/bench/landing/) and runs the adult_customers
chain job in a child process, as `make demo` runs it: ingest -> ... -> release -> dbt. Per stage
seconds come from the run's step events; peak RSS is the child's own (getrusage), so the figure is
the run's and not this parent's. Next to it, the bare mechanism: the same spec's dp_mst fitted on
the run's train table and sampled to the same number of rows, outside Dagster, in another child.
The governance overhead ratio is (run total - (fit + sample)) / (fit + sample).

Targets (issue 16): 10M rows <= 10 min and peak RSS <= 8 GB on 2 cores; 1M rows <= 2 min; overhead
approaching <= 1.5x. Then growth: each stage's exponent in rows (slope of log seconds on log rows),
and a columns bench (dp_mst fit and the release gate at fixed rows with 10/20/40 model columns).

`python -m synth_platform.bench.scale --rows 50000,1000000,10000000 [--quick] [--columns-rows N]`;
results in data/bench/scale.json, scale.csv and scale.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from synth_platform.bench.data import landing_path, write_landing_file
from synth_platform.settings import PROJECT_ROOT

DATASET = "adult_customers"
OUT_DIR = PROJECT_ROOT / "data" / "bench"
DEFAULT_ROWS = "50000,1000000,10000000"
COLUMN_COUNTS = (10, 20, 40)
TARGETS = {1_000_000: 120.0, 10_000_000: 600.0}  # seconds (issue 16)
TARGET_RSS_GB = 8.0
_ENV_DROPPED = (  # derived from the temporary root, or test-only switches
    "SYNTH_SPECS_DIR",
    "SYNTH_WAREHOUSE_PATH",
    "SYNTH_PUBLISHED_PATH",
    "SYNTH_TEST_NOISE_SEED",
    "PYTEST_CURRENT_TEST",
)


# ---------------------------------------------------------------- pure helpers (unit-tested)


def stage_name(step_key: str, dataset: str = DATASET) -> str:
    """A step key without its dataset prefix: `adult_customers__raw` -> `raw`; the dbt step -> `dbt`."""
    prefix = f"{dataset}__"
    if step_key.startswith(prefix):
        return step_key[len(prefix) :]
    return "dbt" if "dbt" in step_key else step_key


def growth_exponent(sizes: list[float], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) on log(size): 1 is linear, 2 quadratic, ~0 a constant cost.

    None with fewer than two distinct sizes (no line through one point). A zero time (a stage faster
    than the clock) is floored at 1 ms so it does not send the log to minus infinity.
    """
    points = [(math.log(n), math.log(max(s, 1e-3))) for n, s in zip(sizes, seconds, strict=True) if n > 0]
    if len({x for x, _ in points}) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return sxy / sxx


def overhead_ratio(run_total: float, fit: float, sample: float) -> float | None:
    """(run total - (fit + sample)) / (fit + sample): what governance adds per second of mechanism."""
    bare = fit + sample
    return None if bare <= 0 else (run_total - bare) / bare


def outside_steps(run_seconds: float | None, stages: dict) -> float | None:
    """Seconds of the run spent outside its steps: run start-up, the executor, and between steps
    (with a process per step, each step's start-up; in process, ~0.1 s per step). None without a
    run total."""
    if run_seconds is None or not stages:
        return None
    return round(run_seconds - sum(s["seconds"] for s in stages.values()), 1)


def stage_order(results: list[dict]) -> list[str]:
    """Stages in the order the runs started them (first appearance over all sizes)."""
    order: list[str] = []
    for result in results:
        for stage in sorted(result.get("stages", {}), key=lambda s: result["stages"][s]["start"]):
            if stage not in order:
                order.append(stage)
    return order


def _cell(value, fmt: str, width: int = 12) -> str:
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def _spread(result: dict, width: int = 12) -> str:
    """`low-high` of a size's repeats' ratios (`combine_repeats`), `-` for a size measured once."""
    spread = result.get("overhead_ratio_range")
    text = "-" if not spread else f"{spread[0]:.2f}-{spread[1]:.2f}"
    return f"{text:>{width}}"


def format_table(results: list[dict]) -> str:
    """Seconds per stage (rows) by size (columns), then totals, rows/s, peak RSS, the bare mechanism,
    the overhead ratio and each stage's exponent in rows; `-` where a size has no figure."""
    sizes = [r["rows"] for r in results]
    lines = [f"{'stage (seconds)':<34}" + "".join(f"{n:>12,}" for n in sizes) + f"{'exponent':>10}"]
    for stage in stage_order(results):
        figures = [r.get("stages", {}).get(stage) for r in results]
        known = [(n, f["seconds"]) for n, f in zip(sizes, figures, strict=True) if _finished(f)]
        slope = growth_exponent([n for n, _ in known], [v for _, v in known]) if len(known) > 1 else None
        cells = [
            _cell(None, "")
            if f is None
            else f"{format(f['seconds'], '.1f') + ('' if _finished(f) else '*'):>12}"
            for f in figures
        ]
        lines.append(f"{stage:<34}" + "".join(cells) + _cell(slope, ".2f", 10))
    for stage in stage_order(results):
        cpu = [r.get("stages", {}).get(stage, {}).get("cpu_seconds") for r in results]
        if any(c is not None for c in cpu):
            lines.append(f"{stage + ' CPU':<34}" + "".join(_cell(c, ".1f") for c in cpu))
    rows_fmt = [
        ("run total (s)", "run_seconds", ".1f"),
        ("outside the steps (s)", "outside_steps_seconds", ".1f"),
        ("run CPU, user+sys (s)", "cpu_seconds", ".1f"),
        ("rows / s", "rows_per_second", ",.0f"),
        ("peak RSS of the run (GB)", "peak_rss_gb", ".2f"),
        ("bare fit dp_mst (s)", "bare_fit_seconds", ".1f"),
        ("bare sample (s)", "bare_sample_seconds", ".1f"),
        ("bare CPU, user+sys (s)", "bare_cpu_seconds", ".1f"),
        ("bare peak RSS (GB)", "bare_peak_rss_gb", ".2f"),
        ("governance overhead ratio", "overhead_ratio", ".2f"),
        ("load average (1 min) at the end", "load_average_1min", ".1f"),
    ]
    for label, key, fmt in rows_fmt:
        lines.append(f"{label:<34}" + "".join(_cell(r.get(key), fmt) for r in results))
        if key == "overhead_ratio" and any(r.get("overhead_ratio_range") for r in results):
            runs = max(len(r.get("repeats", [])) for r in results)
            label = f"  lowest-highest of {runs} repeats"
            lines.append(f"{label:<34}" + "".join(_spread(r) for r in results))
    lines.append(f"{'outcome':<34}" + "".join(f" {r.get('outcome', '-'):>11}" for r in results))
    lines.append("(* a stage that failed or was stopped: its seconds are not in the exponent)")
    return "\n".join(lines)


def _finished(figures: dict | None) -> bool:
    """Whether a stage's figures are a completed step (a failed or killed one says nothing of growth)."""
    return figures is not None and figures.get("status") == "SUCCESS"


def format_columns_table(results: list[dict]) -> str:
    """Seconds of the dp_mst fit and the release gate by model-column count, with the exponent."""
    counts = [r["columns"] for r in results]
    lines = [
        f"{'stage (seconds) by columns':<34}" + "".join(f"{c:>10}" for c in counts) + f"{'exponent':>10}"
    ]
    for stage in ("synthesizer", "release_gate", "bare_fit", "run_total"):
        values = [r.get(stage) for r in results]
        known = [(c, v) for c, v in zip(counts, values, strict=True) if v is not None]
        slope = growth_exponent([c for c, _ in known], [v for _, v in known]) if len(known) > 1 else None
        lines.append(f"{stage:<34}" + "".join(_cell(v, ".1f", 10) for v in values) + _cell(slope, ".2f", 10))
    return "\n".join(lines)


# ---------------------------------------------------------------- the temporary project


def _write_key(secrets_dir: Path) -> None:
    """A fresh random platform key for this project only (0600 in a 0700 folder, as storage.secrets wants)."""
    secrets_dir.mkdir(mode=0o700, parents=True)
    key = secrets_dir / "pseudonym.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)


def make_project(tmp: Path, landing_file: Path, specs: Path | None = None) -> tuple[dict, Path]:
    """A fresh project under `tmp` as a new clone has it (specs and approved plan copied, dagster.yaml
    in DAGSTER_HOME, a key of its own) with `landing_file` placed in the landing folder; returns the
    child environment and the placed file. The file is hard-linked when it can be (no 2 GB copy)."""
    root, home = tmp / "project", tmp / "dagster_home"
    from synth_platform.lib.dataset_instances import instance_path
    from synth_platform.settings import DATASETS_DIR

    shutil.copytree(specs or DATASETS_DIR, root / "datasets", ignore=shutil.ignore_patterns("__pycache__"))
    allow_file_size(instance_path(root / "datasets", DATASET), landing_file.stat().st_size)
    home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    _write_key(tmp / "secrets")
    landing = root / "data" / "landing" / DATASET
    landing.mkdir(parents=True, mode=0o700)
    placed = landing / landing_file.name
    try:
        os.link(landing_file, placed)
    except OSError:
        shutil.copy(landing_file, placed)
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROPPED}
    env.update(
        DAGSTER_HOME=str(home),
        SYNTH_PROJECT_ROOT=str(root),
        SYNTH_SPECS_DIR=str(root / "datasets"),
        SYNTH_SECRETS_DIR=str(tmp / "secrets"),
        SYNTH_AUTOMATION_STATUS="STOPPED",
        GX_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env, placed


def allow_file_size(spec_path: Path, size: int) -> None:
    """Raise the spec's `source.max_bytes` to admit a landing file of `size` bytes, as the ingest
    refusal tells a user to (10M rows of the demo's shape are ~2.3 GB, over the 2 GiB default);
    a limit already large enough is left as it is."""
    from synth_platform.lib.dataset_instances import load_instance, read_spec_dict, write_instance

    spec = read_spec_dict(spec_path)
    limit = spec.get("source", {}).get("max_bytes")
    if limit is None or limit < size:
        default = load_instance(spec_path).source.max_bytes
        if limit is None and default is not None and default >= size:
            return
        spec.setdefault("source", {})["max_bytes"] = int(size * 1.25)
        write_instance(spec_path.parent.parent, spec)


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (0 once it is gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_child(args: list[str], env: dict, max_rss_gb: float, timeout_s: float) -> dict:
    """Run `python -m synth_platform.bench.scale <args>` and return the JSON it writes.

    A watchdog samples the child's process tree RSS twice a second and kills the tree above
    `max_rss_gb` (the machine is shared; a 10M run of an unscaled stage would take it all), so a
    size that does not fit is reported as such, with the stage it was in, instead of swapping."""
    out = Path(tempfile.mkstemp(prefix="bench_child_", suffix=".json")[1])
    command = [sys.executable, "-m", "synth_platform.bench.scale", *args, "--child-out", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, start_new_session=True)
    state = {"peak": 0, "killed": None}

    def watch() -> None:
        while child.poll() is None:
            rss = _tree_rss_bytes(child.pid)
            state["peak"] = max(state["peak"], rss)
            elapsed = time.perf_counter() - started
            if rss > max_rss_gb * 1024**3 or elapsed > timeout_s:
                state["killed"] = f"RSS {rss / 1024**3:.1f} GB" if rss > max_rss_gb * 1024**3 else "timeout"
                os.killpg(child.pid, 9)
                return
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code = child.wait()
    watcher.join()
    result = json.loads(out.read_text()) if out.stat().st_size else {}
    out.unlink()
    result.update(
        exit_code=code,
        wall_seconds=round(time.perf_counter() - started, 1),
        sampled_tree_peak_rss_gb=round(state["peak"] / 1024**3, 2),
        killed=state["killed"],
    )
    return result


# ---------------------------------------------------------------- child processes


def _own_peak_gb() -> tuple[float, float]:
    """(this process's peak RSS, its waited-for children's peak: dbt), in GB (ru_maxrss is kB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return round(own, 2), round(children, 2)


def _cpu_seconds(rounded: bool = True) -> float:
    """User + system CPU of this process and its waited-for children: on a shared machine the wall
    time grows with the load, the CPU time much less, so the two together say what the run costs."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return round(total, 1) if rounded else total


class CpuClock:
    """This process's CPU seconds (user + system, with its waited-for children: dbt), sampled every
    `interval` s on a thread, so each stage's CPU can be read between its step events' times. On a
    shared machine a stage's wall seconds grow with the load and its CPU seconds much less: the
    CPU says what a change saved."""

    def __init__(self, interval: float = 0.1):
        self.samples: list[tuple[float, float]] = [(time.time(), _cpu_seconds(rounded=False))]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.samples.append((time.time(), _cpu_seconds(rounded=False)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), _cpu_seconds(rounded=False)))

    def between(self, start: float, end: float) -> float | None:
        """CPU seconds spent from `start` to `end` (epoch seconds), to the sampling interval."""
        return cpu_between(self.samples, start, end)


def cpu_between(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """CPU used between two times from (time, cumulative CPU) samples in time order: the CPU at
    the first sample at or after `end` minus that at the first sample at or after `start`. After,
    not before: a stage's last act may be reaping a child (dbt), whose CPU is counted only then,
    a few milliseconds before the step's end event. None when no sample follows `end`."""
    after_start = [cpu for at, cpu in samples if at >= start]
    after_end = [cpu for at, cpu in samples if at >= end]
    if not after_start or not after_end:
        return None
    return round(max(0.0, after_end[0] - after_start[0]), 2)


def _write_partial(out: Path, result: dict) -> None:
    """Written whole then renamed: a child killed mid-write leaves the previous complete record."""
    partial = out.with_name(out.name + ".tmp")
    partial.write_text(json.dumps(result, indent=2, default=str))
    partial.replace(out)


def child_run(landing_file: Path, out: Path) -> None:
    """The dataset's chain job, in process, in the project the environment names (as `make demo`).

    Stage timings are written as the run goes (a step-event hook is not needed: the instance has
    them), and once more at the end, so a run killed for memory still says which stages finished."""
    import dagster as dg

    from synth_platform.defs.automation import chain_job_name
    from synth_platform.lib.storage.private_files import restrict_process_umask

    restrict_process_umask()
    from synth_platform.definitions import defs

    job = defs.resolve_job_def(chain_job_name(DATASET))
    instance = dg.DagsterInstance.get()
    run_config = {
        "ops": {f"{DATASET}__raw": {"config": {"landing_file": str(landing_file)}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    stop = threading.Event()

    def record_progress() -> None:  # the latest run's finished stages, every few seconds
        while not stop.wait(5):
            runs = instance.get_runs(limit=1)
            if runs:
                _write_partial(out, {**_step_stats(instance, runs[0].run_id), "partial": True})

    recorder = threading.Thread(target=record_progress, daemon=True)
    recorder.start()
    cpu_clock = CpuClock()
    started = time.perf_counter()
    result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    seconds = time.perf_counter() - started
    stop.set()
    recorder.join()
    cpu_clock.stop()
    own, children = _own_peak_gb()
    stats = _step_stats(instance, result.run_id)
    for figures in stats["stages"].values():
        figures["cpu_seconds"] = cpu_clock.between(figures["start"], figures["start"] + figures["seconds"])
    _write_partial(
        out,
        {
            **stats,
            "success": result.success,
            "run_seconds": round(seconds, 1),
            "peak_rss_self_gb": own,
            "peak_rss_children_gb": children,
            "cpu_seconds": _cpu_seconds(),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "failures": _failures(instance, result.run_id),
        },
    )


def _step_stats(instance, run_id: str) -> dict:
    """Per stage: start (epoch s), seconds and status, from the run's step events."""
    stages = {}
    for stat in instance.get_run_step_stats(run_id):
        if not stat.start_time:
            continue
        end = stat.end_time or time.time()
        stages[stage_name(stat.step_key)] = {
            "start": stat.start_time,
            "seconds": round(end - stat.start_time, 2),
            "status": str(stat.status.value if stat.status else "RUNNING"),
        }
    return {"run_id": run_id, "stages": stages}


def _failures(instance, run_id: str) -> list[str]:
    """The failed steps' own messages (the platform's descriptions; cut short)."""
    import dagster as dg

    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    messages = []
    for record in records:
        event = record.event_log_entry.dagster_event
        error = event.event_specific_data.error if event and event.event_specific_data else None
        while error is not None and error.cause is not None:  # the cause, not Dagster's wrapper
            error = error.cause
        text = (error.message if error else record.event_log_entry.user_message) or ""
        messages.append(f"{event.step_key if event else '?'}: {text.strip()[:300]}")
    return messages


def child_fit(out: Path) -> None:
    """The bare mechanism on the run's train table: the spec's dp_mst fit (counts in DuckDB, as the
    synthesizer asset does it) and sampling as many rows as the train table has, no Dagster."""
    from synth_platform.lib.dataset_instances import load_instance
    from synth_platform.lib.pii import approved_plan
    from synth_platform.lib.storage import warehouse
    from synth_platform.lib.synthesize import synthesis
    from synth_platform.settings import Settings

    settings = Settings.from_env()
    spec = load_instance(settings.specs_dir / DATASET)
    plan = approved_plan.treatments(spec, approved_plan.recorded_plan(settings.warehouse_path, spec))
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute(f'SELECT count(*) FROM masked."{DATASET}_train"').fetchone()[0]
        started = time.perf_counter()
        fitted = synthesis.fit_dp_from_warehouse(con, spec, plan)
        fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sampled = fitted.synth.sample(rows)
    sample_seconds = time.perf_counter() - started
    own, _ = _own_peak_gb()
    _write_partial(
        out,
        {
            "train_rows": int(rows),
            "sampled_rows": len(sampled),
            "fit_seconds": round(fit_seconds, 2),
            "sample_seconds": round(sample_seconds, 2),
            "peak_rss_gb": own,
            "cpu_seconds": _cpu_seconds(),
        },
    )


# ---------------------------------------------------------------- one size, the columns bench


def bench_rows(rows: int, max_rss_gb: float, timeout_s: float, bare: bool = True) -> dict:
    """Build (or reuse) the landing file, run the chain in a fresh project, then the bare mechanism."""
    started = time.perf_counter()
    existed = landing_path(rows, 2026).exists()
    landing_file = write_landing_file(rows)
    result: dict = {"rows": rows, "landing_file": str(landing_file.relative_to(PROJECT_ROOT))}
    result["landing_build_seconds"] = None if existed else round(time.perf_counter() - started, 1)
    result["landing_gb"] = round(landing_file.stat().st_size / 1e9, 2)
    with tempfile.TemporaryDirectory(prefix=f"bench_scale_{rows}_") as tmp:
        env, placed = make_project(Path(tmp), landing_file)
        print(f"  running the chain on {rows:,} rows ...", flush=True)
        run = run_child(["--child", "run", "--landing-file", str(placed)], env, max_rss_gb, timeout_s)
        result.update(_summarise_run(rows, run))
        if bare and run.get("stages", {}).get("split", {}).get("status") == "SUCCESS":  # a train table
            print(f"  the bare mechanism (dp_mst fit + sample) on {rows:,} rows ...", flush=True)
            fit = run_child(["--child", "fit"], env, max_rss_gb, timeout_s)
            result.update(
                bare_fit_seconds=fit.get("fit_seconds"),
                bare_sample_seconds=fit.get("sample_seconds"),
                bare_peak_rss_gb=fit.get("peak_rss_gb"),
                bare_train_rows=fit.get("train_rows"),
                bare_cpu_seconds=fit.get("cpu_seconds"),
            )
            if fit.get("fit_seconds") is not None and result["outcome"] == "success":  # a whole run
                result["overhead_ratio"] = overhead_ratio(
                    result["run_seconds"], fit["fit_seconds"], fit["sample_seconds"]
                )
    return result


#: What each repeat of a size keeps in `repeats` (the figures its ratio and spread come from).
REPEAT_FIGURES = ("run_seconds", "bare_fit_seconds", "bare_sample_seconds", "overhead_ratio", "outcome")


def combine_repeats(repeats: list[dict]) -> dict:
    """One result for a size measured several times (`--repeat`): the stages, CPU and memory of the
    repeat whose run total is the (lower) median, the ratio of that median run to the median bare
    fit and median bare sample, the smallest and largest repeat's own ratio, and every repeat's
    figures. On this machine one bare fit of the same graph varies by a second (JAX compiling it),
    which moves a single 50,000-row ratio by ~0.4: a median over repeats says what changed."""
    if len(repeats) == 1:
        return repeats[0]
    done = [r for r in repeats if r.get("outcome") == "success" and r.get("run_seconds") is not None]
    figures = [{key: r.get(key) for key in REPEAT_FIGURES} for r in repeats]
    if not done:
        return {**repeats[-1], "repeats": figures}
    run = statistics.median_low(r["run_seconds"] for r in done)
    chosen = dict(next(r for r in done if r["run_seconds"] == run))
    chosen["repeats"] = figures
    bares = [r for r in done if None not in (r.get("bare_fit_seconds"), r.get("bare_sample_seconds"))]
    if bares:
        fit = statistics.median_low(r["bare_fit_seconds"] for r in bares)
        sample = statistics.median_low(r["bare_sample_seconds"] for r in bares)
        chosen.update(bare_fit_seconds=fit, bare_sample_seconds=sample)
        chosen["overhead_ratio"] = overhead_ratio(run, fit, sample)
        ratios = [r["overhead_ratio"] for r in bares if r.get("overhead_ratio") is not None]
        chosen["overhead_ratio_range"] = [min(ratios), max(ratios)] if ratios else None
    return chosen


def _summarise_run(rows: int, run: dict) -> dict:
    stages = run.get("stages", {})
    total = run.get("run_seconds")
    if total is None and stages:  # killed: the stages it got through
        total = max(s["start"] + s["seconds"] for s in stages.values()) - min(
            s["start"] for s in stages.values()
        )
    peaks = [
        run.get("peak_rss_self_gb"),
        run.get("peak_rss_children_gb"),
        run.get("sampled_tree_peak_rss_gb"),
    ]
    if run.get("killed"):
        outcome = f"killed:{run['killed']}"
    else:
        outcome = "success" if run.get("success") else "failed"
    return {
        "stages": stages,
        "run_seconds": None if total is None else round(total, 1),
        "outside_steps_seconds": outside_steps(run.get("run_seconds"), stages),
        "rows_per_second": round(rows / total) if total else None,
        "peak_rss_gb": max((p for p in peaks if p is not None), default=None),
        "peak_rss_self_gb": run.get("peak_rss_self_gb"),
        "peak_rss_dbt_gb": run.get("peak_rss_children_gb"),
        "sampled_tree_peak_rss_gb": run.get("sampled_tree_peak_rss_gb"),
        "outcome": outcome,
        "failures": run.get("failures", []),
        "cpu_seconds": run.get("cpu_seconds"),
        "load_average_1min": run.get("load_average_1min"),
    }


def widen_spec(spec: dict, frame, model_columns: int):
    """A spec and landing frame whose model columns number `model_columns`: Adult's own columns
    dropped from the end, or derived ones appended (copies of the spec's model columns, each with
    its rows rotated by a different offset, so a copy has the same domain but is no duplicate)."""
    import numpy as np

    identifiers = [c for c, entry in spec["columns"].items() if _is_identifier(entry, c)]
    modelled = [c for c in spec["columns"] if c not in identifiers]
    columns = dict(spec["columns"])
    frame = frame.copy()
    if model_columns <= len(modelled):
        targets = set((spec.get("utility") or {}).get("targets") or [])  # the spec needs them declared
        droppable = [c for c in modelled if c not in targets]
        for name in droppable[len(droppable) - (len(modelled) - model_columns) :]:
            del columns[name]
            frame = frame.drop(columns=name)
    else:
        bases = [c for c in modelled if c not in ("zip_code", "date_of_birth")]
        for index in range(model_columns - len(modelled)):
            base = bases[index % len(bases)]
            name = f"{base}_d{index + 1}"
            entry = {k: v for k, v in spec["columns"][base].items() if k != "pii"}
            columns[name] = entry
            frame[name] = np.roll(frame[base].to_numpy(), 1009 * (index + 1))
    return {**spec, "columns": columns}, frame


_IDENTIFIER_NAMES = {"customer_id", "full_name", "email", "phone", "ssn", "street_address"}


def _is_identifier(entry: dict, name: str) -> bool:
    pii = entry.get("pii") or {}
    return pii.get("class") == "direct_identifier" or name in _IDENTIFIER_NAMES


def bench_columns(rows: int, counts: tuple[int, ...], max_rss_gb: float, timeout_s: float) -> list[dict]:
    """dp_mst fit and the release gate at `rows` rows with 10/20/40 model columns, each a real run
    of a temporary spec whose masking plan is discovery's proposal, approved as a reviewer would."""
    import pandas as pd

    from synth_platform.lib.dataset_instances import load_instance, read_spec_dict, write_instance
    from synth_platform.lib.pii import approved_plan, discovery
    from synth_platform.lib.storage.ingest import read_landing_file
    from synth_platform.settings import DATASETS_DIR

    base_spec = read_spec_dict(DATASETS_DIR / DATASET)
    base_frame = pd.read_csv(write_landing_file(rows), dtype=str, keep_default_na=False)
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix=f"bench_columns_{count}_") as tmp:
            tmp = Path(tmp)
            spec, frame = widen_spec(base_spec, base_frame, count)
            specs = tmp / "specs"
            write_instance(specs, spec)
            landing_file = tmp / f"customers_{rows}_{count}cols.csv"
            frame.to_csv(landing_file, index=False)
            loaded = load_instance(specs / DATASET)
            hints = {n: (c.pii.pii_class, c.pii.type) for n, c in loaded.columns.items() if c.pii}
            findings = discovery.discover(read_landing_file(landing_file, loaded), hints=hints)
            proposal = approved_plan.propose(loaded, findings)
            approved_plan.write_plan(approved_plan.plan_path(specs, DATASET), proposal, "bench", spec=loaded)
            env, placed = make_project(tmp / "run", landing_file, specs=specs)
            print(f"  {count} model columns, {rows:,} rows ...", flush=True)
            run = run_child(["--child", "run", "--landing-file", str(placed)], env, max_rss_gb, timeout_s)
            stages = run.get("stages", {})
            entry = {
                "columns": count,
                "rows": rows,
                "synthesizer": stages.get("synthesizer", {}).get("seconds"),
                "release_gate": stages.get("release_gate", {}).get("seconds"),
                "run_total": run.get("run_seconds"),
                "outcome": "success" if run.get("success") else "failed",
                "failures": run.get("failures", []),
            }
            if run.get("success"):
                fit = run_child(["--child", "fit"], env, max_rss_gb, timeout_s)
                entry["bare_fit"] = fit.get("fit_seconds")
            results.append(entry)
    return results


# ---------------------------------------------------------------- outputs


def write_outputs(results: list[dict], columns: list[dict], out_dir: Path = OUT_DIR) -> None:
    """scale.json (everything), scale.csv (one row per size and stage), scale.png (log-log)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exponents = {}
    for stage in [*stage_order(results), "run_seconds", "bare_fit_seconds", "bare_sample_seconds"]:
        known = [
            (
                r["rows"],
                (r["stages"][stage]["seconds"] if _finished(r["stages"][stage]) else None)
                if stage in r.get("stages", {})
                else (r.get(stage) if r.get("outcome") == "success" or stage != "run_seconds" else None),
            )
            for r in results
        ]
        known = [(n, s) for n, s in known if s is not None]
        exponents[stage] = growth_exponent([n for n, _ in known], [s for _, s in known])
    column_exponents = {
        stage: growth_exponent(
            [c["columns"] for c in columns if c.get(stage) is not None],
            [c[stage] for c in columns if c.get(stage) is not None],
        )
        for stage in ("synthesizer", "release_gate", "bare_fit", "run_total")
    }
    payload = {
        "results": results,
        "exponents_in_rows": exponents,
        "columns": columns,
        "exponents_in_columns": column_exponents,
    }
    (out_dir / "scale.json").write_text(json.dumps(payload, indent=2, default=str))
    with (out_dir / "scale.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rows", "stage", "seconds", "status"])
        for r in results:
            for stage, figures in r.get("stages", {}).items():
                writer.writerow([r["rows"], stage, figures["seconds"], figures["status"]])
            for key in ("run_seconds", "bare_fit_seconds", "bare_sample_seconds", "peak_rss_gb"):
                writer.writerow([r["rows"], key, r.get(key), r.get("outcome")])
    plot(results, out_dir / "scale.png")


def plot(results: list[dict], path: Path) -> None:
    """Seconds per stage against rows, log-log, with the run total and the bare mechanism."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 6))
    series = {stage: [] for stage in stage_order(results)}
    for r in results:
        for stage in series:
            seconds = r.get("stages", {}).get(stage, {}).get("seconds")
            if seconds:
                series[stage].append((r["rows"], seconds))
    for stage, points in series.items():
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", linewidth=1, label=stage)
    for key, style in (("run_seconds", "k-"), ("bare_fit_seconds", "k--"), ("bare_sample_seconds", "k:")):
        points = [(r["rows"], r[key]) for r in results if r.get(key)]
        if points:
            axes.plot(*zip(*points, strict=True), style, marker="s", linewidth=2, label=key)
    for rows, seconds in TARGETS.items():
        axes.plot([rows], [seconds], "r*", markersize=14)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rows")
    axes.set_ylabel("seconds")
    axes.set_title("Governed chain through Dagster: seconds per stage (red stars: targets)")
    axes.legend(fontsize=7, ncol=2)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def previous_results(rerun: set[int], path: Path = OUT_DIR / "scale.json") -> list[dict]:
    """The sizes of an earlier scale.json that this invocation does not run again (`--keep`): a 10M
    run measured alone then still sits in one table and one exponent fit with 50k and 1M."""
    if not path.exists():
        return []
    return [r for r in json.loads(path.read_text()).get("results", []) if r["rows"] not in rerun]


def previous_columns(path: Path = OUT_DIR / "scale.json") -> list[dict]:
    """The columns bench of an earlier scale.json (`--keep` without a new columns bench)."""
    return json.loads(path.read_text()).get("columns", []) if path.exists() else []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS, help="comma-separated sizes")
    parser.add_argument("--quick", action="store_true", help="50,000 rows only, no columns bench")
    parser.add_argument(
        "--columns-rows", type=int, default=100_000, help="rows of the columns bench (0: skip)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the other sizes' results already in scale.json"
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare mechanism")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each size this many times; medians (odd: one run)"
    )
    parser.add_argument("--max-rss-gb", type=float, default=14.0, help="kill a run above this RSS")
    parser.add_argument("--timeout", type=float, default=3600.0, help="kill a run after this many seconds")
    parser.add_argument("--child", choices=["run", "fit"], help=argparse.SUPPRESS)
    parser.add_argument("--landing-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "run":
        return child_run(args.landing_file, args.child_out)
    if args.child == "fit":
        return child_fit(args.child_out)
    sizes = [50_000] if args.quick else [int(n) for n in args.rows.replace("_", "").split(",") if n]
    results = previous_results(set(sizes)) if args.keep else []
    for rows in sizes:
        print(f"{rows:,} rows:", flush=True)
        repeats = []
        for index in range(max(1, args.repeat)):
            if args.repeat > 1:
                print(f"  repeat {index + 1} of {args.repeat}", flush=True)
            repeats.append(bench_rows(rows, args.max_rss_gb, args.timeout, bare=not args.no_bare))
        results.append(combine_repeats(repeats))
        results.sort(key=lambda r: r["rows"])
        write_outputs(results, [])  # after every size: a later size that fails keeps the earlier ones
        last = results[-1]
        print(
            f"  {last['outcome']}: run {last['run_seconds']} s, peak RSS {last['peak_rss_gb']} GB", flush=True
        )
    columns = previous_columns() if args.keep else []
    if args.columns_rows and not args.quick:
        print(f"\ncolumns bench at {args.columns_rows:,} rows:", flush=True)
        columns = bench_columns(args.columns_rows, COLUMN_COUNTS, args.max_rss_gb, args.timeout)
    write_outputs(results, columns)
    print("\nThe governed chain through Dagster (seconds per stage; exponent: slope of log s on log rows)")
    print(format_table(results))
    for r in results:
        target = TARGETS.get(r["rows"])
        if target and r.get("run_seconds") is not None:
            verdict = (
                "meets"
                if r["outcome"] == "success"
                and r["run_seconds"] <= target
                and (r["peak_rss_gb"] or 0) <= TARGET_RSS_GB
                else "misses"
            )
            print(
                f"{r['rows']:,} rows: {r['run_seconds']:.0f} s (target {target:.0f} s), peak RSS "
                f"{r['peak_rss_gb']} GB (target {TARGET_RSS_GB:.0f} GB): {verdict} the target; {r['outcome']}"
            )
        for failure in r.get("failures", []):
            print(f"  {r['rows']:,} rows failed at {failure}")
    if columns:
        print("\nColumns (fixed rows; exponent: slope of log s on log columns)")
        print(format_columns_table(columns))
    print(f"\nwritten to {(OUT_DIR / 'scale.json').relative_to(PROJECT_ROOT)}, scale.csv, scale.png")


if __name__ == "__main__":
    main()
