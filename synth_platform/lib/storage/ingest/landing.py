"""The landing folder: which files wait there, which one an operator may name, and quarantine.

Only files inside the dataset's landing folder are ever read or moved: the `landing_file` setting
is an operator's input, and a path pointing elsewhere (the warehouse, a `.env` file) is refused
before a byte of it is read. A symlink in the landing folder is never followed: it is refused and
the link itself (not its target) moved to quarantine. Also here: what a checked landing file is
(`LandingFile`, `TypedLanding`) and how to tell it was replaced after the check (`file_stamp`).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import pandas as pd

from synth_platform.lib.storage.ingest.errors import (
    LandingPathError,
    LandingSymlinkError,
)
from synth_platform.lib.storage.private_files import make_private, private_dir, write_private

#: Bytes read at a time when hashing or checking a file: memory stays flat whatever its size.
_CHUNK_BYTES = 1 << 22


@dataclass(frozen=True)
class LandingFile:
    path: Path
    content_hash: str
    size_bytes: int


def file_sha256(path: Path, chunk_size: int = _CHUNK_BYTES) -> str:
    """The file's SHA-256, read a chunk at a time (flat memory at any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def describe_landing_file(path: Path) -> LandingFile:
    return LandingFile(path=path, content_hash=file_sha256(path), size_bytes=path.stat().st_size)


def landing_files(landing_dir: Path, pattern: str) -> list[Path]:
    """Files waiting in a landing folder, oldest first (by modification time, then name)."""
    if not landing_dir.is_dir():
        return []
    files = [
        p
        for p in landing_dir.glob(pattern)
        if not p.is_symlink() and p.is_file() and not p.name.startswith(".") and _inside(p, landing_dir)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def landing_symlinks(landing_dir: Path, pattern: str) -> list[Path]:
    """Symlinks in a landing folder matching the pattern: never read, only quarantined.

    A link can point anywhere (a `.env` file, the warehouse), so none is ever followed, even one
    pointing inside the folder: the platform reads only files delivered into the folder itself.
    """
    if not landing_dir.is_dir():
        return []
    return sorted(p for p in landing_dir.glob(pattern) if p.is_symlink() and not p.name.startswith("."))


def quarantine_symlinks(landing_dir: Path, pattern: str, quarantine_dir: Path) -> list[str]:
    """Move every symlink in the landing folder into quarantine (the link, not its target).

    Returns one sentence per link for a run's log or a sensor's skip reason; a link that cannot
    be moved is reported, never raised, so one bad link does not stop other files.
    """
    notes = []
    for link in landing_symlinks(landing_dir, pattern):
        reason = symlink_reason(link.name)
        try:
            moved = quarantine(link, quarantine_dir, reason, landing_dir)
            notes.append(f"{reason} The link was moved to {moved}.")
        except OSError as error:
            notes.append(f"{reason} It could not be moved ({error.__class__.__name__}); remove it.")
    return notes


def symlink_reason(name: str) -> str:
    """Why a symlink is refused, without saying where it points (none of the platform's business)."""
    return (
        f"{name}: a symbolic link, not a file; links are never followed. Copy the file itself into "
        "the landing folder."
    )


def latest_landing_file(landing_dir: Path, pattern: str) -> Path | None:
    files = landing_files(landing_dir, pattern)
    return files[-1] if files else None


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path`, with every symlink and `..` resolved, lies inside `folder` (also resolved)."""
    try:
        return path.resolve(strict=False).is_relative_to(folder.resolve(strict=False))
    except (OSError, RuntimeError):  # a symlink loop
        return False


def resolve_landing_file(requested: str, landing_dir: Path, pattern: str) -> Path:
    """The landing file an operator asked for, if it is a regular file inside the landing folder.

    A relative path is taken relative to the landing folder. The message never repeats the
    requested path: whatever it points at is none of the platform's business.
    """
    candidate = Path(requested)
    if not candidate.is_absolute():
        candidate = landing_dir / candidate
    if candidate.is_symlink() and _inside(candidate.parent, landing_dir):
        raise LandingSymlinkError(symlink_reason(candidate.name))
    if not _inside(candidate, landing_dir):
        raise LandingPathError(
            f"the landing_file setting points outside the landing folder {landing_dir}; only files in "
            "that folder are ingested. Put the file there and pass its name."
        )
    resolved = candidate.resolve()
    if not resolved.exists():
        raise LandingPathError(f"{resolved.name}: no such file in {landing_dir}")
    if not resolved.is_file():
        raise LandingPathError(f"{resolved.name}: not a regular file (a folder, device or pipe)")
    if not fnmatch(resolved.name, pattern):
        raise LandingPathError(f"{resolved.name}: the spec expects files matching {pattern}")
    return resolved


def quarantine(path: Path, quarantine_dir: Path, reason: str, landing_dir: Path) -> Path:
    """Move a rejected file out of the landing folder, with the reason beside it.

    Refuses to move anything that is not inside `landing_dir`: quarantine once moved the
    warehouse away when pointed at it. A symlink directly in the landing folder is moved as a
    link (renamed, or re-created by shutil.move across file systems), its target untouched.
    The quarantined file and its reason are owner-only (0600, folder 0700): the file is real data.
    """
    if path.is_symlink():
        if not _inside(path.parent, landing_dir):
            raise LandingPathError(f"{path.name}: not in the landing folder {landing_dir}; not moved")
    elif not _inside(path, landing_dir):
        raise LandingPathError(f"{path.name}: not in the landing folder {landing_dir}; not moved")
    private_dir(quarantine_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = quarantine_dir / f"{stamp}__{path.name}"
    shutil.move(str(path), target)  # on a link: os.rename, or readlink + symlink; never the target
    make_private(target)  # the file keeps the landing mode when moved; a link is left as it is
    write_private(Path(f"{target}.reason.txt"), reason + "\n")
    return target


@dataclass
class TypedLanding:
    """A landing file checked against its spec: the typed SELECT over it and what it holds.

    `select_sql` reads the file again (DuckDB's reader, the same typing) wherever it runs: in
    the warehouse as `SqlQuery(select_sql)` after `register_lookups(con)`, or in memory for a frame.
    """

    path: Path
    select_sql: str
    rows: int
    people: int
    lookups: dict[str, pd.DataFrame]
    stamp: tuple[int, int] = (0, 0)

    def register_lookups(self, con: duckdb.DuckDBPyConnection) -> None:
        """Register the date spellings' lookup tables (if any) that `select_sql` joins."""
        for name, frame in self.lookups.items():
            con.register(name, frame)

    def unchanged(self) -> bool:
        """Whether the file is still the one checked (size and modification time): the typed SELECT
        reads it again, so a file replaced in between must not be written unchecked."""
        return file_stamp(self.path) == self.stamp


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a file: changes when the file is rewritten or replaced."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns
