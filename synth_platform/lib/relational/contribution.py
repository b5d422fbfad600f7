"""Bounding each person's contribution, and the per-person sensitivity that follows.

Why: differential privacy for related tables must hold for a *person*, who contributes one row
to the person table and any number of rows to the others. An unbounded number of rows per person
means unbounded sensitivity; so every foreign key gets a bound k (at most k children per parent,
declared as `max_children` or chosen under DP, `dp_choose_bound`), rows beyond it are dropped
deterministically (keyed order, so the same data always keeps the same rows) and counted, and the
noise of every measurement is scaled to the most rows one person can then move.

Whose rows are whose
    - a person-table row is its person's; a child row (one foreign key to its owner parent) is
      the person's of its parent;
    - a link row (a *holding*: side key, entity key) is the person's of its side row;
    - an entity held through the link table (an account) is *shared* by its holders: it is part
      of D as long as one holder is. Each holding carries its own copy of the entity and of the
      entity's descendants (transactions), attributed to that holding's person.

Neighbouring relation (the unit ε protects)
    D and D' are neighbours when D' is D plus one person P with every row that is theirs: their
    person row and its descendants, their link rows, and the entities only P holds with those
    entities' descendants. An entity P co-holds is in D already (its attribute row and its
    descendants are its other holders' data too); in D' it gains one holder.

The rule (bounding), and why it is stable
    - children per parent: at most k by a keyed order over the parent's children (md5 of the row;
      keys in it are pseudonyms), as for any tree;
    - link rows: at most k_s per side row, by a keyed order over that side row's own holdings only
      (md5 of the pseudonymised pair): nobody else's rows enter the choice. A holding whose side
      key resolves to no (bounded) side row, or whose entity does not exist, is dropped;
    - an entity is kept iff at least one kept link row points to it; its descendants are capped
      per (original) parent as any child -- a function of the entity's own rows, not its holders;
    - the bounded entity table holds one *copy* per kept holding (key ``<entity>|<side key>``,
      `__parent` = the side key, `__person` = the holder, `__entity` = the original key), and
      every descendant one copy per copy of its parent (keys suffixed the same way): the bounded
      schema is a tree again, each copy one person's row.
    Nobody's selection depends on another person's rows, so bounding D' gives bounding D plus P's
    bounded rows and nothing else: no row of another person appears, disappears or changes (no
    cascade). At most `multiplicity[t]` rows of table t are P's:

        m(person) = 1
        m(child t of parent p, bound k)           = m(p) * k
        m(link, holdings per side row k_s)         = m(side) * k_s
        m(entity copies)                           = m(link)            (one per holding)
        m(descendant t of the entity, bound k)     = m(parent) * k      (copies of P's holdings)

    The one figure that is not a function of P's rows alone is an entity's *holder count* (the
    number of its kept link rows): P changes it by +1 on each entity P co-holds (at most m(link)
    entities; k_e bounds only the public cells of that histogram, co-holders 0..k_e-1, the last
    one "k_e-1 or more"), and adds the entities only P holds (an entry each).

Sensitivity per measurement (L2; the worst case puts all of a person's rows in one cell)
    - a model over table t's rows (dp_mst): group privacy, rho_person = m(t)^2 * rho_row (the
      synthesizer's training rows are at most `rows_per_person` copies per person, keyed);
    - a histogram of children per parent of table p (one entry per parent row or copy): m(p); for
      the link's side this is a person's holdings, m(side) entries of P's own;
    - the histogram of holders per entity: sqrt(2) * m(link) (`HOLDERS_SENSITIVITY`: each of at
      most m(link) entities moves one cell up, or appears; moving all from one cell to the next
      is the worst case);
    - a leak count or a column marginal over table t: m(t) per histogram.
    A Gaussian with standard deviation sigma on a query of sensitivity Δ costs Δ^2 / (2 sigma^2).

What a copy costs: a shared entity's attribute row is read once per holder (a model over the
copies weights an account by its holders), the price of attributing it to each of them. What is
not one person's: a co-held entity's existence while all its holders are present, and a change to
its attributes, are facts about all its holders -- protected at group level, not at one person's ε.
A person split (`person_split`) keeps each copy with its holder, so each side is the bounding of
its own people's rows; `uncopied_sql` gives a side back with original keys for the fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership
from synth_platform.lib.storage.sql_dialect import DUCKDB

PERSON = "__person"  # the person a row is attributed to (a pseudonymised key)
PARENT = "__parent"  # for the entity copies: the side key of their holding
ENTITY = "__entity"  # for the link, entity and descendant copies: the original entity key
HOLDING = "__holding"  # for copies: the side key (text) of the holding they belong to
ORIGINAL = "__original"  # for copies with a primary key: the original key value
ORIGINAL_PARENT = "__original_parent"  # for descendant copies: the original key of their parent
HELPER_COLUMNS = (PERSON, PARENT, ENTITY, HOLDING, ORIGINAL, ORIGINAL_PARENT)
#: L2 sensitivity of the holders-per-entity histogram, per row of m(link) (module docstring).
HOLDERS_SENSITIVITY = math.sqrt(2.0)
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
    link table the bound is holdings per side row; for the entity, the holders per entity the
    holders histogram tells apart (its public cells; not a cap on anyone's rows)."""
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
            m[own.link.table] = m[own.link.side.parent_table] * bounds[own.link.table]
            m[table] = m[own.link.table]  # one copy per holding
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


