"""Is the process that ran a Dagster run still alive? (Linux, same host.)

Dagster's default run launcher starts every run worker on this machine, and its run
monitoring cannot tell a killed worker from a busy one: a `kill -9`'d run stays STARTED and
keeps its pool slot for ever. The executor records its process id when it starts; a
process id that no longer exists, or that now belongs to a process started after the run,
means the run is dead.

The dataset run lease (`run_lease`) also records a `RunProcess` (pid, host, start time), so a
run this Dagster instance does not know (another instance sharing the warehouse, or a run
deleted from this one) can still be checked on this host, and is never assumed dead elsewhere.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_start_time(pid: int) -> float | None:
    """The Unix time a process started, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its exit status is left
        return None
    return _boot_time() + int(fields[19]) / _CLOCK_TICKS


def process_alive(pid: int, started_before: float | None = None) -> bool:
    """Whether `pid` runs, and (if given) started no later than `started_before` (+2 s of clock slack).

    Without /proc (not Linux) a process is assumed alive: never declare a live run dead.
    """
    if not Path("/proc/self/stat").exists():
        return True
    started = process_start_time(pid)
    if started is None:
        return False
    return started_before is None or started <= started_before + 2.0


@dataclass(frozen=True)
class RunProcess:
    """Where a run executes, recorded with its dataset lease so another instance can check it.

    The start time tells the process apart from a later one that got the same pid.
    """

    pid: int
    host: str
    started_at: float


def this_host() -> str:
    return socket.gethostname()


def run_process(pid: int) -> RunProcess | None:
    """The identity of process `pid` on this host, or None if it does not run (or /proc is missing)."""
    started = process_start_time(pid) if Path("/proc/self/stat").exists() else None
    return None if started is None else RunProcess(pid, this_host(), started)


def process_state(process: RunProcess) -> bool | None:
    """True while that very process runs, False once it is gone (or its pid was reused), None if this
    machine cannot tell (another host, or no /proc): a caller must then not assume it dead."""
    if process.host != this_host() or not Path("/proc/self/stat").exists():
        return None
    started = process_start_time(process.pid)
    return started is not None and abs(started - process.started_at) <= 2.0
