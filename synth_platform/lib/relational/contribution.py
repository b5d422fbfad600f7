"""Bounding each person's contribution, and the per-person sensitivity that follows.

Why: differential privacy for related tables must hold for a *person*, who contributes one row
to the person table and any number of rows to the others. An unbounded number of rows per person
means unbounded sensitivity; so every foreign key gets a bound k (at most k children per parent,
declared as `max_children` or chosen under DP, `dp_choose_bound`), rows beyond it are dropped
deterministically (keyed order, so the same data always keeps the same rows) and counted, and the
noise of every measurement is scaled to the most rows one person can then move.

Attribution: every row belongs to exactly one person
    - a person-table row to itself;
    - a child row (one foreign key to its owner parent) to the person of its parent;
    - an entity owned through the link table (an account) to its *owner*: the holder with the
      smallest pseudonymised key among all its link rows (keyed, so not a data-revealing order);
    - a link row to the owner of its entity (the list of an account's holders is part of the
      account); its side key may name another person, a *co-holder*.

Neighbouring relation (the unit ε protects)
    Two schema instances D, D' are neighbours when D' is D plus one person and every row
    attributed to that person in D' (their person row, the entities they own with all those
    entities' link rows, and every descendant row). Link rows attributed to other people are
    untouched, so a co-holder reference to the added person may exist in D as a bare key; the
    synthesizer reads co-holders only as a *count per entity* (part of the owner's data), never
    who they are, and never a person's number of co-holdings.

Why the bounding keeps neighbours neighbours (stability)
    Each cap is applied inside one person's attributed rows: children per parent (the parent and
    its children belong to one person), owned entities per owner row, holders per entity (the
    owner's row first, then co-holders in keyed order). Ownership is the minimum holder key, which
    the added person's rows cannot change for an entity they do not own. So the bounded D and D'
    differ exactly by the added person's bounded rows, at most `multiplicity[t]` rows of table t:

        m(person) = 1
        m(child t of parent p, bound k)          = m(p) * k
        m(entity e owned via link side s, k_s)    = m(s) * k_s
        m(link, holders per entity k_e)           = m(e) * k_e

Sensitivity per measurement (L2; the worst case puts all of a person's rows in one cell)
    - a model over table t's rows (dp_mst): group privacy, rho_person = m(t)^2 * rho_row;
    - a histogram of children per parent of t (one entry per parent row): m(parent);
    - a histogram of owned entities per side row: m(side); of holders per entity: m(entity).
    A Gaussian with standard deviation sigma on a query of sensitivity Δ costs Δ^2 / (2 sigma^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership
from synth_platform.lib.storage.sql_dialect import DUCKDB

PERSON = "__person"  # the person a row is attributed to (a pseudonymised key)
PARENT = "__parent"  # for the entity table: its owner's side key
OWNER = "__owner"  # for the link table: true on the owner's row
HOLDER_PERSON = "__holder_person"  # for the link table: the person of the side key (co-holder)
HELPER_COLUMNS = (PERSON, PARENT, OWNER, HOLDER_PERSON)
#: Public grid a bound is chosen from when it is not declared.
BOUND_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 80, 100, 128, 160, 200, 256)
BOUND_QUANTILE = 0.95


@dataclass
class BoundReport:
    """What bounding did: rows kept, dropped over a bound, dropped because their parent was
    missing or dropped (cascade), the bounds used and each table's rows-per-person multiplicity.
    Exact counts of real rows: restricted evidence, not for public metadata."""

    kept: dict[str, int] = field(default_factory=dict)
    dropped_over_bound: dict[str, int] = field(default_factory=dict)
    dropped_cascade: dict[str, int] = field(default_factory=dict)
    bounds: dict[str, int] = field(default_factory=dict)
    multiplicity: dict[str, int] = field(default_factory=dict)


def q(name: str) -> str:
    return DUCKDB.quote(name)


def required_bounds(spec: SchemaSpec) -> dict[str, int | None]:
    """table -> its declared bound k along its owner key (None: to be chosen under DP). For the
    link table the bound is owned entities per side row; for the entity, holders per entity."""
    own = ownership(spec)
    out: dict[str, int | None] = {}
    for table in own.order[1:]:
        fk = own.owner_fk[table]
        out[table] = fk.max_children
    return out


def multiplicities(spec: SchemaSpec, bounds: dict[str, int], upto: str | None = None) -> dict[str, int]:
    """Most rows one person can have in each modelled table after bounding (module docstring);
    with `upto`, only the tables up to that one in ownership order (the rest may lack bounds)."""
    own = ownership(spec)
    m = {spec.person: 1}
    for table in own.order[1:]:
        if upto is not None and upto in m:
            break
        if own.link is not None and table == own.link.table:
            continue  # after its entity
        if own.link is not None and table == own.link.entity.parent_table:
            m[table] = m[own.link.side.parent_table] * bounds[own.link.table]
            m[own.link.table] = m[table] * bounds[table]
            continue
        m[table] = m[own.owner_fk[table].parent_table] * bounds[table]
    return m


def gaussian_sigma(sensitivity: float, rho: float) -> float:
    """Standard deviation so that a query of L2 sensitivity `sensitivity` costs `rho` (zCDP)."""
    return sensitivity / math.sqrt(2.0 * rho)


def row_rho(rho_person: float, multiplicity: int) -> float:
    """The per-row rho to give a row-level mechanism so that it is `rho_person`-zCDP per person
    (zCDP group privacy: a rho-zCDP mechanism is m^2 rho-zCDP for groups of m rows)."""
    return rho_person / float(multiplicity) ** 2


def dp_choose_bound(
    children_per_parent: dict[int, int], sensitivity: int, rho: float, rng: np.random.Generator
) -> int:
    """A bound k from the public grid: the smallest grid value whose noisy share of parents with
    at most k children reaches `BOUND_QUANTILE`. Counts are bucketed on the grid, noised with
    sensitivity `sensitivity` (one entry per parent row a person has) at `rho`."""
    grid = np.array(BOUND_GRID)
    cells = np.zeros(len(grid) + 1)
    for children, parents in children_per_parent.items():
        cells[int(np.searchsorted(grid, children, side="left"))] += parents
    noisy = cells + rng.normal(0.0, gaussian_sigma(sensitivity, rho), cells.size)
    if noisy.sum() <= 0:
        return int(grid[0])
    # the unclipped noisy cumulative: zero-mean noise in the empty high cells cancels out, where
    # clipping (or a projection) would leave its positive part there and push the bound up
    share = np.cumsum(noisy) / noisy.sum()
    index = int(np.flatnonzero(share >= BOUND_QUANTILE)[0])
    return int(grid[min(index, len(grid) - 1)])


def simplex_shares(noisy: np.ndarray) -> np.ndarray:
    """Shares from a noisy histogram: the nearest non-negative vector with the same (noisy) total
    (Euclidean projection onto the simplex). Clipping alone would hand every empty cell its positive
    noise and fatten the tail of children-per-parent; the projection takes a common amount off
    every cell first. Post-processing only."""
    total = max(float(noisy.sum()), 1e-9)
    ordered = np.sort(noisy)[::-1]
    cumulative = np.cumsum(ordered) - total
    index = np.arange(1, noisy.size + 1)
    rho = int(np.flatnonzero(ordered - cumulative / index > 0)[-1])
    theta = cumulative[rho] / (rho + 1)
    projected = np.maximum(noisy - theta, 0.0)
    return projected / projected.sum() if projected.sum() > 0 else np.full(noisy.size, 1.0 / noisy.size)


def children_per_parent_counts(con, parent_rel: str, parent_key: str, child_rel: str, child_fk: str) -> dict:
    """Exact histogram {children: parents} (parents with none included): input of a DP choice."""
    rows = con.execute(
        f"SELECT coalesce(c.n, 0) AS n, count(*) FROM {parent_rel} p LEFT JOIN (SELECT {q(child_fk)} AS k, "
        f"count(*) AS n FROM {child_rel} GROUP BY 1) c ON p.{q(parent_key)} = c.k GROUP BY 1"
    ).fetchall()
    return {int(n): int(c) for n, c in rows}


def _count(con, relation: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0])


def _row_hash(alias: str) -> str:
    """A deterministic order of rows: the MD5 of the row's text (keys in it are already keyed
    pseudonyms, so the order reveals nothing beyond the row itself)."""
    return f"md5(CAST({alias} AS VARCHAR))"


def bound_contributions(
    con,
    spec: SchemaSpec,
    relations: dict[str, str],
    schema: str,
    bounds: dict[str, int | None],
    choose=None,
) -> tuple[dict[str, str], BoundReport]:
    """Bounded copies of the modelled tables in DuckDB schema `schema` (lookups passed through),
    each with a `__person` column (the person the row is attributed to), plus `__parent` on the
    entity and `__owner` / `__holder_person` on the link table. `bounds`: table -> k; a child
    table's k may be None when `choose(table, children_per_parent, sensitivity)` is given: it is
    then chosen (under DP, by the caller's mechanism) from the bounded parent's children counts.
    The link table's two bounds must be given."""
    own = ownership(spec)
    bounds = dict(bounds)
    if own.link is not None and (
        bounds.get(own.link.table) is None or bounds.get(own.link.entity.parent_table) is None
    ):
        raise ValueError(
            f"link table {own.link.table!r}: declare max_children on both of its foreign keys "
            "(owned entities per person-side row, and holders per entity)"
        )
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
    out = {name: relations[name] for name in spec.lookups}
    report = BoundReport()

    def target(name: str) -> str:
        return f"{q(schema)}.{q(name)}"

    person = spec.tables[spec.person]
    pk = person.primary_key
    src = relations[spec.person]
    if pk is None:
        sql = f"SELECT *, CAST(row_number() OVER () AS VARCHAR) AS {PERSON} FROM {src}"
    else:
        sql = (
            f"SELECT *, {q(pk)} AS {PERSON} FROM {src} t WHERE {q(pk)} IS NOT NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {q(pk)} ORDER BY {_row_hash('t')}) = 1"
        )
    con.execute(f"CREATE OR REPLACE TABLE {target(spec.person)} AS {sql}")
    out[spec.person] = target(spec.person)
    report.kept[spec.person] = _count(con, out[spec.person])
    report.dropped_over_bound[spec.person] = _count(con, src) - report.kept[spec.person]
    report.dropped_cascade[spec.person] = 0

    for name in own.order[1:]:
        if own.link is not None and name == own.link.entity.parent_table:
            continue  # written with the link table
        if own.link is not None and name == own.link.table:
            _bound_link(con, spec, relations, out, report, target, bounds)
            continue
        fk = own.owner_fk[name]
        parent_pk = spec.tables[fk.parent_table].primary_key
        table_pk = spec.tables[name].primary_key
        if bounds.get(name) is None:
            if choose is None:
                raise ValueError(f"no bound for table {name!r}: declare max_children on {fk.column}")
            counts = children_per_parent_counts(
                con, out[fk.parent_table], parent_pk, relations[name], fk.child_column
            )
            sensitivity = multiplicities(spec, bounds, upto=fk.parent_table)[fk.parent_table]
            bounds[name] = int(choose(name, counts, sensitivity))
        dedupe = (
            f"QUALIFY row_number() OVER (PARTITION BY t.{q(table_pk)} ORDER BY {_row_hash('t')}) = 1"
            if table_pk
            else ""
        )
        sql = (
            f"WITH j AS (SELECT t.*, p.{PERSON} AS {PERSON} FROM {relations[name]} t "
            f"JOIN {out[fk.parent_table]} p "
            f"ON t.{q(fk.child_column)} = p.{q(parent_pk)} {dedupe}) "
            f"SELECT * FROM j QUALIFY row_number() OVER (PARTITION BY {q(fk.child_column)} "
            f"ORDER BY {_row_hash('j')}) <= {int(bounds[name])}"
        )
        joined = _count(
            con,
            f"(SELECT 1 FROM {relations[name]} t JOIN {out[fk.parent_table]} p "
            f"ON t.{q(fk.child_column)} = p.{q(parent_pk)})",
        )
        con.execute(f"CREATE OR REPLACE TABLE {target(name)} AS {sql}")
        out[name] = target(name)
        report.kept[name] = _count(con, out[name])
        report.dropped_cascade[name] = _count(con, relations[name]) - joined
        report.dropped_over_bound[name] = joined - report.kept[name]
    report.bounds = bounds
    report.multiplicity = multiplicities(spec, bounds)
    return out, report


def _bound_link(con, spec, relations, out, report, target, bounds) -> None:
    """The link table and its entity: owner = smallest side key among an entity's holders that
    resolve to a (bounded) side row; at most k_s owned entities per side row (keyed order), at most
    k_e holders per entity (owner first, then keyed order). A co-holder row whose side key resolves
    nowhere is kept (it is the owner's data, counted as a holder): dropping it would let one
    person's absence change another person's entity, which the neighbouring relation excludes."""
    link = ownership(spec).link
    s, e = q(link.side.child_column), q(link.entity.child_column)
    side_pk = q(spec.tables[link.side.parent_table].primary_key)
    entity = link.entity.parent_table
    entity_pk = q(spec.tables[entity].primary_key)
    k_s, k_e = int(bounds[link.table]), int(bounds[entity])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __link_resolved AS "
        f"SELECT l.*, sp.{PERSON} AS {HOLDER_PERSON} FROM {relations[link.table]} l "
        f"LEFT JOIN {out[link.side.parent_table]} sp ON l.{s} = sp.{side_pk} "
        f"WHERE l.{s} IS NOT NULL AND l.{e} IN (SELECT {entity_pk} FROM {relations[entity]}) "
        f"QUALIFY row_number() OVER (PARTITION BY l.{s}, l.{e} ORDER BY {_row_hash('l')}) = 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __owned AS "
        f"WITH own AS (SELECT {e} AS e, min({s}) FILTER (WHERE {HOLDER_PERSON} IS NOT NULL) AS owner "
        f"FROM __link_resolved GROUP BY 1 HAVING owner IS NOT NULL) "
        f"SELECT e, owner FROM own QUALIFY row_number() OVER (PARTITION BY owner "
        f"ORDER BY md5(CAST(e AS VARCHAR)), e) <= {k_s}"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {target(link.table)} AS "
        f"WITH lk AS (SELECT l.*, l.{s} = o.owner AS {OWNER}, sp.{PERSON} AS {PERSON} FROM __link_resolved l "
        f"JOIN __owned o ON l.{e} = o.e JOIN {out[link.side.parent_table]} sp ON sp.{side_pk} = o.owner) "
        f"SELECT * FROM lk QUALIFY row_number() OVER (PARTITION BY {e} ORDER BY {OWNER} DESC, "
        f"md5(CAST({s} AS VARCHAR)), {s}) <= {k_e}"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {target(entity)} AS "
        f"SELECT x.*, l.{s} AS {PARENT}, l.{PERSON} AS {PERSON} FROM {relations[entity]} x "
        f"JOIN {target(link.table)} l ON x.{entity_pk} = l.{e} AND l.{OWNER} "
        f"QUALIFY row_number() OVER (PARTITION BY x.{entity_pk} ORDER BY {_row_hash('x')}) = 1"
    )
    out[link.table], out[entity] = target(link.table), target(entity)
    resolved = _count(con, "__link_resolved")
    owned_all = _count(con, f"(SELECT DISTINCT {e} FROM __link_resolved)")
    for name, total, reachable in (
        (link.table, _count(con, relations[link.table]), None),
        (entity, _count(con, relations[entity]), owned_all),
    ):
        report.kept[name] = _count(con, out[name])
        if name == link.table:
            # over a bound: holders over an entity's cap, or rows of entities over an owner's cap
            report.dropped_cascade[name] = total - resolved
            report.dropped_over_bound[name] = resolved - report.kept[name]
        else:
            report.dropped_cascade[name] = total - reachable
            report.dropped_over_bound[name] = reachable - report.kept[name]
    con.execute("DROP TABLE IF EXISTS __link_resolved")
    con.execute("DROP TABLE IF EXISTS __owned")
