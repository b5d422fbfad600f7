"""Which source a privacy budget belongs to: the landing folder, under the platform key.

The budget is the source's, not the spec's: renaming a dataset, or writing a second spec on
the same landing folder, must not start a fresh budget over the same people. The id is an
HMAC of the landing folder's resolved path under the platform key, so it is stable across
renames of the spec, differs between installations, and says nothing about the path to
whoever reads the ledger without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path


def source_id(landing_dir: Path, platform_key: bytes) -> str:
    """A stable, keyed id of the source behind `landing_dir` (symlinks resolved)."""
    resolved = os.path.realpath(Path(landing_dir))
    digest = hmac.new(platform_key, b"source-budget\x00" + resolved.encode(), hashlib.sha256)
    return "src_" + digest.hexdigest()[:32]
