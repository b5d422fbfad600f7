"""Owner-only files and folders for everything that holds real data or governed state.

The warehouse (raw identifiers in clear), its write-ahead log, the published zone, the
ledger head, quarantined landing files and their reasons, model files, their MACs and
pointer, and the evidence packs are all exact functions of real people's rows. Under a
default umask (022) every one of them would be created world-readable, so any local user
could copy the raw table. The key file was the only exception.

Two layers, because neither is enough alone:

* **Explicit modes at each creation site** (this module's helpers): files are created 0600
  (`os.open` with the mode, then `fchmod`, then an atomic rename) and folders 0700, whatever
  the process umask — library code is also called by tests, benchmarks and other tools
  that never pass through an entry point.
* **A restrictive umask (077)** at the platform's entry points (the Dagster code location,
  the CLI, the demo) and around every DuckDB connection that may write (`private_umask`):
  DuckDB creates its own files — the database, the `.wal` written during a transaction and
  deleted on close, spill folders — with mode 0666 minus the umask, and offers no hook to
  set a mode. The umask is process-wide; it is only ever tightened here, so a thread that
  creates a file meanwhile gets an owner-only file, never a looser one.

Public outputs (the release certificate) set their own world-readable modes explicitly.
Existing folders that are not the platform's own (the project's `data/`, which also holds the
public demo file and certificates) are never chmodded: only folders this module creates, and
the leaf folder dedicated to governed data (`private_dir`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Mode of every file holding real data or governed state: owner read/write only.
FILE_MODE = 0o600
#: Mode of every folder holding such files: owner only.
DIR_MODE = 0o700
#: Mode of folders of public outputs (the release certificate), whatever the umask.
PUBLIC_DIR_MODE = 0o755
#: The umask that makes anything a process creates owner-only.
PRIVATE_UMASK = 0o077
#: The permission bits that make a file or folder reachable by group or others.
_LOOSE_BITS = 0o077


def restrict_process_umask() -> int:
    """Tighten the process umask to at least 077 (keep stricter bits); return the previous one.

    Called once where the platform starts (code location, CLI, demo), so whatever the platform
    or a library it uses creates — DuckDB files, dbt's and Dagster's files — is owner-only.
    """
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    return previous


@contextmanager
def private_umask() -> Iterator[None]:
    """Run the body under a umask of at least 077, then restore the previous one.

    For files other code creates with its own modes (DuckDB's database and `.wal`, a dbt
    subprocess, which inherits the umask): there is no other way to make them owner-only
    from the moment they exist.
    """
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def _make_missing(directory: Path, mode: int) -> Path:
    """Create `directory` and its missing parents, each one created with exactly `mode` (chmod:
    `mkdir`'s mode is cut by the umask); folders that already exist are left as they are."""
    directory = Path(directory)
    missing = []
    probe = directory
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=mode, exist_ok=True)
        os.chmod(folder, mode)
    return directory


def make_parents_private(directory: Path) -> Path:
    """Create `directory` and its missing parents, each created one 0700; existing folders untouched.

    For a folder that may be shared with public outputs (the warehouse's `data/`): what we
    create is owner-only, what the operator made stays as they made it.
    """
    return _make_missing(directory, DIR_MODE)


def make_parents_public(directory: Path) -> Path:
    """Create `directory` and its missing parents 0755, for public outputs (the release
    certificate): under the platform's 077 umask they would otherwise be owner-only."""
    return _make_missing(directory, PUBLIC_DIR_MODE)


def private_dir(directory: Path) -> Path:
    """A folder dedicated to governed data (a dataset's models or quarantine), owner-only (0700).

    Its missing parents are created 0700 as well; the folder itself is made 0700 even if it
    already existed with a looser mode (created by an earlier version under umask 022).
    """
    directory = make_parents_private(directory)
    if stat.S_IMODE(directory.stat().st_mode) != DIR_MODE:
        os.chmod(directory, DIR_MODE)
    return directory


def make_private(path: Path) -> None:
    """Make an existing regular file owner-only (0600) if group or others can reach it.

    A missing file is fine (DuckDB's `.wal` comes and goes). A symlink is never followed:
    its target is not ours to change (quarantine moves links, never their targets).
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_mode & _LOOSE_BITS:
        os.chmod(path, FILE_MODE)


def write_private(path: Path, data: bytes | str) -> None:
    """Write a file owner-only (0600, whatever the umask), replacing any old one atomically.

    The bytes go to a 0600 temporary file beside `path` (fsynced), which is then renamed over
    it: a reader sees the old file or the new one, never half of one, and never a loose mode.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def open_private_lock(path: Path):
    """Open (creating it 0600) a lock file for `flock`, as a text handle in append mode."""
    return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE), "a+")


def loose_paths(root: Path, skip: tuple[Path, ...] = ()) -> list[str]:
    """Every file or folder under `root` (inclusive) that group or others can reach, as
    `mode path` lines; `skip` folders (public outputs) are not descended into. Symlinks are
    not followed. For tests and operators checking a deployment."""
    root = Path(root)
    skipped = {Path(s).resolve() for s in skip}
    found = []
    for current, folders, files in os.walk(root):
        here = Path(current)
        if here.resolve() in skipped:
            folders[:] = []
            continue
        folders[:] = [f for f in folders if (here / f).resolve() not in skipped]
        for path in [here, *(here / f for f in files)]:
            info = os.lstat(path)
            if not stat.S_ISLNK(info.st_mode) and info.st_mode & _LOOSE_BITS:
                found.append(f"{stat.S_IMODE(info.st_mode):04o} {path}")
    return found
