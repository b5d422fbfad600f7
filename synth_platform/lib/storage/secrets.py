"""The pseudonymisation key: from SYNTH_PSEUDONYM_KEY, or generated once and kept private.

There is no public default: a published key makes short pseudonyms reversible by trying
every value, and switching from a default to a real key later reshuffles every train /
holdout assignment. When the variable is unset, the first use generates 32 random bytes and
stores them, owner-only (0600 in a 0700 folder), in `$SYNTH_SECRETS_DIR` if set, else in the
user's config folder (`$XDG_CONFIG_HOME` or `~/.config`, then `synth_platform/secrets/`).
Never under `DAGSTER_HOME`: `make` puts that inside the checkout and `make clean` deletes it,
and a key silently regenerated changes every pseudonym and split and voids every model's HMAC.
A key file that `DAGSTER_HOME/secrets/` held before (older versions) is copied out on first use.

Whether a *missing* key may be generated is not this module's call: once the installation has a
ledger, the key it was written with must come back, not a new one. `pseudonym_key(create=False)`
refuses instead (`MissingKeyError`, saying how to restore it); `lib.storage.platform_key` decides from
the warehouse. Logs and metadata name the file, never the key.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "SYNTH_PSEUDONYM_KEY"
DIR_ENV_VAR = "SYNTH_SECRETS_DIR"
KEY_FILE_NAME = "pseudonym.key"
MIN_KEY_CHARS = 16


class SecretError(RuntimeError):
    """A key that cannot be used safely; the message says what to fix, never the key."""


class MissingKeyError(SecretError):
    """The key file is gone but must not be regenerated (a ledger was written with the old key)."""


@dataclass(frozen=True)
class Key:
    value: bytes
    source: str
    """Where the key came from, safe to log: the variable's name or the file's path."""


def secrets_dir() -> Path:
    """Where generated secrets live: $SYNTH_SECRETS_DIR, else the user's config folder.

    Deliberately not derived from DAGSTER_HOME (see the module docstring).
    """
    if os.environ.get(DIR_ENV_VAR):
        return Path(os.environ[DIR_ENV_VAR])
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "synth_platform" / "secrets"


def _legacy_key_file() -> Path | None:
    """Where versions before this one generated the key: $DAGSTER_HOME/secrets/pseudonym.key."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "secrets" / KEY_FILE_NAME if home else None


def restore_hint(path: Path) -> str:
    """How to give the platform its key back; names paths and variables, never a key."""
    return (
        f"put the backed-up key file back at {path} (mode 0600, folder 0700), or set {ENV_VAR} "
        f"to the key, or {DIR_ENV_VAR} to the folder that holds your {KEY_FILE_NAME}"
    )


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretError(
            f"the key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}` "
            "and, if it may have been read, rotate it"
        )


def _missing(path: Path) -> MissingKeyError:
    return MissingKeyError(
        f"the platform key file {path} is missing, and this installation's privacy ledger was written "
        "with a key: a new key would change every pseudonym and train/holdout assignment and make "
        f"every model fail its HMAC (retrained and charged again), so none is generated. To continue, "
        f"{restore_hint(path)}. If the key is lost for good, the ledger can no longer be verified: keep "
        "the warehouse as the record and start a new one beside it."
    )


def _write_new(path: Path, value: str) -> None:
    """Write `value` to `path` (0600) unless it exists; a racing creator's file wins."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def load_or_create(path: Path, create: bool = True) -> bytes:
    """The key in `path`; if missing, generated (random, 0600, folder 0700) when `create`, else
    `MissingKeyError`. Safe against a racing creator."""
    if not path.exists():
        if not create:
            raise _missing(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_new(path, secrets.token_hex(32))
    _check_private(path)
    value = path.read_text().strip()
    if len(value) < MIN_KEY_CHARS:
        raise SecretError(
            f"the key file {path} holds fewer than {MIN_KEY_CHARS} characters; put the backed-up key "
            "back in it (if there is no ledger yet, you may instead delete it to generate a new key)"
        )
    return value.encode()


def _adopt_legacy(path: Path) -> None:
    """Copy a key an older version kept under DAGSTER_HOME to the default `path`, once."""
    legacy = _legacy_key_file()
    if path.exists() or legacy is None or not legacy.is_file():
        return
    _check_private(legacy)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_new(path, legacy.read_text().strip())


def pseudonym_key(configured: str | None = None, key_file: Path | None = None, create: bool = True) -> Key:
    """The key to pseudonymise with: `configured` (from SYNTH_PSEUDONYM_KEY) or the key file.

    `create=False`: a missing key file raises `MissingKeyError` instead of being generated.
    """
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise SecretError(
                f"{ENV_VAR} is shorter than {MIN_KEY_CHARS} characters; short keys can be found by trying "
                "every value. Use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return Key(configured.encode(), f"environment variable {ENV_VAR}")
    path = key_file or default_key_file()
    return Key(load_or_create(path, create), str(path))


def default_key_file() -> Path:
    """The key file used when none is configured (an older version's key adopted first)."""
    path = secrets_dir() / KEY_FILE_NAME
    if not os.environ.get(DIR_ENV_VAR):
        _adopt_legacy(path)
    return path