def copied_tables(spec: SchemaSpec) -> set[str]:
    """The link's entity and every table owned through it: bounded as one copy per holding."""
    own = ownership(spec)
    if own.link is None:
        return set()
    out = {own.link.entity.parent_table}
    for name in own.order:
        fk = own.owner_fk.get(name)
        if name != own.link.table and fk is not None and fk.parent_table in out:
            out.add(name)
    return out


def holder_counts(con, link_relation: str) -> dict[int, int]:
    """Exact {holders: entities} of a bounded link table (its kept holdings per original entity);
    an input of the holders histogram (sensitivity `HOLDERS_SENSITIVITY` * m(link))."""
    rows = con.execute(
        f"SELECT n, count(*) FROM (SELECT {ENTITY}, count(*) AS n FROM {link_relation} GROUP BY 1) GROUP BY 1"
    ).fetchall()
    return {int(n): int(c) for n, c in rows}


def uncopied_sql(spec: SchemaSpec, name: str, relations: dict[str, str], columns: list[str]) -> str:
    """A query giving bounded table `name` (`columns`: its columns) back with original keys and
    without helper columns: the link's entity key is the original entity's again, and the entity
    and its descendants appear once (the copy of the entity's smallest holding in `relations`).
    Each side of a person split is the bounding of its own people's rows (`person_split`), so this
    is a bounded instance again: bounding it once more (`RelationalSynthesizer.fit`) keeps every
    row, and a co-held entity reaches the fit with all its holders on that side."""
    own = ownership(spec)
    plain = [c for c in columns if c not in HELPER_COLUMNS]
    link = own.link
    if link is not None and name == link.table:
        picked = [f"t.{ENTITY} AS {q(c)}" if c == link.entity.child_column else f"t.{q(c)}" for c in plain]
        return f"SELECT {', '.join(picked)} FROM {relations[name]} t"
    if name not in copied_tables(spec):
        return f"SELECT {', '.join(f't.{q(c)}' for c in plain)} FROM {relations[name]} t"
    pk = spec.tables[name].primary_key
    fk = own.owner_fk[name].child_column if name != link.entity.parent_table else None
    picked = []
    for c in plain:
        if c == pk:
            picked.append(f"t.{ORIGINAL} AS {q(c)}")
        elif c == fk:
            picked.append(f"t.{ORIGINAL_PARENT} AS {q(c)}")
        else:
            picked.append(f"t.{q(c)}")
    return (
        f"SELECT {', '.join(picked)} FROM {relations[name]} t JOIN (SELECT {ENTITY} AS e, "
        f"min({HOLDING}) AS h FROM {relations[link.table]} GROUP BY 1) c "
        f"ON t.{ENTITY} = c.e AND t.{HOLDING} = c.h"
    )


