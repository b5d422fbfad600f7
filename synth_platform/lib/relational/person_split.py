"""The train/holdout split by person: a person and every row attributed to them on one side.

Why: the release gate compares synthetic data with people the model never saw. With related
tables a row-level split would put a person's account in train and their transactions in the
holdout, so the holdout would leak into training through the joins and the gate's attacks on a
person's joined profile would be meaningless. Here a row's side is decided by the person it is
attributed to (`__person`, written by `contribution.bound_contributions`): an HMAC under the
split key (`split_sql.split_params`: platform key, seed) of ``person|`` + that person's
pseudonymised key, compared with the holdout fraction as in `split_sql` -- so adding or removing
a person moves no other person between sides.

Link rows follow the person of their side key, and under the link's entity every holding has
its own copy of the entity and its descendants (`contribution`), so each side is exactly the
bounding of its own people's rows. An entity held by people on both sides has a copy on each:
those entities are counted (`cross_side_references`) -- restricted evidence of how much the
holdout shares with the training side through joint accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synth_platform.lib.relational.contribution import ENTITY, PERSON, q
from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership
from synth_platform.lib.storage.sql_dialect import DUCKDB, bind_duckdb
from synth_platform.lib.synthesize.split_sql import holdout_threshold, split_params


@dataclass
class PersonSplit:
    """Qualified relations per side, and counts (restricted evidence: exact)."""

    train: dict[str, str] = field(default_factory=dict)
    holdout: dict[str, str] = field(default_factory=dict)
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    cross_side_references: int = 0


def holdout_flag_sql(fraction: float) -> str:
    """SQL true when the row's person is in the holdout (parameters: split_ipad, split_opad)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("holdout fraction must be between 0 and 1")
    message = DUCKDB.utf8(f"concat('person|', CAST({PERSON} AS VARCHAR))")
    digest = DUCKDB.hmac_sha256_hex("split_ipad", "split_opad", message)
    return f"(substr({digest}, 1, 16) < '{holdout_threshold(fraction):016x}')"


def split_by_person(
    con,
    spec: SchemaSpec,
    bounded: dict[str, str],
    secret: bytes,
    train_schema: str,
    holdout_schema: str,
    fraction: float | None = None,
    seed: int | None = None,
) -> PersonSplit:
    """Write train and holdout copies of every modelled table; lookups are public and on both."""
    fraction = spec.split.holdout_fraction if fraction is None else fraction
    seed = spec.split.seed if seed is None else seed
    flag = holdout_flag_sql(fraction)
    result = PersonSplit()
    for schema in (train_schema, holdout_schema):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
    with bind_duckdb(con, split_params(secret, seed)):
        for name in ownership(spec).order:
            counts = []
            for schema, holdout, side in (
                (train_schema, False, result.train),
                (holdout_schema, True, result.holdout),
            ):
                target = f"{q(schema)}.{q(name)}"
                condition = flag if holdout else f"NOT {flag}"
                con.execute(
                    f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {bounded[name]} WHERE {condition}"
                )
                side[name] = target
                counts.append(int(con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]))
            result.rows[name] = (counts[0], counts[1])
    for name in spec.lookups:
        result.train[name] = result.holdout[name] = bounded[name]
    link = ownership(spec).link
    if link is not None:
        result.cross_side_references = int(
            con.execute(
                f"SELECT count(*) FROM (SELECT {ENTITY} FROM {result.train[link.table]} INTERSECT "
                f"SELECT {ENTITY} FROM {result.holdout[link.table]})"
            ).fetchone()[0]
        )
    return result
