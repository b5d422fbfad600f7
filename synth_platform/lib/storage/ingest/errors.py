"""The ingest's refusals: one `IngestError` family, so a caller (the chain, the landing sensor,
the CLI) can quarantine a file and tell the operator why, whatever was wrong with it.

Every message names the file and the problem in words a person can act on, and never quotes a
cell value (a cell may be a person's identifier).
"""

from __future__ import annotations


class IngestError(ValueError):
    """A landing file that cannot be ingested; the message names the file and the problem."""


class TooFewRowsError(IngestError):
    """A table with fewer people than the release gate needs after the split; refused before training."""


class LandingPathError(IngestError):
    """A `landing_file` outside the dataset's landing folder; refused before it is read or moved."""


class LandingSymlinkError(LandingPathError):
    """A landing file that is a symlink; never followed, and the link itself is quarantined."""


class TooLargeError(IngestError):
    """A landing file over one of its spec's size limits; refused before it is materialised."""