def _copy_key(key: str, holding: str) -> str:
    return f"concat(CAST({key} AS VARCHAR), '|', {holding})"


def bound_contributions(
    con,
    spec: SchemaSpec,
    relations: dict[str, str],
    schema: str,
    bounds: dict[str, int | None],
    choose=None,
) -> tuple[dict[str, str], BoundReport]:
    """Bounded copies of the modelled tables in DuckDB schema `schema` (lookups passed through),
    each with a `__person` column (the person the row is attributed to); the link table, the
    entity and its descendants as one copy per kept holding (module docstring: `__parent`,
    `__entity`, `__holding`, `__original`). `bounds`: table -> k; a child table's k may be None
    when `choose(table, children_per_parent, sensitivity)` is given: it is then chosen (under DP,
    by the caller's mechanism) from the bounded parent's children counts. The link table's two
    bounds must be given. `BoundReport.kept` counts original rows (an entity once, however many
    holders keep it)."""
    own = ownership(spec)
    bounds = dict(bounds)
    if own.link is not None and (
        bounds.get(own.link.table) is None or bounds.get(own.link.entity.parent_table) is None
    ):
        raise ValueError(
            f"link table {own.link.table!r}: declare max_children on both of its foreign keys "
            "(holdings per person-side row, and holders per entity)"
        )
    copied = copied_tables(spec)
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
        # the parent's original keys (a copied parent: its kept originals, whatever its holders)
        parent_key = ORIGINAL if fk.parent_table in copied else parent_pk
        parents = f"(SELECT DISTINCT {q(parent_key)} AS k FROM {out[fk.parent_table]})"
        if bounds.get(name) is None:
            if choose is None:
                raise ValueError(f"no bound for table {name!r}: declare max_children on {fk.column}")
            counts = children_per_parent_counts(
                con, out[fk.parent_table], parent_key, relations[name], fk.child_column
            )
            sensitivity = multiplicities(spec, bounds, upto=fk.parent_table)[fk.parent_table]
            bounds[name] = int(choose(name, counts, sensitivity))
        dedupe = (
            f"QUALIFY row_number() OVER (PARTITION BY t.{q(table_pk)} ORDER BY {_row_hash('t')}) = 1"
            if table_pk
            else ""
        )
        capped = (
            f"WITH j AS (SELECT t.* FROM {relations[name]} t "
            f"WHERE t.{q(fk.child_column)} IN (SELECT k FROM {parents}) {dedupe}) "
            f"SELECT * FROM j QUALIFY row_number() OVER (PARTITION BY {q(fk.child_column)} "
            f"ORDER BY {_row_hash('j')}) <= {int(bounds[name])}"
        )
        if name in copied:
            # one copy per copy of the parent (per holding), keys suffixed with the holding
            replace = [f"p.{q(parent_pk)} AS {q(fk.child_column)}"]
            extra = (
                f", p.{PERSON} AS {PERSON}, p.{ENTITY} AS {ENTITY}, p.{HOLDING} AS {HOLDING}, "
                f"c.{q(fk.child_column)} AS {ORIGINAL_PARENT}"
            )
            if table_pk:
                replace.append(f"{_copy_key(f'c.{q(table_pk)}', f'p.{HOLDING}')} AS {q(table_pk)}")
                extra += f", c.{q(table_pk)} AS {ORIGINAL}"
            sql = (
                f"SELECT c.* REPLACE ({', '.join(replace)}){extra} FROM ({capped}) c "
                f"JOIN {out[fk.parent_table]} p ON c.{q(fk.child_column)} = p.{ORIGINAL}"
            )
        else:
            sql = (
                f"SELECT c.*, p.{PERSON} AS {PERSON} FROM ({capped}) c "
                f"JOIN {out[fk.parent_table]} p ON c.{q(fk.child_column)} = p.{q(parent_pk)}"
            )
        joined = _count(con, f"(SELECT 1 FROM {relations[name]} t WHERE t.{q(fk.child_column)} IN {parents})")
        con.execute(f"CREATE OR REPLACE TABLE {target(name)} AS {sql}")
        out[name] = target(name)
        report.kept[name] = (
            _count(con, f"(SELECT DISTINCT {ORIGINAL} FROM {out[name]})")
            if name in copied and table_pk
            else _count(con, f"({capped})")
        )
        report.dropped_cascade[name] = _count(con, relations[name]) - joined
        report.dropped_over_bound[name] = joined - report.kept[name]
    report.bounds = bounds
    report.multiplicity = multiplicities(spec, bounds)
    return out, report


