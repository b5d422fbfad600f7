"""Synthetic rows attributed to synthetic people, by the rule the real side uses
(`contribution`): what the joined profiles of the synthetic side are built from."""

from __future__ import annotations

from synth_platform.lib.relational.contribution import PERSON, q
from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership


def attribute_synthetic(con, spec: SchemaSpec, relations: dict[str, str], schema: str) -> dict[str, str]:
    """Copies of the synthetic modelled tables with `__person`, by the rule the real side uses
    (`contribution`): a person row to itself, a child to its parent's person, a link row to its
    side row's person, and an entity (with its descendants) to each of its holders -- one copy
    per holding, as the real side is bounded. Synthetic only: free."""
    own = ownership(spec)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
    out: dict[str, str] = {}

    def target(name: str) -> str:
        return f"{q(schema)}.{q(name)}"

    pk = spec.tables[spec.person].primary_key
    person_key = q(pk) if pk else "row_number() OVER ()"
    con.execute(
        f"CREATE OR REPLACE TABLE {target(spec.person)} AS "
        f"SELECT *, CAST({person_key} AS VARCHAR) AS {PERSON} FROM {relations[spec.person]}"
    )
    out[spec.person] = target(spec.person)
    for name in own.order[1:]:
        if own.link is not None and name == own.link.entity.parent_table:
            continue
        if own.link is not None and name == own.link.table:
            side, entity = own.link.side, own.link.entity
            side_pk = q(spec.tables[side.parent_table].primary_key)
            entity_pk = q(spec.tables[entity.parent_table].primary_key)
            con.execute(
                f"CREATE OR REPLACE TABLE {target(name)} AS SELECT l.*, sp.{PERSON} AS {PERSON} "
                f"FROM {relations[name]} l JOIN {out[side.parent_table]} sp "
                f"ON l.{q(side.child_column)} = sp.{side_pk}"
            )
            con.execute(
                f"CREATE OR REPLACE TABLE {target(entity.parent_table)} AS "
                f"SELECT x.*, l.{PERSON} AS {PERSON} FROM {relations[entity.parent_table]} x "
                f"JOIN (SELECT DISTINCT {q(entity.child_column)} AS e, {PERSON} FROM {target(name)}) l "
                f"ON x.{entity_pk} = l.e"
            )
            out[name], out[entity.parent_table] = target(name), target(entity.parent_table)
            continue
        fk = own.owner_fk[name]
        parent_pk = q(spec.tables[fk.parent_table].primary_key)
        con.execute(
            f"CREATE OR REPLACE TABLE {target(name)} AS SELECT t.*, p.{PERSON} AS {PERSON} "
            f"FROM {relations[name]} t JOIN {out[fk.parent_table]} p "
            f"ON t.{q(fk.child_column)} = p.{parent_pk}"
        )
        out[name] = target(name)
    return out
