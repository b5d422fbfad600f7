"""The keyed split (`synthesize.split`) as SQL SELECTs, so train and holdout are computed in the warehouse.

The same keyed digests as the frame functions always used, built in SQL: HMAC-SHA256 under the
split key (`split._split_key`: platform key, domain separation, seed) of

- ``key|`` + the key value's canonical JSON (its cell form, below), with a key column;
- ``row|`` + the row's canonical JSON (column names sorted, each cell in its canonical form: NULL
  and NaN as null, whole floats as integers, other floats as Python's repr, dates in ISO form, text
  as is), without a key column or for a row whose key is empty;
- ``bound|`` + the row's canonical JSON, to choose the one row kept per key value.

A row goes to the holdout when the first 8 bytes of its digest, read as a number in [0, 1), are
below the fraction: compared here as 16 hex digits against an exact integer threshold, so no
engine needs unsigned 64-bit arithmetic. Pure functions returning SQL text for a `Dialect`; the
split key reaches the engine only as HMAC pads in parameters.

Column kinds are those of `masking_sql` (how pandas saw the column, which decides the cell form).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from synth_platform.lib.deidentify.masking_sql import is_missing
from synth_platform.lib.storage.sql_dialect import Dialect, hmac_pads

_POS = "_synth_pos"
_PERSON = "_synth_person"
_HOLDOUT = "_synth_holdout"


@dataclass(frozen=True)
class SplitSql:
    """The two SELECTs of a split and their parameters (the split key's HMAC pads, hex)."""

    train_sql: str
    holdout_sql: str
    params: dict[str, str]


def holdout_threshold(fraction: float) -> int:
    """The smallest 64-bit head whose `float(head) / 2**64` is not below `fraction`: a row is in the
    holdout exactly when its head is below this (float rounding included, as numpy does it)."""
    target = float(fraction) * 2.0**64
    low, high = 0, 2**64
    while low < high:
        middle = (low + high) // 2
        if float(middle) >= target:
            high = middle
        else:
            low = middle + 1
    return low


def split_params(secret: str | bytes | None, seed: int) -> dict[str, str]:
    """The split key's HMAC pads as the builders' parameters."""
    from synth_platform.lib.synthesize.split import _split_key

    ipad, opad = hmac_pads(_split_key(secret, seed))
    return {"split_ipad": ipad, "split_opad": opad}


# --- canonical JSON ---------------------------------------------------------------------------


def cell_json(expr: str, kind: str, dialect: Dialect) -> str:
    """The canonical JSON of a cell (`json.dumps` of its cell form), as SQL text (never NULL)."""
    if kind == "text" or kind == "other":
        body = dialect.json_string(dialect.to_text(expr))
    elif kind in ("int", "nullable_int"):
        body = dialect.to_text(expr)
    elif kind == "bool":
        body = f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"
    elif kind == "float":
        number = f"CAST({expr} AS DOUBLE)"
        integral = (
            f"CAST(CAST({number} AS DECIMAL(38, 0)) AS {dialect.text_type})"
            if dialect.is_spark
            else f"CASE WHEN abs({number}) < 1e38 THEN CAST(CAST({number} AS HUGEINT) AS VARCHAR) "
            f"ELSE printf('%.0f', {number}) END"  # beyond 1e38 (never a real cell) the digits may differ
        )
        infinite = (
            f"abs({number}) = CAST('inf' AS DOUBLE)"
            if not dialect.is_spark
            else (f"abs({number}) = double('infinity')")
        )
        return (
            f"CASE WHEN {is_missing(number, 'float')} THEN 'null' "
            f"WHEN {infinite} THEN concat('\"', {dialect.double_text(number)}, '\"') "
            f"WHEN {number} = floor({number}) THEN {integral} "
            f"ELSE concat('\"', {dialect.double_text(number)}, '\"') END"
        )
    elif kind in ("date", "timestamp"):
        ts = f"CAST({expr} AS TIMESTAMP)"
        micro = dialect.microsecond(ts)
        body = (
            f"concat('\"', {dialect.iso_seconds(ts)}, CASE WHEN {micro} = 0 THEN '' "
            f"ELSE concat('.', lpad({dialect.to_text(micro)}, 6, '0')) END, '\"')"
        )
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    return f"CASE WHEN {is_missing(expr, kind)} THEN 'null' ELSE {body} END"


def _named(columns: Sequence[tuple[str, ...]]) -> list[tuple[str, str, str]]:
    """(SQL name, kind, name in the canonical row): a column's canonical name is its SQL name unless
    a third element gives another (a frame's column registered under a plain positional name)."""
    return [(c[0], c[1], c[2] if len(c) > 2 else c[0]) for c in columns]


def row_json(columns: Sequence[tuple[str, ...]], dialect: Dialect, table: str | None = None) -> str:
    """The canonical JSON of a row: '[[names sorted],[cells in that order]]' (no spaces)."""
    import json

    ordered = sorted(_named(columns), key=lambda c: c[2])
    header = json.dumps([canonical for _, _, canonical in ordered], ensure_ascii=False, separators=(",", ":"))
    prefix = f"{table}." if table else ""
    parts = [dialect.literal("[" + header + ",[")]
    for i, (name, kind, _) in enumerate(ordered):
        if i:
            parts.append("','")
        parts.append(cell_json(prefix + dialect.quote(name), kind, dialect))
    parts.append("']]'")
    return f"concat({', '.join(parts)})"


def _digest(message_text: str, dialect: Dialect) -> str:
    return dialect.hmac_sha256_hex("split_ipad", "split_opad", dialect.utf8(message_text))


# --- the queries ------------------------------------------------------------------------------


def _key_kind(columns: Sequence[tuple[str, ...]], key_column: str | None) -> str | None:
    kinds = {name: kind for name, kind, _ in _named(columns)}
    return kinds.get(key_column) if key_column is not None else None


def _ctes(
    source_relation: str,
    key_column: str | None,
    fraction: float | None,
    columns: Sequence[tuple[str, ...]],
    dialect: Dialect,
    bound: bool,
) -> str:
    """`src` (rows with their source position and person), `kept` (one row per person when
    `bound`), `sided` (kept rows with their holdout flag when a fraction is given)."""
    key_kind = _key_kind(columns, key_column)
    row = row_json(columns, dialect)
    if key_kind is None:
        person = "CAST(NULL AS " + dialect.text_type + ")"
    else:
        quoted = dialect.quote(key_column)
        value = cell_json(quoted, key_kind, dialect)
        person = f"CASE WHEN {is_missing(quoted, key_kind)} THEN NULL ELSE {value} END"
    position = f"{dialect.position()} AS {_POS}"
    ctes = [f"src AS (SELECT *, {position}, {person} AS {_PERSON} FROM {source_relation})"]
    if bound and key_kind is not None:
        rank = _digest(f"concat('bound|', {row_json(columns, dialect, 'src')})", dialect)
        ctes += [
            f"dup AS (SELECT {_PERSON} AS p FROM src WHERE {_PERSON} IS NOT NULL GROUP BY {_PERSON} "
            "HAVING count(*) > 1)",
            f"ranked AS (SELECT src.{_POS} AS pos, row_number() OVER (PARTITION BY src.{_PERSON} "
            f"ORDER BY {rank}, src.{_POS}) AS r FROM src JOIN dup ON src.{_PERSON} = dup.p)",
            "dropped AS (SELECT pos FROM ranked WHERE r > 1)",
            f"kept AS (SELECT src.* FROM src LEFT JOIN dropped ON src.{_POS} = dropped.pos "
            "WHERE dropped.pos IS NULL)",
        ]
    else:
        ctes.append("kept AS (SELECT * FROM src)")
    if fraction is not None:
        if not 0.0 < fraction < 1.0:
            raise ValueError("holdout fraction must be between 0 and 1")
        message = f"CASE WHEN {_PERSON} IS NULL THEN concat('row|', {row}) ELSE concat('key|', {_PERSON}) END"
        threshold = f"{holdout_threshold(fraction):016x}"
        head = f"substr({_digest(message, dialect)}, 1, 16)"
        ctes.append(f"sided AS (SELECT *, {head} < '{threshold}' AS {_HOLDOUT} FROM kept)")
    return "WITH " + ",\n".join(ctes)


def _select_columns(columns: Sequence[tuple[str, ...]], dialect: Dialect) -> str:
    return ", ".join(dialect.quote(name) for name, _, _ in _named(columns))


def split_selects(
    source_relation: str,
    key_column: str | None,
    fraction: float,
    seed: int,
    secret: bytes | str | None,
    dialect: Dialect,
    columns: Sequence[tuple[str, ...]],
) -> SplitSql:
    """Train and holdout SELECTs: one row per key value (with a key), then the keyed side of each
    row; the source's columns, rows in source order. Rows dropped = source - train - holdout.

    `columns`: (name, kind) of every source column, in order; a third element, when given, is the
    column's name in the canonical row if the SQL name differs."""
    with_ = _ctes(source_relation, key_column, fraction, columns, dialect, bound=True)
    names = _select_columns(columns, dialect)
    train = f"{with_}\nSELECT {names} FROM sided WHERE NOT {_HOLDOUT} ORDER BY {_POS}"
    holdout = f"{with_}\nSELECT {names} FROM sided WHERE {_HOLDOUT} ORDER BY {_POS}"
    return SplitSql(train, holdout, split_params(secret, seed))


def holdout_flags_select(
    source_relation: str,
    key_column: str | None,
    fraction: float,
    seed: int,
    secret: bytes | str | None,
    dialect: Dialect,
    columns: Sequence[tuple[str, ...]],
) -> tuple[str, dict[str, str]]:
    """(SELECT of one boolean per source row, in source order: holdout?, parameters); no bounding."""
    with_ = _ctes(source_relation, key_column, fraction, columns, dialect, bound=False)
    return f"{with_}\nSELECT {_HOLDOUT} AS holdout FROM sided ORDER BY {_POS}", split_params(secret, seed)


def kept_positions_select(
    source_relation: str,
    key_column: str | None,
    seed: int,
    secret: bytes | str | None,
    dialect: Dialect,
    columns: Sequence[tuple[str, ...]],
) -> tuple[str, dict[str, str]]:
    """(SELECT of the 1-based source positions one row per key value keeps, in order, parameters)."""
    with_ = _ctes(source_relation, key_column, None, columns, dialect, bound=True)
    return f"{with_}\nSELECT {_POS} AS pos FROM kept ORDER BY {_POS}", split_params(secret, seed)