def _bound_link(con, spec, relations, out, report, target, bounds) -> None:
    """The link table and its entity (module docstring): a holding needs a (bounded) side row and
    an existing entity; at most k_s holdings per side row, by the md5 of the pseudonymised pair
    (that side row's own rows only); an entity is kept iff a kept holding points to it, as one
    copy per kept holding."""
    link = ownership(spec).link
    s, e = q(link.side.child_column), q(link.entity.child_column)
    side_pk = q(spec.tables[link.side.parent_table].primary_key)
    entity = link.entity.parent_table
    entity_pk = q(spec.tables[entity].primary_key)
    k_s = int(bounds[link.table])
    pair = f"md5(concat(CAST({s} AS VARCHAR), '|', CAST({e} AS VARCHAR)))"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __entity_once AS SELECT * FROM {relations[entity]} x "
        f"WHERE {entity_pk} IS NOT NULL "
        f"QUALIFY row_number() OVER (PARTITION BY {entity_pk} ORDER BY {_row_hash('x')}) = 1"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __link_resolved AS "
        f"SELECT l.*, sp.{PERSON} AS {PERSON} FROM {relations[link.table]} l "
        f"JOIN {out[link.side.parent_table]} sp ON l.{s} = sp.{side_pk} "
        f"WHERE l.{e} IN (SELECT {entity_pk} FROM __entity_once) "
        f"QUALIFY row_number() OVER (PARTITION BY l.{s}, l.{e} ORDER BY {_row_hash('l')}) = 1"
    )
    holding = f"CAST(l.{s} AS VARCHAR)"
    con.execute(
        f"CREATE OR REPLACE TABLE {target(link.table)} AS "
        f"WITH kept AS (SELECT * FROM __link_resolved QUALIFY row_number() OVER (PARTITION BY {s} "
        f"ORDER BY {pair}, {e}) <= {k_s}) "
        f"SELECT l.* REPLACE ({_copy_key(f'l.{e}', holding)} AS {e}), l.{e} AS {ENTITY}, "
        f"{holding} AS {HOLDING} FROM kept l"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {target(entity)} AS "
        f"SELECT x.* REPLACE (l.{e} AS {entity_pk}), l.{s} AS {PARENT}, l.{PERSON} AS {PERSON}, "
        f"l.{ENTITY} AS {ENTITY}, l.{HOLDING} AS {HOLDING}, x.{entity_pk} AS {ORIGINAL} "
        f"FROM __entity_once x JOIN {target(link.table)} l ON x.{entity_pk} = l.{ENTITY}"
    )
    out[link.table], out[entity] = target(link.table), target(entity)
    resolved = _count(con, "__link_resolved")
    held = _count(con, f"(SELECT DISTINCT {e} FROM __link_resolved)")
    report.kept[link.table] = _count(con, out[link.table])
    report.dropped_cascade[link.table] = _count(con, relations[link.table]) - resolved
    report.dropped_over_bound[link.table] = resolved - report.kept[link.table]
    report.kept[entity] = _count(con, f"(SELECT DISTINCT {ENTITY} FROM {out[link.table]})")
    report.dropped_cascade[entity] = _count(con, relations[entity]) - held
    report.dropped_over_bound[entity] = held - report.kept[entity]
    con.execute("DROP TABLE IF EXISTS __link_resolved")
    con.execute("DROP TABLE IF EXISTS __entity_once")
