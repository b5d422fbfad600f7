"""The pseudonymisation key: from SYNTH_PSEUDONYM_KEY, or generated once and kept private.

There is no public default: a published key makes short pseudonyms reversible by trying
every value, and switching from a default to a real key later reshuffles every train /
holdout assignment. When the variable is unset, the first use generates 32 random bytes and
stores them, owner-only (0600 in a 0700 folder), outside the repository: under
`$DAGSTER_HOME/secrets/` (the instance folder the operator already backs up and keeps
private), or `$SYNTH_SECRETS_DIR` if set. Logs and metadata name the file, never the key.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "SYNTH_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
MIN_KEY_CHARS = 16


class SecretError(RuntimeError):
    """A key that cannot be used safely; the message says what to fix, never the key."""


@dataclass(frozen=True)
class Key:
    value: bytes
    source: str
    """Where the key came from, safe to log: the variable's name or the file's path."""


def secrets_dir() -> Path:
    """Where generated secrets live: $SYNTH_SECRETS_DIR, $DAGSTER_HOME/secrets, or ~/.synth_platform."""
    if os.environ.get("SYNTH_SECRETS_DIR"):
        return Path(os.environ["SYNTH_SECRETS_DIR"])
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"]) / "secrets"
    return Path.home() / ".synth_platform" / "secrets"


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretError(
            f"the key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}` "
            "and, if it may have been read, rotate it"
        )


def load_or_create(path: Path) -> bytes:
    """The key in `path`, created (random, 0600, folder 0700) if missing; safe against a racing creator."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    _check_private(path)
    value = path.read_text().strip()
    if len(value) < MIN_KEY_CHARS:
        raise SecretError(
            f"the key file {path} holds fewer than {MIN_KEY_CHARS} characters; delete it to "
            "generate a new key (pseudonyms will change) or put a long random key in it"
        )
    return value.encode()


def pseudonym_key(configured: str | None = None, key_file: Path | None = None) -> Key:
    """The key to pseudonymise with: `configured` (from SYNTH_PSEUDONYM_KEY) or the generated file."""
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise SecretError(
                f"{ENV_VAR} is shorter than {MIN_KEY_CHARS} characters; short keys can be found by trying "
                "every value. Use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return Key(configured.encode(), f"environment variable {ENV_VAR}")
    path = key_file or secrets_dir() / KEY_FILE_NAME
    return Key(load_or_create(path), str(path))
