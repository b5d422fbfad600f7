"""The platform key of one installation: generated on first use, never again once a ledger exists.

Every pseudonym, train/holdout assignment, source id, model file MAC and ledger row is keyed with
the platform key (`lib.storage.secrets`). A key generated anew after the old one was lost changes all of
them at once: every model fails its HMAC and is retrained and charged again, silently. So a new
key may be generated only while the warehouse has no ledger; after that, a missing key stops the
caller with a message saying how to restore it.

The warehouse's ledger is the source of truth for "this installation already has a key", not a
marker file next to the key: a deleted marker would quietly re-enable generation, while the
ledger's rows (and its chain head file) are MAC'd under the key and cannot be faked without it.
That knowledge lives here, not in `storage.secrets`, because `governance.ledger` depends on `storage.secrets`.

A key that is present but not the one the ledger was written with (a file replaced, another
`SYNTH_PSEUDONYM_KEY`) is caught the same way, cheaply: the newest keyed ledger entry must verify
under it (`ledger.written_with`), before anything is keyed with it.
"""

from __future__ import annotations

from pathlib import Path

from synth_platform.lib.governance import ledger
from synth_platform.lib.storage import secrets, warehouse


class KeyMismatchError(secrets.SecretError):
    """A key is present but the ledger was written with another one."""


def platform_key(db_path: Path, configured: str | None = None, key_file: Path | None = None) -> secrets.Key:
    """The key for the installation whose warehouse is `db_path` (`configured`, else the key file).

    Generated only while that warehouse has no ledger (no row, no chain head file); afterwards a
    missing key file raises `secrets.MissingKeyError` and a key the ledger does not verify under
    raises `KeyMismatchError`, both naming what to restore (paths and variables, never the key).
    Opens the warehouse read-only: not to be called while the caller holds the warehouse lock.
    """
    db_path = Path(db_path)
    if not db_path.exists():  # a ledger only if its head file outlived the warehouse (verify says so)
        return secrets.pseudonym_key(configured, key_file, create=not ledger.head_path(db_path).exists())
    with warehouse.connect(db_path, read_only=True) as con:
        has_ledger = ledger.has_entries(con)
        key = secrets.pseudonym_key(configured, key_file, create=not has_ledger)
        fits = ledger.written_with(con, key.value) if has_ledger else None
    if fits is False:
        path = key_file or secrets.secrets_dir() / secrets.KEY_FILE_NAME
        raise KeyMismatchError(
            f"the platform key from {key.source} is not the key the privacy ledger in {db_path} was "
            "written with (its newest keyed entry does not verify under it), so nothing is keyed with "
            f"it. If the key was replaced, {secrets.restore_hint(path)}. If it was not, the ledger may "
            "have been altered: run `synth-platform ledger verify`."
        )
    return key
