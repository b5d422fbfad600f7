"""Private synthesis of a whole schema: referentially intact tables, one budget per person.

Why this shape (in the spirit of PrivLava and SDV's HMA, with every measurement private): a
related schema is generated top-down along the ownership tree of `schema_spec.ownership`:

1. the person table by `dp_mst` (one row per person: row-level DP is person-level DP); the
   number of synthetic people is the model's noisy total;
2. for each child table, *how many* children a parent has, from a DP histogram of children per
   parent (0..k, in public buckets), conditioned on up to two category/boolean columns of the
   parent or its ancestors (``table.column``; backing off to coarser conditioning where the noise
   would dominate), so a premium customer keeps holding more accounts than a retail one;
3. the children's *attributes* by `dp_mst` over the child's columns plus those ancestor columns
   (named ``__p_<table.column>``), trained on at most `rows_per_person` rows per person; a sampled
   row is given to a synthetic parent with the same values, so parent attributes (and the
   holder's segment, two levels up) shape their children;
4. the many-to-many link: entities (accounts) are generated as the owned children of the link's
   person side (owned entities per person: a DP histogram), each gets co-holders from a DP
   histogram of holders per entity (drawn uniformly among other synthetic people), and the
   link's own columns (a role) by `dp_mst` over them plus the owner flag;
5. public lookups are copied; foreign keys to lookups are modelled as categories whose domain
   is the lookup's keys (public), so they always resolve.

Synthetic keys are fresh (1..n, or ``<table>-0000001`` for text keys): no real or pseudonymised
key reaches the output, and every foreign key is drawn from the parent's synthetic keys, so the
sample has no orphans by construction. Identifier columns that are not keys (names, e-mails,
phones: dropped before modelling) are refilled with fakes from reserved spaces (`refill`), and
`sample_chunks` draws the schema a chunk of people at a time (memory: one chunk).

Privacy accounting (zCDP; neighbouring relation in `contribution`): the schema's (epsilon, delta)
becomes rho (half of delta to the conversion when category lists are chosen by thresholding, half
to the thresholds); rho is divided over the measurements by fixed public weights, and each one's
noise is scaled to its per-person sensitivity: a histogram over parents by the rows one person
has in the parent table, a `dp_mst` fit by group privacy (its row-level rho is rho / m^2, m the
rows one person has in its training rows, which the per-person subsample caps). Undeclared
category lists are chosen here (not inside dp_mst) by a Gaussian threshold scaled the same way.
`privacy_report()` lists every part and the total rho and epsilon. Caveats as for dp_mst: noise
is OS entropy except under pytest's seeded test noise; floating-point Gaussians.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import OWNER, PARENT, PERSON, q, simplex_shares
from synth_platform.lib.relational.pseudonyms import dropped_columns
from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership
from synth_platform.lib.synthesize.accounting import (
    epsilon_from_rho,
    epsilon_from_spend,
    rho_from_epsilon_delta,
)
from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer, noise_test_seed

#: Rows per person an attribute model trains on (keyed choice): its group-privacy factor.
DEFAULT_ROWS_PER_PERSON = 2
#: Parent columns a child is conditioned on, at most, and the most condition cells allowed.
MAX_CONDITION_COLUMNS = 2
MAX_CONDITION_CELLS = 64
#: Public weights dividing the budget between measurements (each table's model, each histogram).
WEIGHTS = {"model": 1.0, "counts": 0.8, "holders": 0.2, "link_model": 0.4, "bound": 0.15, "domain": 0.08}
#: People per sampled chunk (`sample_chunks`): memory is one chunk of people and their rows.
SAMPLE_CHUNK_PEOPLE = 50_000
_INNER_DELTA = 1e-9  # only a carrier for dp_mst's epsilon <-> rho conversion (no thresholding inside)
CATEGORICAL = ("category", "string")


@dataclass
class Part:
    """One measurement: what it is, its per-person sensitivity (rows / entries one person moves)
    and the rho it costs per person."""

    name: str
    mechanism: str
    sensitivity: int
    rho: float


@dataclass
class CountModel:
    """Noisy distribution of children per parent (0..k) given the parent's condition cell."""

    cond: list[str]
    cells: list[tuple]
    probs: np.ndarray
    #: (low, high) children per bucket: small counts one by one, larger ones in growing ranges
    buckets: list[tuple[int, int]] = field(default_factory=list)

    def draw(self, keys: list[tuple], rng: np.random.Generator) -> np.ndarray:
        """A number of children per parent: a bucket by the parent's cell, uniform within it."""
        index = {cell: i for i, cell in enumerate(self.cells)}
        marginal = self.probs.mean(axis=0)
        positions: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            positions.setdefault(key, []).append(i)
        out = np.empty(len(keys), dtype=np.int64)
        lows = np.array([b[0] for b in self.buckets])
        highs = np.array([b[1] for b in self.buckets])
        for cell, at in positions.items():
            p = self.probs[index[cell]] if cell in index else marginal
            chosen = rng.choice(p.size, len(at), p=p)
            out[at] = rng.integers(lows[chosen], highs[chosen] + 1)
        return out


