"""Standard Dagster table metadata (schema, row count, column lineage) for a frame.

Only structure and counts go into metadata, never cell values.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import pandas as pd


def column_schema(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(name), type=str(dtype), description=descriptions.get(str(name)))
            for name, dtype in frame.dtypes.items()
        ]
    )


def column_lineage(columns: Mapping[str, list[tuple[dg.AssetKey, str]]]) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(
        deps_by_column={
            column: [dg.TableColumnDep(asset_key=key, column_name=source) for key, source in deps]
            for column, deps in columns.items()
        }
    )


def identity_lineage(frame: pd.DataFrame, upstream: dg.AssetKey) -> dg.TableColumnLineage:
    return column_lineage({str(c): [(upstream, str(c))] for c in frame.columns})


def table_metadata(
    frame: pd.DataFrame,
    lineage: dg.TableColumnLineage | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> dict:
    metadata = {
        "dagster/column_schema": column_schema(frame, descriptions),
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
    }
    if lineage is not None:
        metadata["dagster/column_lineage"] = lineage
    return metadata


def records_table(rows: list[dict]) -> dg.TableMetadataValue:
    """A list of flat dicts as a UI table (for reports that hold no raw values)."""
    if not rows:
        return dg.MetadataValue.table(records=[], schema=dg.TableSchema(columns=[]))
    columns = list(rows[0])
    records = [dg.TableRecord({k: _plain(row[k]) for k in columns}) for row in rows]
    schema = dg.TableSchema(columns=[dg.TableColumn(name=c, type=_kind(rows[0][c])) for c in columns])
    return dg.MetadataValue.table(records=records, schema=schema)


def _plain(value):
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, float) and value != value:  # NaN
            return None
        return value
    return str(value)


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


def warehouse_column_schema(
    con, schema: str, table: str, descriptions: Mapping[str, str] | None = None
) -> dg.TableSchema:
    """The column schema of a warehouse table from DuckDB's catalogue: no row is read."""
    descriptions = descriptions or {}
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=kind, description=descriptions.get(name)) for name, kind in rows
        ]
    )


def warehouse_table_metadata(
    con,
    schema: str,
    table: str,
    lineage: dg.TableColumnLineage | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> dict:
    """`table_metadata` for a table that stays in the warehouse (large tables never reach pandas)."""
    rows = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
    metadata = {
        "dagster/column_schema": warehouse_column_schema(con, schema, table, descriptions),
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
    }
    if lineage is not None:
        metadata["dagster/column_lineage"] = lineage
    return metadata


def warehouse_identity_lineage(con, schema: str, table: str, upstream: dg.AssetKey) -> dg.TableColumnLineage:
    """Each column of a warehouse table derived from the same-named column upstream."""
    names = [c.name for c in warehouse_column_schema(con, schema, table).columns]
    return column_lineage({name: [(upstream, name)] for name in names})
