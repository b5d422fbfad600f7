"""The few engine-specific bits of the chain's SQL, so one builder serves DuckDB and Spark SQL.

Masking, the split and the DP counts are written once, as SQL text built by pure functions
(`masking_sql`, `split_sql`): every place where DuckDB and Spark SQL spell something differently
(hashing, hex, binary concatenation, identifier and string quoting, query parameters, a value's
text form) goes through a `Dialect`. Two instances: `DUCKDB` (the warehouse, and the in-memory
engine the frame functions use) and `SPARK` (pyspark, for tables that live in a lakehouse).

Secrets never appear in SQL text: a builder names a parameter (`Dialect.param`) and returns its
value beside the SQL. DuckDB binds it as a session variable (`bind_duckdb`: `SET VARIABLE` with a
prepared parameter, so not even that statement's text holds it); Spark passes it as a named
parameter (`spark.sql(sql, args=params)`). Parameters are hex text: both engines take strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

#: Characters Python's `str.strip()` removes (`str.isspace`), so SQL trims exactly what pandas does.
PY_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())

#: JSON escapes `json.dumps(..., ensure_ascii=False)` writes for the control characters.
_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the operations the chain's builders need (pure string functions)."""

    name: str

    @property
    def is_spark(self) -> bool:
        return self.name == "spark"

    # --- names, literals, parameters -----------------------------------------------------------
    def quote(self, name: str) -> str:
        """A column/table identifier, any characters (the engine's quoting, embedded quotes doubled)."""
        if not isinstance(name, str) or not name or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ValueError(f"not a usable SQL identifier: {name!r}")
        if self.is_spark:
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def relation(self, schema: str, table: str) -> str:
        return f"{self.quote(schema)}.{self.quote(table)}"

    def literal(self, text: str) -> str:
        """A string literal (Spark's parser reads backslash escapes; DuckDB's does not)."""
        if self.is_spark:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    def param(self, name: str) -> str:
        """A query parameter holding text (hex for secrets): never its value in the SQL text."""
        if self.is_spark:
            return f":{name}"
        return f"getvariable('{_variable(name)}')"

    def position(self) -> str:
        """Each source row's place in the scan (DuckDB's `row_number() OVER ()` keeps scan order;
        Spark's increasing id orders rows the same way without a global sort)."""
        return "monotonically_increasing_id()" if self.is_spark else "row_number() OVER ()"

    @property
    def projection_keeps_order(self) -> bool:
        """A SELECT of one scan (no join, no ORDER BY) returns rows in scan order: DuckDB does so
        (`preserve_insertion_order`, on by default), so such a query needs no sort; Spark does not."""
        return not self.is_spark

    # --- types and text ------------------------------------------------------------------------
    @property
    def text_type(self) -> str:
        return "STRING" if self.is_spark else "VARCHAR"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS {self.text_type})"

    def try_double(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def try_timestamp(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS TIMESTAMP)"

    def chr(self, code: int) -> str:
        return f"chr({int(code)})"

    def strip(self, expr: str) -> str:
        """Python's `str.strip()`: every Unicode whitespace character off both ends."""
        chars = self.literal(PY_WHITESPACE)
        if self.is_spark:
            return f"trim(BOTH {chars} FROM {expr})"
        return f"trim({expr}, {chars})"

    def round_half_even(self, expr: str) -> str:
        """numpy's `round` (half to even), not SQL's usual half away from zero."""
        return f"bround({expr}, 0)" if self.is_spark else f"round_even({expr}, 0)"

    def quantile_linear(self, expr: str, q: float) -> str:
        """pandas' default (linear interpolation) quantile of the non-null values, as an aggregate."""
        fn = "percentile" if self.is_spark else "quantile_cont"
        return f"{fn}({expr}, {float(q)!r})"

    def format_year_month(self, ts_expr: str) -> str:
        if self.is_spark:
            return f"date_format({ts_expr}, 'yyyy-MM')"
        return f"strftime({ts_expr}, '%Y-%m')"

    def iso_seconds(self, ts_expr: str) -> str:
        """'YYYY-MM-DDTHH:MM:SS' of a timestamp (pandas `Timestamp.isoformat()` without fractions)."""
        if self.is_spark:
            return f"date_format({ts_expr}, \"yyyy-MM-dd'T'HH:mm:ss\")"
        return f"strftime({ts_expr}, '%Y-%m-%dT%H:%M:%S')"

    def microsecond(self, ts_expr: str) -> str:
        """The sub-second part of a timestamp in microseconds (0..999999)."""
        if self.is_spark:
            return f"pmod(unix_micros({ts_expr}), 1000000)"
        return f"(microsecond({ts_expr}) % 1000000)"

    def double_text(self, expr: str) -> str:
        """Python's `repr(float)` of a finite or infinite double (shortest round-trip digits).

        DuckDB's cast already writes it ('0.1', '1.5e-05', 'inf'); Spark writes Java's form
        ('1.5E-5', 'Infinity'), rewritten here for the exponent and infinities.
        """
        if not self.is_spark:
            return f"CAST({expr} AS VARCHAR)"
        text = f"CAST({expr} AS STRING)"
        mantissa = f"regexp_extract({text}, '^(-?[0-9.]+)E(-?)([0-9]+)$', 1)"
        sign = f"regexp_extract({text}, '^(-?[0-9.]+)E(-?)([0-9]+)$', 2)"
        digits = f"regexp_extract({text}, '^(-?[0-9.]+)E(-?)([0-9]+)$', 3)"
        clean = f"regexp_replace({mantissa}, '\\\\.0$', '')"
        exponent = f"concat('e', CASE WHEN {sign} = '-' THEN '-' ELSE '+' END, lpad({digits}, 2, '0'))"
        return (
            f"CASE WHEN {expr} = double('infinity') THEN 'inf' WHEN {expr} = double('-infinity') THEN '-inf'"
            f" WHEN {text} LIKE '%E%' THEN concat({clean}, {exponent}) ELSE {text} END"
        )

    def json_string(self, expr: str) -> str:
        """`json.dumps(text, ensure_ascii=False)` of a string: quotes, backslashes and control
        characters escaped as Python writes them (lower-case hex), everything else as is."""
        backslash, quote = "\\", '"'
        slashed = f"replace({expr}, {self.literal(backslash)}, {self.literal(backslash * 2)})"
        common = f"replace({slashed}, {self.literal(quote)}, {self.literal(backslash + quote)})"
        escaped = common
        for code in range(32):
            escape = _SHORT_ESCAPES.get(code, f"\\u{code:04x}")
            escaped = f"replace({escaped}, {self.chr(code)}, {self.literal(escape)})"
        control = (
            f"{expr} RLIKE '[\\\\x00-\\\\x1f]'"
            if self.is_spark
            else f"regexp_matches({expr}, '[\\x00-\\x1f]')"
        )
        return f"concat('\"', CASE WHEN {control} THEN {escaped} ELSE {common} END, '\"')"

    # --- bytes and hashing ---------------------------------------------------------------------
    def utf8(self, text_expr: str) -> str:
        """A string's UTF-8 bytes."""
        return f"encode({text_expr}, 'UTF-8')" if self.is_spark else f"encode({text_expr})"

    def unhex(self, hex_expr: str) -> str:
        return f"unhex({hex_expr})"

    def concat_bytes(self, *exprs: str) -> str:
        if self.is_spark:
            return f"concat({', '.join(exprs)})"
        return "(" + " || ".join(exprs) + ")"

    def sha256_hex(self, bytes_expr: str) -> str:
        """SHA-256 of bytes, as 64 lower-case hex digits."""
        return f"sha2({bytes_expr}, 256)" if self.is_spark else f"sha256({bytes_expr})"

    def hmac_sha256_hex(self, ipad_param: str, opad_param: str, message_bytes: str) -> str:
        """HMAC-SHA256 as 64 lower-case hex digits: H((K^opad) || H((K^ipad) || m)), the two padded
        keys being parameters (hex) computed in Python (`hmac_pads`): the key never enters the SQL."""
        ipad, opad = self.unhex(self.param(ipad_param)), self.unhex(self.param(opad_param))
        inner = self.unhex(self.sha256_hex(self.concat_bytes(ipad, message_bytes)))
        return self.sha256_hex(self.concat_bytes(opad, inner))

    # --- dp_mst's counting (lib.synthesize.dp_counting_sql) -------------------------------------
    def days_since_epoch(self, column: str) -> str:
        """Days since 1970-01-01 of a DATE column."""
        if self.is_spark:
            return f"unix_date({column})"
        return f"datediff('day', DATE '1970-01-01', {column})"

    def epoch_seconds(self, column: str) -> str:
        """Seconds since the epoch of a TIMESTAMP column, as a DOUBLE."""
        if self.is_spark:  # micros / 1e6 in double arithmetic, the division DuckDB's epoch() does
            return f"(unix_micros(CAST({column} AS TIMESTAMP)) / 1e6)"
        return f"epoch({column})"

    def list_index(self, items: list[str], value: str, missing: int) -> str:
        """The 0-based position of `value` in a list of string literals, `missing` when absent."""
        if self.is_spark:  # array_position is 1-based and 0 (not NULL) when absent
            return f"coalesce(nullif(array_position(array({', '.join(items)}), {value}), 0) - 1, {missing})"
        return f"coalesce(list_position([{', '.join(items)}], {value}) - 1, {missing})"

    def is_three_digits(self, value: str) -> str:
        """True when `value` is exactly three ASCII digits."""
        if self.is_spark:  # Java's `$` also matches before a final newline; `\z` is the true end
            return f"({value} RLIKE {self.literal('^[0-9]{3}' + chr(92) + 'z')})"
        return f"regexp_full_match({value}, '[0-9]{{3}}')"

    def clipped_floor(self, expr: str, low: int, high: int) -> str:
        """floor(expr) clipped to [low, high], as an integer-valued number.

        Spark's floor(DOUBLE) is a BIGINT, which turns NaN into 0; clipping first keeps NaN at the
        top cell as DuckDB does (least/greatest treat NaN as the largest value on both engines), and
        for every other value floor-then-clip and clip-then-floor agree because the bounds are integers.
        """
        if self.is_spark:
            return f"floor(least(greatest({expr}, {low}), {high}))"
        return f"least(greatest(floor({expr}), {low}), {high})"

    def sign(self, expr: str) -> str:
        """The sign of a DOUBLE, 0 for NaN (DuckDB's sign(NaN) is 0, Spark's is NaN)."""
        return f"nanvl(sign({expr}), 0)" if self.is_spark else f"sign({expr})"

    @property
    def grouping(self) -> str:
        """The GROUPING SETS bit-mask function (the first argument the highest bit) on this engine."""
        return "grouping_id" if self.is_spark else "GROUPING"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")
#: The engines the builders render for, by name.
DIALECTS = {"duckdb": DUCKDB, "spark": SPARK}


def hmac_pads(key: bytes) -> tuple[str, str]:
    """(K ^ ipad, K ^ opad) in hex for HMAC-SHA256 (RFC 2104, 64-byte blocks; longer keys hashed first)."""
    import hashlib

    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def _variable(name: str) -> str:
    return f"synth_param_{name}"


@contextmanager
def bind_duckdb(con, params: Mapping[str, str]) -> Iterator[None]:
    """Make a builder's parameters visible to DuckDB SQL on this connection (session variables set
    through prepared parameters), and forget them afterwards."""
    for name, value in params.items():
        con.execute(f"SET VARIABLE {_variable(name)} = $1", [value])
    try:
        yield
    finally:
        for name in params:
            con.execute(f"RESET VARIABLE {_variable(name)}")