@dataclass
class TableModel:
    name: str
    role: str  # person | child | entity | link
    columns: list[str]  # the table's own model columns
    #: ancestor context columns ``table.column`` it is conditioned on (model columns ``__p_<name>``)
    cond: list[str] = field(default_factory=list)
    model: DPMSTSynthesizer | None = None
    counts: CountModel | None = None
    holders: np.ndarray | None = None  # link only: P(co-holders = c), c = 0..k_e - 1


def _rng() -> np.random.Generator:
    """Noise of this module's own measurements: OS entropy, or pytest's seeded test noise."""
    seed = noise_test_seed()
    if seed is None:
        return np.random.default_rng(int.from_bytes(os.urandom(16), "little"))
    return np.random.default_rng(seed + 1)


def _cond_key(value, categories: list[str] | None):
    """A condition cell member: the value's text, or None (NULL, or outside the category list)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(bool(value)) if isinstance(value, (bool, np.bool_)) else str(value)
    return text if categories is None or text in categories else None


class RelationalSynthesizer:
    """Fit on pseudonymised tables in DuckDB (`fit`), then `sample` a referentially intact schema."""

    def __init__(
        self,
        spec: SchemaSpec,
        epsilon: float | None = None,
        delta: float | None = None,
        iters: int | None = None,
        bins: int | None = None,
        rows_per_person: int = DEFAULT_ROWS_PER_PERSON,
    ):
        self.spec = spec
        self.own = ownership(spec)
        self.epsilon = float(spec.synthesizer.epsilon if epsilon is None else epsilon)
        self.delta = float(spec.synthesizer.delta if delta is None else delta)
        self.iters = int(spec.synthesizer.iters if iters is None else iters)
        self.bins = int(spec.synthesizer.bins if bins is None else bins)
        self.rows_per_person = int(rows_per_person)
        self.tables: dict[str, TableModel] = {}
        self.domains: dict[str, dict[str, dict]] = {}
        self.lookup_frames: dict[str, pd.DataFrame] = {}
        self.parts: list[Part] = []
        self.bound_report: contrib.BoundReport | None = None
        self.rho_total = 0.0
        self.delta_threshold = 0.0
        self.fit_seconds: float | None = None
        #: table -> context names its children may be conditioned on (own, then inherited)
        self.context: dict[str, list[str]] = {}
        #: sampling: the last key drawn per table (keys run on across chunks); the refill's report
        self._key_offsets: dict[str, int] = {}
        self.refill_report: dict[str, dict] = {}

    # ------------------------------------------------------------------ structure

    def model_columns(self, table: str) -> list[str]:
        """Columns a table's model learns (`model_columns`)."""
        return model_columns(self.spec, table)

    def _lookup_fk(self, table: str, column: str):
        return next((fk for fk in self.own.lookup_fks.get(table, []) if fk.child_column == column), None)

    def _categorical(self, table: str, column: str) -> bool:
        return self.spec.tables[table].columns[column].type in CATEGORICAL or bool(
            self._lookup_fk(table, column)
        )

    def _undeclared(self, table: str) -> list[str]:
        """Categorical model columns whose category list must be chosen under DP."""
        return [
            c
            for c in self.model_columns(table)
            if self._categorical(table, c)
            and self.spec.tables[table].columns[c].categories is None
            and not self._lookup_fk(table, c)
        ]

    def _own_context(self, table: str) -> list[str]:
        """A table's category/boolean model columns as context names ``table.column``."""
        return [
            f"{table}.{c}"
            for c in self.model_columns(table)
            if self._categorical(table, c) or self.spec.tables[table].columns[c].type == "boolean"
        ]

    def _condition(self, table: str, parent: str) -> list[str]:
        """Context columns (``table.column``) a table is conditioned on: the parent's own
        category/boolean columns first, then what the parent inherited (a transaction sees its
        account's type and its holder's segment), within `MAX_CONDITION_COLUMNS` and cells."""
        declared = self.spec.tables[table].condition_on
        if declared is not None:
            unknown = [c for c in declared if f"{parent}.{c}" not in self.context[parent]]
            if unknown:
                raise ValueError(
                    f"table {table!r}: condition_on {unknown} are not category/boolean model columns of "
                    f"{parent!r}"
                )
            return [f"{parent}.{c}" for c in declared]
        chosen, cells = [], 1
        sizes = {name: len(self._ctx_categories(name) or []) + 1 for name in self.context[parent]}
        for name in sorted(self.context[parent], key=lambda n: sizes[n]):  # stable: own columns first
            size = sizes[name]
            if len(chosen) < MAX_CONDITION_COLUMNS and cells * size <= MAX_CONDITION_CELLS:
                chosen.append(name)
                cells *= size
        return chosen

    def _ctx_categories(self, name: str) -> list[str] | None:
        table, column = name.split(".", 1)
        return self._categories(table, column)

    def _categories(self, table: str, column: str) -> list[str] | None:
        domain = self.domains.get(table, {}).get(column, {})
        if "categories" in domain:
            return list(domain["categories"])
        if self.spec.tables[table].columns[column].type == "boolean":
            return ["False", "True"]
        return None

    def _multiplicity(self, table: str) -> int:
        """Rows one person has in `table`'s attribute training rows (after the per-person cap)."""
        if table == self.spec.person:
            return 1
        return max(1, min(self.rows_per_person, self.bound_report.multiplicity[table]))

    # ------------------------------------------------------------------ budget

    def _plan(self) -> dict[str, float]:
        """Public weights of every measurement, known before any data is read."""
        weights: dict[str, float] = {}
        link = self.own.link
        for table in self.own.order:
            if link is not None and table == link.table:
                weights[f"{table}:holders"] = WEIGHTS["holders"]
                if self.model_columns(table):
                    weights[f"{table}:model"] = WEIGHTS["link_model"]
                for column in self._undeclared(table):
                    weights[f"{table}.{column}:domain"] = WEIGHTS["domain"]
                continue
            if table != self.spec.person:
                weights[f"{table}:counts"] = WEIGHTS["counts"]
                if self.own.owner_fk[table].max_children is None:
                    weights[f"{table}:bound"] = WEIGHTS["bound"]
            if self.model_columns(table):
                weights[f"{table}:model"] = WEIGHTS["model"]
            for column in self._undeclared(table):
                weights[f"{table}.{column}:domain"] = WEIGHTS["domain"]
        return weights

    def _allocate(self) -> dict[str, float]:
        weights = self._plan()
        thresholds = [k for k in weights if k.endswith(":domain")]
        self.delta_threshold = self.delta / 2 if thresholds else 0.0
        self.rho_total = rho_from_epsilon_delta(self.epsilon, self.delta - self.delta_threshold)
        total = sum(weights.values()) * (1 + 1e-12)  # so float sums never pass rho_total
        return {k: self.rho_total * w / total for k, w in weights.items()}

    # ------------------------------------------------------------------ fitting

    def fit(self, con, relations: dict[str, str], scratch: str = "relational_fit") -> RelationalSynthesizer:
        """Fit on pseudonymised tables (`pseudonyms.pseudonymise`); `scratch` is a DuckDB schema for
        the bounded copies and training relations. Only noisy measurements are kept."""
        started = time.perf_counter()
        rho = self._allocate()
        rng = _rng()
        for name in self.spec.lookups:
            self.lookup_frames[name] = con.execute(f"SELECT * FROM {relations[name]}").df()

        def choose(table: str, counts: dict, sensitivity: int) -> int:
            part = f"{table}:bound"
            self.parts.append(Part(part, "Gaussian histogram (bound choice)", sensitivity, rho[part]))
            return contrib.dp_choose_bound(counts, sensitivity, rho[part], rng)

        bounds = contrib.required_bounds(self.spec)
        bounded, self.bound_report = contrib.bound_contributions(
            con, self.spec, relations, scratch, bounds, choose=choose
        )
        link = self.own.link
        for table in self.own.order:
            if link is not None and table == link.table:
                continue  # after its entity
            self._fit_table(con, table, bounded, scratch, rho, rng)
            if link is not None and table == link.entity.parent_table:
                self._fit_link(con, bounded, scratch, rho, rng)
        self.fit_seconds = time.perf_counter() - started
        return self

    def _training_relation(self, con, table: str, bounded: dict, scratch: str, cond: list[str]) -> str:
        """The rows an attribute model reads: the table's model columns, its parent's condition
        columns as ``__p_<c>``, at most `rows_per_person` rows per person (keyed order)."""
        columns = [f"t.{q(c)}" for c in self.model_columns(table)]
        join = ""
        if cond:
            parent = self.own.parent_of(table)
            join = (
                f" JOIN {self._ctx_relation(scratch, parent)} p ON t.{q(self._parent_ref(table))} = p.__key"
            )
            columns += [f"p.{q(c)} AS {q('__p_' + c)}" for c in cond]
        if self.own.link is not None and table == self.own.link.table:
            columns.append(f"t.{OWNER} AS {OWNER}")
        cap = (
            ""
            if table == self.spec.person
            else f" QUALIFY row_number() OVER (PARTITION BY t.{PERSON} ORDER BY md5(CAST(t AS VARCHAR))) "
            f"<= {self.rows_per_person}"
        )
        target = f"{q(scratch)}.{q('__train_' + table)}"
        con.execute(
            f"CREATE OR REPLACE TABLE {target} AS SELECT {', '.join(columns)} "
            f"FROM {bounded[table]} t{join}{cap}"
        )
        return target

    @staticmethod
    def _ctx_relation(scratch: str, table: str) -> str:
        return f"{q(scratch)}.{q('__ctx_' + table)}"

    def _write_context(self, con, table: str, bounded: dict, scratch: str) -> None:
        """`__ctx_<table>`: each row's key and its context columns (own, then its parent's), so a
        child's training rows and children counts can be conditioned on any ancestor."""
        parent = self.own.parent_of(table)
        self.context[table] = self._own_context(table) + (self.context[parent] if parent else [])
        pk = self.spec.tables[table].primary_key
        if pk is None:
            return
        columns = [f"t.{q(pk)} AS __key"] + [
            f"t.{q(name.split('.', 1)[1])} AS {q(name)}" for name in self._own_context(table)
        ]
        join = ""
        if parent is not None:
            columns += [f"p.{q(name)}" for name in self.context[parent]]
            ref = q(self._parent_ref(table))
            join = f" LEFT JOIN {self._ctx_relation(scratch, parent)} p ON t.{ref} = p.__key"
        con.execute(
            f"CREATE OR REPLACE TABLE {self._ctx_relation(scratch, table)} AS SELECT {', '.join(columns)} "
            f"FROM {bounded[table]} t{join}"
        )

    def _parent_ref(self, table: str) -> str:
        """The column of `table` holding its owner parent's key."""
        link = self.own.link
        if link is not None and table == link.entity.parent_table:
            return PARENT
        if link is not None and table == link.table:
            return link.entity.child_column
        return self.own.owner_fk[table].child_column

    def _fit_table(self, con, table: str, bounded: dict, scratch: str, rho: dict, rng) -> None:
        role = "person" if table == self.spec.person else "child"
        if self.own.link is not None and table == self.own.link.entity.parent_table:
            role = "entity"
        parent = self.own.parent_of(table)
        cond = self._condition(table, parent) if parent is not None else []
        tm = TableModel(table, role, self.model_columns(table), cond)
        self.tables[table] = tm
        if parent is not None:
            tm.counts = self._fit_counts(con, table, parent, scratch, bounded, rho, rng)
        if tm.columns:
            relation = self._training_relation(con, table, bounded, scratch, cond)
            self.domains[table] = self._choose_domains(con, table, relation, rho, rng)
            domains = dict(self.domains[table])
            for name in cond:
                source, column = name.split(".", 1)
                if column in self.domains.get(source, {}):
                    domains["__p_" + name] = self.domains[source][column]
            m = self._multiplicity(table)
            tm.model = self._fit_model(con, f"{table}:model", relation, domains, rho, m)
        self._write_context(con, table, bounded, scratch)

    def _fit_model(self, con, part: str, relation: str, domains: dict, rho: dict, m: int) -> DPMSTSynthesizer:
        """dp_mst at row-level rho / m^2 (group privacy), so it costs `rho[part]` per person."""
        inner_rho = contrib.row_rho(rho[part], m)
        epsilon = epsilon_from_rho(inner_rho, _INNER_DELTA)
        model = DPMSTSynthesizer(
            epsilon=epsilon, delta=_INNER_DELTA, bins=self.bins, iters=self.iters, domains=domains
        )
        model.fit_relation(con, relation)
        spent = model.spend.rho * m * m
        if model.spend.delta_threshold or spent > rho[part] * (1 + 1e-9):
            raise RuntimeError(f"{part}: dp_mst spent more than allocated")  # a bug, never data
        self.parts.append(Part(part, "dp_mst (group privacy)", m, spent))
        return model

    def _choose_domains(self, con, table: str, relation: str, rho: dict, rng) -> dict[str, dict]:
        """Declared domains as they are; undeclared category lists by a noisy threshold scaled to
        the rows one person has in `relation` (a value held by one person is released with
        probability at most its share of delta_threshold); lookup keys are public."""
        out: dict[str, dict] = {}
        columns = self.spec.tables[table].columns
        undeclared = self._undeclared(table)
        measured = sum(1 for k in rho if k.endswith(":domain"))
        m = self._multiplicity(table)
        for c in self.model_columns(table):
            column = columns[c]
            fk = self._lookup_fk(table, c)
            if fk is not None:
                keys = self.lookup_frames[fk.parent_table][fk.parent_column].dropna()
                out[c] = {"categories": sorted({str(v) for v in keys})}
            elif column.categories is not None:
                out[c] = {"categories": list(column.categories)}
            elif c in undeclared:
                part = f"{table}.{c}:domain"
                out[c] = {"categories": self._dp_categories(con, relation, c, m, rho[part], measured, rng)}
                self.parts.append(Part(part, "Gaussian threshold (category list)", m, rho[part]))
            elif column.bounds is not None and isinstance(column.bounds[0], date):
                out[c] = {"date_bounds": tuple(column.bounds)}
            elif column.bounds is not None:
                out[c] = {"bounds": (float(column.bounds[0]), float(column.bounds[1]))}
        return out

    def _dp_categories(self, con, relation: str, column: str, m: int, rho: float, measured: int, rng) -> list:
        from scipy.stats import norm

        sigma = contrib.gaussian_sigma(m, rho)
        delta_column = self.delta_threshold / max(measured, 1)
        threshold = m + sigma * float(norm.isf(delta_column / m))
        rows = con.execute(
            f"SELECT CAST({q(column)} AS VARCHAR), count(*) FROM {relation} "
            f"WHERE {q(column)} IS NOT NULL GROUP BY 1"
        ).fetchall()
        released = sorted(v for v, n in rows if n + rng.normal(0.0, sigma) >= threshold)
        return released or ["(rare)"]

    def _fit_counts(
        self, con, table: str, parent: str, scratch: str, bounded: dict, rho: dict, rng
    ) -> CountModel:
        """Noisy histogram of children per parent row (one entry per parent: sensitivity m(parent))."""
        k = self.bound_report.bounds[table]
        if self.own.link is not None and table == self.own.link.entity.parent_table:
            k = self.bound_report.bounds[self.own.link.table]
        cond = self.tables[table].cond
        ref = q(self._parent_ref(table))
        selected = ", ".join([f"p.{q(c)}" for c in cond] + ["coalesce(c.n, 0)"])
        rows = con.execute(
            f"SELECT {selected}, count(*) FROM {self._ctx_relation(scratch, parent)} p LEFT JOIN "
            f"(SELECT {ref} AS r, count(*) AS n FROM {bounded[table]} GROUP BY 1) c "
            "ON p.__key = c.r GROUP BY ALL"
        ).fetchall()
        return self._noisy_histogram(f"{table}:counts", parent, cond, rows, k, rho, rng)

    def _noisy_histogram(self, part: str, parent: str, cond: list[str], rows, k: int, rho: dict, rng):
        domains = [(self._ctx_categories(c) or []) + [None] for c in cond]
        cells = [()]
        for values in domains:
            cells = [(*cell, v) for cell in cells for v in values]
        index = {cell: i for i, cell in enumerate(cells)}
        buckets = count_buckets(k)
        exact = np.zeros((len(cells), len(buckets)))
        for row in rows:
            key = tuple(_cond_key(v, d[:-1]) for v, d in zip(row[: len(cond)], domains, strict=True))
            exact[index[key], bucket_of(buckets, min(int(row[-2]), k))] += row[-1]
        m = self.bound_report.multiplicity[parent]
        sigma = contrib.gaussian_sigma(m, rho[part])
        noisy = exact + rng.normal(0.0, sigma, exact.shape)
        self.parts.append(Part(part, "Gaussian histogram (children per parent)", m, rho[part]))
        return CountModel(cond, cells, conditional_shares(cells, noisy, sigma), buckets)

    def _fit_link(self, con, bounded: dict, scratch: str, rho: dict, rng) -> None:
        """Holders per entity (co-holders 0..k_e-1, one entry per entity) and the link's columns."""
        link = self.own.link
        entity = link.entity.parent_table
        k_e = self.bound_report.bounds[entity]
        pk = q(self.spec.tables[entity].primary_key)
        e = q(link.entity.child_column)
        rows = con.execute(
            f"SELECT coalesce(c.n, 0), count(*) FROM {bounded[entity]} x "
            f"LEFT JOIN (SELECT {e} AS r, count(*) AS n "
            f"FROM {bounded[link.table]} WHERE NOT {OWNER} GROUP BY 1) c ON x.{pk} = c.r GROUP BY 1"
        ).fetchall()
        part = f"{link.table}:holders"
        m = self.bound_report.multiplicity[entity]
        exact = np.zeros(max(k_e, 1))
        for n, count in rows:
            exact[min(int(n), exact.size - 1)] += count
        noisy = exact + rng.normal(0.0, contrib.gaussian_sigma(m, rho[part]), exact.size)
        self.parts.append(Part(part, "Gaussian histogram (holders per entity)", m, rho[part]))
        tm = TableModel(link.table, "link", self.model_columns(link.table))
        tm.holders = simplex_shares(noisy)
        self.tables[link.table] = tm
        if tm.columns:
            relation = self._training_relation(con, link.table, bounded, scratch, [])
            self.domains[link.table] = self._choose_domains(con, link.table, relation, rho, rng)
            m_link = max(1, min(self.rows_per_person, self.bound_report.multiplicity[link.table]))
            tm.model = self._fit_model(
                con, f"{link.table}:model", relation, self.domains[link.table], rho, m_link
            )

    # ------------------------------------------------------------------ accounting

    def privacy_report(self) -> dict:
        """Every measurement with its per-person sensitivity and rho; total rho and epsilon."""
        spent = sum(p.rho for p in self.parts)
        return {
            "neighbouring": "add/remove one person with every row attributed to them "
            "(lib.relational.contribution)",
            "epsilon_requested": self.epsilon,
            "delta": self.delta,
            "rho_budget": self.rho_total,
            "rho_spent": spent,
            "delta_threshold": self.delta_threshold,
            "epsilon_spent": epsilon_from_spend(spent, self.delta_threshold, self.delta),
            "bounds": dict(self.bound_report.bounds) if self.bound_report else {},
            "multiplicity": dict(self.bound_report.multiplicity) if self.bound_report else {},
            "rows_per_person": self.rows_per_person,
            "parts": [p.__dict__.copy() for p in self.parts],
            "noise": "seeded test noise, not private" if noise_test_seed() is not None else "os_entropy",
        }

    # ------------------------------------------------------------------ sampling

    def sample(
        self, seed: int = 0, people: int | None = None, chunk_people: int | None = None
    ) -> dict[str, pd.DataFrame]:
        """A synthetic schema: every table of the spec (lookups copied), fresh keys, no orphans,
        identifier columns refilled (`relational.refill`). In one frame per table: for bounded
        memory use `sample_chunks` (the same rows when the people fit in one chunk)."""
        parts: dict[str, list[pd.DataFrame]] = {name: [] for name in self.spec.tables}
        for chunk in self.sample_chunks(seed, people, chunk_people):
            for name, frame in chunk.items():
                parts[name].append(frame)
        return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}

    def people_to_sample(self, people: int | None = None) -> int:
        """The synthetic people: as asked, else the person model's noisy total (a DP output)."""
        person = self.tables[self.spec.person]
        return (
            people if people is not None else max(1, round(person.model.noisy_total)) if person.model else 1
        )

    def sample_chunks(self, seed: int = 0, people: int | None = None, chunk_people: int | None = None):
        """The synthetic schema in chunks of at most `chunk_people` people (default
        `SAMPLE_CHUNK_PEOPLE`) with every row that belongs to them: memory is one chunk. Keys run on
        across chunks (1..n, ``<table>-0000001``), every foreign key resolves inside its chunk, and
        co-holders of an entity are drawn among the chunk's people (people are drawn independently,
        so this is the same distribution for any chunk larger than the holders per entity).
        Lookups come with the first chunk. Identifier columns are refilled chunk by chunk."""
        from synth_platform.lib.relational.refill import SchemaRefill

        rng = np.random.default_rng(seed)
        n = self.people_to_sample(people)
        size = max(1, int(chunk_people or SAMPLE_CHUNK_PEOPLE))
        chunks = -(-n // size)
        refill = SchemaRefill(self.spec, seed)
        self._key_offsets = {}
        for index, start in enumerate(range(0, n, size)):
            frames = self._sample_people(min(size, n - start), rng)
            if index == 0:
                for name in self.spec.lookups:
                    frames[name] = self.lookup_frames[name].copy()
            yield {
                name: refill.chunk(name, self._output(name, frames[name]), len(frames[name]) * chunks)
                for name in self.spec.tables
                if name in frames
            }
        self.refill_report = refill.report

    def _sample_people(self, n: int, rng) -> dict[str, pd.DataFrame]:
        """n synthetic people and every row that belongs to them (the modelled tables)."""
        person = self.tables[self.spec.person]
        frames: dict[str, pd.DataFrame] = {}
        frames[self.spec.person] = self._keyed(
            self.spec.person,
            person.model.sample(n, seed=_seed(rng)) if person.model else pd.DataFrame(index=range(n)),
        )
        contexts = {
            self.spec.person: self._synthetic_context(self.spec.person, frames[self.spec.person], None, None)
        }
        link = self.own.link
        for table in self.own.order[1:]:
            if link is not None and table == link.table:
                continue
            parent = self.own.parent_of(table)
            frames[table] = self._sample_children(table, parent, frames[parent], contexts, rng)
            if link is not None and table == link.entity.parent_table:
                frames[link.table] = self._sample_link(frames, rng)
        return frames

    def _keyed(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Fresh keys, running on from the previous chunk's last key of the table."""
        pk = self.spec.tables[table].primary_key
        frame = frame.reset_index(drop=True)
        offsets = self._key_offsets
        first = offsets.get(table, 0) + 1
        offsets[table] = first - 1 + len(frame)
        if pk is not None:
            if self.spec.tables[table].columns[pk].type == "integer":
                frame[pk] = np.arange(first, first + len(frame), dtype=np.int64)
            else:
                frame[pk] = [f"{table}-{i:07d}" for i in range(first, first + len(frame))]
        return frame

    def _parent_keys(self, table: str, parent: str, ctx: pd.DataFrame) -> list[tuple]:
        cond = self.tables[table].cond
        categories = [self._ctx_categories(c) for c in cond]
        if not cond:
            return [()] * len(ctx)
        return [
            tuple(_cond_key(v, cats) for v, cats in zip(row, categories, strict=True))
            for row in ctx[cond].itertuples(index=False, name=None)
        ]

    def _synthetic_context(self, table: str, frame: pd.DataFrame, parent_ctx, owner_index) -> pd.DataFrame:
        """The synthetic rows' context columns, built as `_write_context` builds the real ones."""
        ctx = pd.DataFrame(
            {name: frame[name.split(".", 1)[1]].to_numpy() for name in self._own_context(table)}
        )
        ctx.index = range(len(frame))
        if parent_ctx is not None:
            inherited = parent_ctx.iloc[owner_index].reset_index(drop=True)
            ctx = pd.concat([ctx, inherited], axis=1)
        return ctx

    def _sample_children(self, table: str, parent: str, parents: pd.DataFrame, contexts: dict, rng):
        tm = self.tables[table]
        keys = self._parent_keys(table, parent, contexts[parent])
        counts = tm.counts.draw(keys, rng)
        owner_index = np.repeat(np.arange(len(parents)), counts)
        wanted = [keys[i] for i in owner_index]
        categories = [self._ctx_categories(c) for c in tm.cond]
        rows = self._matched(tm.model, [f"__p_{c}" for c in tm.cond], categories, wanted, rng)
        rows = rows.drop(columns=[c for c in rows.columns if c.startswith("__p_")])
        ref = self._parent_ref(table)
        rows[ref] = parents[self.spec.tables[parent].primary_key].to_numpy()[owner_index]
        rows = self._keyed(table, rows)
        contexts[table] = self._synthetic_context(table, rows, contexts[parent], owner_index)
        return rows

    def _matched(self, model, cond: list[str], categories: list, wanted: list[tuple], rng) -> pd.DataFrame:
        """Rows from `model` whose condition columns equal `wanted[i]`, in order: drawn in rounds of
        growing samples; a key the model rarely produces falls back to any row."""
        total = len(wanted)
        if model is None:
            return pd.DataFrame(index=range(total))
        if not cond:
            return model.sample(total, seed=_seed(rng)) if total else model.sample(1, seed=0).iloc[:0]
        need: dict[tuple, list[int]] = {}
        for i, key in enumerate(wanted):
            need.setdefault(key, []).append(i)
        chunks, positions = [], []
        batch = max(2 * total, 200)
        for _ in range(4):
            if not need:
                break
            drawn = model.sample(batch, seed=_seed(rng))
            drawn_keys = [
                tuple(_cond_key(v, cats) for v, cats in zip(row, categories, strict=True))
                for row in drawn[cond].itertuples(index=False, name=None)
            ]
            groups: dict[tuple, list[int]] = {}
            for j, key in enumerate(drawn_keys):
                groups.setdefault(key, []).append(j)
            for key in list(need):
                available = groups.get(key, [])
                take = min(len(available), len(need[key]))
                if take:
                    chunks.append(drawn.iloc[available[:take]])
                    positions.extend(need[key][:take])
                    need[key] = need[key][take:]
                if not need[key]:
                    del need[key]
            batch *= 2
        rest = [i for idx in need.values() for i in idx]
        if rest:
            chunks.append(model.sample(len(rest), seed=_seed(rng)))
            positions.extend(rest)
        if not chunks:
            return model.sample(1, seed=0).iloc[:0]
        out = pd.concat(chunks, ignore_index=True)
        out.index = positions
        return out.sort_index().reset_index(drop=True)

    def _sample_link(self, frames: dict, rng) -> pd.DataFrame:
        """Owner rows (entity -> its owner), plus co-holders drawn among other side rows."""
        link = self.own.link
        entity, side = link.entity.parent_table, link.side.parent_table
        entities, sides = frames[entity], frames[side]
        side_keys = sides[self.spec.tables[side].primary_key].to_numpy()
        entity_keys = entities[self.spec.tables[entity].primary_key].to_numpy()
        tm = self.tables[link.table]
        extra = rng.choice(tm.holders.size, len(entities), p=tm.holders) if len(entities) else np.array([])
        side_index = {key: i for i, key in enumerate(side_keys)}
        owners = [side_index[k] for k in entities[PARENT]]
        s_out, e_out, is_owner = [], [], []
        for i, (owner, count) in enumerate(zip(owners, extra, strict=True)):
            s_out.append(side_keys[owner])
            e_out.append(entity_keys[i])
            is_owner.append(True)
            if count and len(side_keys) > 1:
                others = rng.choice(len(side_keys) - 1, min(int(count), len(side_keys) - 1), replace=False)
                for j in others:
                    s_out.append(side_keys[j if j < owner else j + 1])
                    e_out.append(entity_keys[i])
                    is_owner.append(False)
        if tm.model is not None:
            wanted = [(str(b),) for b in is_owner]
            rows = self._matched(tm.model, [OWNER], [["False", "True"]], wanted, rng)
            rows = rows.drop(columns=[OWNER])
        else:
            rows = pd.DataFrame(index=range(len(s_out)))
        rows[link.side.child_column] = s_out
        rows[link.entity.child_column] = e_out
        return rows

    def _output(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The table's declared columns that reach the output, in spec order, lookup keys typed."""
        spec_table = self.spec.tables[table]
        if spec_table.lookup:
            return frame
        keys = {spec_table.primary_key} | {fk.child_column for fk in self.spec.fks_of(table)}
        columns = [c for c in spec_table.columns if c in keys or c in self.model_columns(table)]
        frame = frame.reindex(columns=columns)
        for fk in self.own.lookup_fks.get(table, []):
            keys = self.lookup_frames[fk.parent_table][fk.parent_column]
            back = {str(v): v for v in keys}
            frame[fk.child_column] = frame[fk.child_column].map(
                lambda v, b=back: b.get(v) if v is not None else None
            )
        return frame.reset_index(drop=True)


def model_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Columns a table's model learns: not keys to modelled tables, not dropped or pseudonymised.
    A function of the spec only (public): the gate builds joined profiles from the same columns."""
    spec_table = spec.tables[table]
    keys = {spec_table.primary_key} | {
        fk.child_column for fk in spec.fks_of(table) if fk.parent_table not in spec.lookups
    }
    dropped = set(dropped_columns(spec, table))
    return [
        c
        for c, col in spec_table.columns.items()
        if c not in keys and c not in dropped and col.mask != "pseudonymize"
    ]


def identifier_columns(spec: SchemaSpec, table: str) -> list[str]:
    """Columns that are not keys and never reach a model (direct identifiers, `mask: drop` or
    `mask: pseudonymize`): refilled with fakes from public inputs only (`relational.refill`)."""
    spec_table = spec.tables[table]
    if spec_table.lookup:
        return []
    keys = {spec_table.primary_key} | {fk.child_column for fk in spec.fks_of(table)}
    kept = set(model_columns(spec, table))
    return [c for c in spec_table.columns if c not in keys and c not in kept]


def count_buckets(k: int) -> list[tuple[int, int]]:
    """Public buckets of 0..k children: 0-5 one by one, then ranges growing by half (6-8, 9-12,
    ...). Fewer cells than k + 1 means less noise in total for the same rho; within a bucket the
    count is drawn uniformly."""
    buckets = [(i, i) for i in range(min(k, 5) + 1)]
    low = 6
    while low <= k:
        high = min(k, max(low, int(low * 1.5) - 1))
        buckets.append((low, high))
        low = high + 1
    return buckets


def bucket_of(buckets: list[tuple[int, int]], count: int) -> int:
    return next(i for i, (low, high) in enumerate(buckets) if low <= count <= high)


def conditional_shares(cells: list[tuple], noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Children-per-parent shares per condition cell, backing off when the budget is thin: a cell
    whose noisy number of parents is within noise (below 2 sigma sqrt(buckets x rows summed)) uses
    the sum of the cells sharing its first condition value, then the overall distribution. Sums
    of noisy cells are post-processing, so the budget decides how finely children are conditioned
    on their parent without a second measurement."""
    out = np.empty_like(noisy, dtype=float)
    unit = 2.0 * sigma * np.sqrt(noisy.shape[1])
    for i, cell in enumerate(cells):
        for depth in range(len(cell), -1, -1):
            group = [j for j, other in enumerate(cells) if other[:depth] == cell[:depth]]
            total = noisy[group].sum(axis=0)
            if depth == 0 or total.sum() >= unit * np.sqrt(len(group)):
                out[i] = simplex_shares(total)
                break
    return out


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))
