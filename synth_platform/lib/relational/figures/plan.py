"""The gate's plan: which figures a schema gets, their per-person sensitivities and their share
of the gate's rho. A function of the spec and the bounds only (declared, or chosen under DP):
public, known before any real row is read."""

from __future__ import annotations

import math

from synth_platform.lib.gate import bounded_figures as bf
from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.schema_spec import ForeignKey, SchemaSpec, ownership
from synth_platform.lib.relational.synthesis.columns import CATEGORICAL, model_columns

#: public weights of the gate's rho per figure kind (privacy attacks get most: thresholds are small)
RHO_WEIGHTS = {
    "holdout_people": 1.0,
    "children_per_parent": 0.5,
    "pair_trends": 0.5,
    "profile_exact_copies": 2.0,
    "profile_close_copies": 4.0,
    "table_quality": 0.5,
    "identifier_leaks": 2.0,
}
#: parent columns per pair-trend figure, child numbers per pair trend, bins of a child number
TREND_PARENT_COLUMNS = 2
TREND_NUMBERS = 2
TREND_BINS = 5


def _link_side(spec: SchemaSpec, fk: ForeignKey) -> bool:
    link = ownership(spec).link
    return link is not None and fk.column == link.side.column


def modelled_fks(spec: SchemaSpec) -> list[ForeignKey]:
    lookups = set(spec.lookups)
    return [
        fk for fk in spec.foreign_keys if fk.parent_table not in lookups and fk.child_table not in lookups
    ]


def children_bound(spec: SchemaSpec, fk: ForeignKey, bounds: dict[str, int]) -> int:
    """The bound k of children per parent along `fk` (buckets 0..k, then one beyond)."""
    own = ownership(spec)
    if own.link is not None and fk.column == own.link.side.column:
        return int(bounds[own.link.table])
    if own.link is not None and fk.column == own.link.entity.column:
        return int(bounds[own.link.entity.parent_table])
    return int(bounds[fk.child_table])


def holders_fk(spec: SchemaSpec, fk: ForeignKey) -> bool:
    """Is `fk` the link's entity key (its histogram: holders per original entity)?"""
    link = ownership(spec).link
    return link is not None and fk.column == link.entity.column


def children_sensitivity(
    spec: SchemaSpec, fk: ForeignKey, m: dict[str, int], bounds: dict[str, int]
) -> float:
    """L2 sensitivity of the children-per-parent histogram along `fk` (`contribution` docstring):
    one entry per parent row (or copy) of a person, m(parent) -- for the link's side a person's
    own holdings; holders per entity: each of a person's m(link) holdings moves one entity up a
    cell (or adds it), sqrt(2) m(link)."""
    if holders_fk(spec, fk):
        return contrib.HOLDERS_SENSITIVITY * m[ownership(spec).link.table]
    return float(m[fk.parent_table])


def trend_parent_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Category/boolean model columns of a parent a pair trend is read on (spec order)."""
    columns = spec.tables[table].columns
    return [
        c
        for c in model_columns(spec, table)
        if columns[c].type in CATEGORICAL or columns[c].type == "boolean"
    ][:TREND_PARENT_COLUMNS]


def trend_child_numbers(spec: SchemaSpec, table: str) -> list[str]:
    columns = spec.tables[table].columns
    return [c for c in model_columns(spec, table) if columns[c].type in ("integer", "float")][:TREND_NUMBERS]


def gate_plan(spec: SchemaSpec, bounds: dict[str, int], leaks: bool = False) -> dict[str, dict]:
    """Every noisy figure, its kind, its per-person sensitivity and how many figures it decides.
    A function of the spec and the bounds only (declared, or chosen under DP): public. `leaks`:
    with the identifier-leak figure of every table with refilled identifiers (`figures/leaks.py`;
    the gate reads the raw tables for it)."""
    m = contrib.multiplicities(spec, bounds)
    plan: dict[str, dict] = {"holdout_people": {"kind": "holdout_people", "sensitivity": 1.0, "figures": 0}}
    for fk in modelled_fks(spec):
        plan[f"children_per_parent:{fk.column}"] = {
            "kind": "children_per_parent",
            "fk": fk,
            "sensitivity": float(children_sensitivity(spec, fk, m, bounds)),
            "figures": 1,
        }
    for fk in modelled_fks(spec):
        parents = trend_parent_columns(spec, fk.parent_table)
        if _link_side(spec, fk) or not parents:
            continue
        tables = len(parents) * (1 + len(trend_child_numbers(spec, fk.child_table)))
        # one entry per parent row of a person; holders per entity: each of a person's m(link)
        # holdings moves one entity's entry (its holders and link means) in every table
        per_table = children_sensitivity(spec, fk, m, bounds)
        plan[f"pair_trends:{fk.column}"] = {
            "kind": "pair_trends",
            "fk": fk,
            "sensitivity": float(per_table * math.sqrt(tables)),
            "figures": 1,
        }
    for table in spec.modelled:
        columns = model_columns(spec, table)
        if not columns:
            continue
        plan[f"table_quality:{table}"] = {
            "kind": "table_quality",
            "table": table,
            # one person: m(t) rows, each in one cell of each of the C marginals (figures/marginals.py)
            "sensitivity": float(m[table] * math.sqrt(len(columns))),
            "figures": 1,
        }
    if leaks:
        from synth_platform.lib.relational.figures.leaks import leak_sensitivity, leak_tables

        for table, columns in leak_tables(spec).items():
            plan[f"identifier_leaks:{table}"] = {
                "kind": "identifier_leaks",
                "table": table,
                "columns": columns,
                "sensitivity": leak_sensitivity(spec, table, m, bounds),
                "figures": 1,
            }
    plan["profile_exact_copies"] = {"kind": "profile_exact_copies", "sensitivity": "1/m", "figures": 1}
    plan["profile_close_copies"] = {
        "kind": "profile_close_copies",
        "sensitivity": f"sqrt({len(bf.CLOSE_CUTS)})/m",
        "figures": len(bf.CLOSE_CUTS),
    }
    weights = {name: RHO_WEIGHTS[p["kind"]] for name, p in plan.items()}
    total = sum(weights.values())
    for name, p in plan.items():
        p["weight"] = weights[name] / total
    return plan
