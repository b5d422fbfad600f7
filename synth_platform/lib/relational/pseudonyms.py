"""Keys pseudonymised consistently across the tables of a schema, in DuckDB SQL.

Why: a single-table chain pseudonymises its key per table, so `accounts.account_id` and
`transactions.account_id` would become unrelated strings and no join would survive masking. Here
every primary key of a modelled table defines a *key domain* (`accounts.account_id`), and every
foreign key referencing it is pseudonymised in that same domain: the same real key gives the same
pseudonym wherever it appears, so joins, the person split and contribution bounding work on masked
tables. The pseudonym is `masking_sql.pseudonym` (a keyed HMAC-SHA256 of the value's text form,
'ps_' + 24 hex digits); each domain has its own key, derived from the platform key and the
domain's name, so equal numbers in two domains (person 7, account 7) do not get equal pseudonyms.
Keys of public lookup tables (and foreign keys to them) are public and left as they are.
The key reaches the engine only as HMAC pads in parameters, never in the SQL text.

Columns that are not keys and are declared `mask: pseudonymize` (a loyalty number, a customer's
own reference) are pseudonymised too, as in the single-table masking (`masking_sql`): each such
column is a *column domain* of its own (`table.column`), keyed by a key derived from the platform
key under a separate prefix, so no raw value of such a column stays in the masked schema, equal
values within a column stay equal (counts and joins on that column survive), and the same value in
two columns (or equal to a key) gets unrelated pseudonyms. Direct identifiers and `mask: drop`
columns are dropped as before (a direct identifier declared `mask: pseudonymize` is still dropped:
nothing downstream reads it, and the refill gives the output its shape).
"""

from __future__ import annotations

import hashlib
import hmac

from synth_platform.lib.deidentify.masking_sql import duckdb_column_kinds, pseudonym
from synth_platform.lib.relational.schema_spec import SchemaSpec
from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb, hmac_pads

DIRECT = ("direct_identifier",)


def key_domains(spec: SchemaSpec) -> dict[tuple[str, str], str]:
    """(table, column) -> key domain `parent.primary_key`, for every key to pseudonymise."""
    lookups = set(spec.lookups)
    domains: dict[tuple[str, str], str] = {}
    for name, table in spec.tables.items():
        if name not in lookups and table.primary_key is not None:
            domains[name, table.primary_key] = f"{name}.{table.primary_key}"
    for fk in spec.foreign_keys:
        if fk.parent_table not in lookups:
            domains[fk.child_table, fk.child_column] = fk.references
    return domains


def domain_key(secret: bytes, schema: str, domain: str) -> bytes:
    """One HMAC key per key domain, derived from the platform key (domain separation)."""
    return hmac.new(secret, f"relational-key|{schema}|{domain}".encode(), hashlib.sha256).digest()


def column_domains(spec: SchemaSpec) -> dict[tuple[str, str], str]:
    """(table, column) -> column domain `table.column`, for every `mask: pseudonymize` column that
    is neither a key (`key_domains`) nor dropped: one pseudonym space per column."""
    keys = key_domains(spec)
    domains: dict[tuple[str, str], str] = {}
    for name, table in spec.tables.items():
        dropped = set(dropped_columns(spec, name))
        for column, declared in table.columns.items():
            if declared.mask == "pseudonymize" and (name, column) not in keys and column not in dropped:
                domains[name, column] = f"{name}.{column}"
    return domains


def column_key(secret: bytes, schema: str, domain: str) -> bytes:
    """One HMAC key per column domain, separated from the key domains by its own prefix (a column
    `people.ref` and a key domain of the same name never share a key)."""
    return hmac.new(secret, f"relational-column|{schema}|{domain}".encode(), hashlib.sha256).digest()


def dropped_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Direct identifiers and `mask: drop` columns that are not keys: they never leave masking."""
    keys = {c for (t, c) in key_domains(spec) if t == table}
    return [
        name
        for name, column in spec.tables[table].columns.items()
        if name not in keys
        and (column.mask == "drop" or (column.pii is not None and column.pii.pii_class in DIRECT))
    ]


def pseudonym_select(
    spec: SchemaSpec, table: str, relation: str, kinds: dict[str, str], secret: bytes
) -> tuple[str, dict[str, str]]:
    """SELECT of `table` with its keys and `mask: pseudonymize` columns pseudonymised and direct
    identifiers dropped, and its params (HMAC pads)."""
    domains = key_domains(spec)
    columns = column_domains(spec)
    dropped = set(dropped_columns(spec, table))
    params: dict[str, str] = {}
    parts = []
    for i, column in enumerate(c for c in kinds if c not in dropped):
        quoted = DUCKDB.quote(column)
        if (table, column) in domains:
            key = domain_key(secret, spec.name, domains[table, column])
        elif (table, column) in columns:
            key = column_key(secret, spec.name, columns[table, column])
        else:
            parts.append(quoted)
            continue
        ipad, opad = hmac_pads(key)
        params[f"k{i}_ipad"], params[f"k{i}_opad"] = ipad, opad
        parts.append(f"{pseudonym(quoted, kinds[column], DUCKDB, f'k{i}_ipad', f'k{i}_opad')} AS {quoted}")
    return f"SELECT {', '.join(parts)} FROM {relation}", params


def pseudonymise(
    con, spec: SchemaSpec, relations: dict[str, str], secret: bytes, schema: str
) -> dict[str, str]:
    """Write every table to DuckDB schema `schema`: keys pseudonymised per key domain, `mask:
    pseudonymize` columns per column domain, direct identifiers dropped; lookups' keys kept.

    Returns table -> qualified relation of the pseudonymised table."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DUCKDB.quote(schema)}")
    out = {}
    for name in spec.tables:
        kinds = duckdb_column_kinds(con, relations[name])
        sql, params = pseudonym_select(spec, name, relations[name], kinds, secret)
        target = f"{DUCKDB.quote(schema)}.{DUCKDB.quote(name)}"
        with bind_duckdb(con, params):
            con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}")
        out[name] = target
    return out
