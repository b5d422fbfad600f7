"""Read a landing file, check it against its spec, and type it.

Everything that can be wrong with a delivered file is turned into one `IngestError`
whose message names the file and the problem in words a person can act on, and
never quotes a cell value (a cell may be a person's identifier). Header names are
quoted only when the first row really is a header and the name is a plain
identifier: a file without a header has a person's name and SSN in its first row.

Too few rows is a problem of the file too: `check_enough_rows` refuses a table smaller than what
the release gate needs after the keyed split (`lib.synthesize.split.rows_needed`, from the spec's public
settings), so no run trains and spends budget on a table the gate could only block; its message
says which settings would let the table through. `source.min_rows` stays an explicit floor beside
it (the larger applies). `ingest_landing_file` is the chain's ingest: read, then both checks.

Only files inside the dataset's landing folder are ever read or moved: the
`landing_file` setting is an operator's input, and a path pointing elsewhere (the
warehouse, a `.env` file) is refused before a byte of it is read. A symlink in the landing
folder is never followed: it is refused and the link itself (not its target) moved to quarantine.
A file over its spec's size limits (`source.max_bytes`, `max_rows`, `max_uncompressed_bytes`)
is refused before it is materialised: a 3 KB Parquet file can expand to hundreds of megabytes.

No table is held in pandas: `check_landing_file` checks the bytes and the header in Python, then
counts rows, people and every refused value in streamed DuckDB passes over the file (read by
DuckDB's strict CSV reader, or `read_parquet`, every column as text) and returns the typed SELECT;
the chain runs it in the warehouse (`SqlQuery`), so DuckDB's reader writes raw.<ds> straight from
the file. `read_landing_file` (the CLI's small files) runs the same SELECT in memory.

The package, one job per module: `errors` (the refusals), `landing` (the landing folder,
quarantine, what a checked file is), `file_checks` (bytes, header, size limits, the reader),
`column_types` (the spec's types and checks in SQL), `checking` (the streamed check and the typed
SELECT) and `enough_rows` (too few people for the gate). Callers use the names below, as when
this was one module.
"""

from synth_platform.lib.storage.ingest.checking import (
    check_landing_file,
    coerce_types,
    ingest_landing_file,
    read_landing_file,
    type_source,
)
from synth_platform.lib.storage.ingest.enough_rows import check_enough_rows
from synth_platform.lib.storage.ingest.errors import (
    IngestError,
    LandingPathError,
    LandingSymlinkError,
    TooFewRowsError,
    TooLargeError,
)
from synth_platform.lib.storage.ingest.file_checks import check_columns, check_file_size, check_parquet_limits
from synth_platform.lib.storage.ingest.landing import (
    LandingFile,
    TypedLanding,
    describe_landing_file,
    file_sha256,
    file_stamp,
    landing_files,
    landing_symlinks,
    latest_landing_file,
    quarantine,
    quarantine_symlinks,
    resolve_landing_file,
    symlink_reason,
)

__all__ = [
    "IngestError",
    "LandingFile",
    "LandingPathError",
    "LandingSymlinkError",
    "TooFewRowsError",
    "TooLargeError",
    "TypedLanding",
    "check_columns",
    "check_enough_rows",
    "check_file_size",
    "check_landing_file",
    "check_parquet_limits",
    "coerce_types",
    "describe_landing_file",
    "file_sha256",
    "file_stamp",
    "ingest_landing_file",
    "landing_files",
    "landing_symlinks",
    "latest_landing_file",
    "quarantine",
    "quarantine_symlinks",
    "read_landing_file",
    "resolve_landing_file",
    "symlink_reason",
    "type_source",
]
