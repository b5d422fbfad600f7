"""The invented family names of the refill, read from a file made from them instead of invented again.

`name_dictionaries.fictional_family_names` checks thousands of candidate words against every name
list of every Faker locale: about half a second in each process, half of the synthetic stage of a
50,000-row table. Its result is a fixed function of that module's code, the installed Faker and
Python's Unicode tables, so it is stored beside this module (`fictional_family_names.txt`) under a
fingerprint of those three. A process whose fingerprint differs (another Faker, an edited module,
a missing file) invents them again, exactly as before: the file can only save time, never change a
name. It is code, not data (a test checks it equals the function); to write it again:
`python -m synth_platform.lib.deidentify.refill.family_names`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

from synth_platform.lib.pii import name_dictionaries

STORED = Path(__file__).with_name("fictional_family_names.txt")
_HEADER = "# fingerprint "


def fingerprint() -> str:
    """What the invented names are a function of: the generator's code, Faker's version (its name
    lists) and the Unicode tables names are folded with."""
    digest = hashlib.sha256(Path(name_dictionaries.__file__).read_bytes())
    digest.update(importlib.metadata.version("faker").encode())
    digest.update(unicodedata.unidata_version.encode())
    return digest.hexdigest()


def stored_family_names(path: Path = STORED) -> np.ndarray | None:
    """The names in the file when it was made under this process's fingerprint, else None."""
    try:
        header, *names = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return None
    if header != _HEADER + fingerprint():
        return None
    return np.array(names, dtype=object)


@lru_cache(maxsize=1)
def family_names() -> np.ndarray:
    """`name_dictionaries.fictional_family_names()`, from the file when it matches."""
    stored = stored_family_names()
    return stored if stored is not None else name_dictionaries.fictional_family_names()


def write_stored(path: Path = STORED) -> None:
    names = name_dictionaries.fictional_family_names()
    path.write_text(_HEADER + fingerprint() + "\n" + "\n".join(names) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_stored()
    print(f"wrote {STORED}")
