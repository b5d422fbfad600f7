"""The neighbouring relation of `lib.relational.contribution`, checked on data.

Neighbours: D' is D plus one person P with every row that is theirs -- their person row, their
own children (tickets), their link rows, and the entities only they hold with all those entities'
descendants (a pass P co-holds is in D already: it is the other holders' too). For many random
neighbours, on a small schema unlike the demo (riders, passes held by 1..4 riders through
`rider_passes`, trips per pass, tickets per rider), bound both instances again and check that

* every bounded table changes by at most its per-person multiplicity m(t) rows (a multiset
  symmetric difference of whole rows, helper columns included: nobody else's rows move);
* every measured figure moves by at most the sensitivity its noise is scaled to: the children-
  and holders-per-parent histograms (L2), each table's column marginals (L2), the leak count.

The hardest neighbours are people whose pseudonymised key sorts before everyone's and who
co-hold many existing passes: under a "smallest key owns the entity" rule they would take those
passes (and their trips) over from the other holders.
"""

from __future__ import annotations

import math
import string

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.figures import leaks
from synth_platform.lib.relational.figures.histograms import children_histogram, trend_tables
from synth_platform.lib.relational.figures.marginals import marginal_tables
from synth_platform.lib.relational.figures.plan import (
    children_bound,
    children_sensitivity,
    gate_plan,
    holders_fk,
    modelled_fks,
)
from synth_platform.lib.relational.schema_spec import parse_schema_spec
from synth_platform.lib.relational.synthesis.columns import model_columns
from synth_platform.lib.relational.synthesizer import RelationalSynthesizer

K_PASSES, K_HOLDERS, K_TRIPS, K_TICKETS = 3, 2, 4, 2
TABLES = ("riders", "tickets", "rider_passes", "passes", "trips")


def transit_spec():
    return parse_schema_spec(
        {
            "name": "transit",
            "person": "riders",
            "tables": {
                "riders": {
                    "primary_key": "rider_ref",
                    "columns": {
                        "rider_ref": {"type": "string"},
                        "mail": {"type": "string", "pii": {"class": "direct_identifier", "type": "email"}},
                        "tier": {"type": "category", "categories": ["child", "adult", "senior"]},
                    },
                },
                "tickets": {
                    "primary_key": "ticket_id",
                    "columns": {
                        "ticket_id": {"type": "integer"},
                        "rider_ref": {"type": "string"},
                        "fare": {"type": "float", "bounds": [0, 10]},
                    },
                },
                "passes": {
                    "primary_key": "pass_no",
                    "columns": {
                        "pass_no": {"type": "integer"},
                        "zone": {"type": "category", "categories": ["A", "B", "C"]},
                        "serial": {"type": "string", "pii": {"class": "direct_identifier", "type": "id"}},
                    },
                },
                "rider_passes": {
                    "link": True,
                    "columns": {
                        "rider_ref": {"type": "string"},
                        "pass_no": {"type": "integer"},
                        "role": {"type": "category", "categories": ["payer", "user"]},
                    },
                },
                "trips": {
                    "primary_key": "trip_id",
                    "columns": {
                        "trip_id": {"type": "integer"},
                        "pass_no": {"type": "integer"},
                        "minutes": {"type": "integer", "bounds": [0, 120]},
                        "line": {"type": "category", "categories": ["U1", "U2", "S5"]},
                    },
                },
            },
            "foreign_keys": [
                {"column": "tickets.rider_ref", "references": "riders.rider_ref", "max_children": K_TICKETS},
                {
                    "column": "rider_passes.rider_ref",
                    "references": "riders.rider_ref",
                    "max_children": K_PASSES,
                },
                {"column": "rider_passes.pass_no", "references": "passes.pass_no", "max_children": K_HOLDERS},
                {"column": "trips.pass_no", "references": "passes.pass_no", "max_children": K_TRIPS},
            ],
        }
    )


def _key(rng) -> str:
    """A pseudonym-like key: 12 random hex digits (sorts after '0000...', the first-sorting rider)."""
    return "".join(rng.choice(list("123456789abcdef"), 12))


def transit_data(seed: int, riders: int = 40) -> dict[str, pd.DataFrame]:
    """Riders with 0..7 passes each (over the cap of 3), passes with 1..4 holders, 0..7 trips."""
    rng = np.random.default_rng(seed)
    keys = sorted({_key(rng) for _ in range(riders)})
    people = pd.DataFrame(
        {
            "rider_ref": keys,
            "mail": [f"r{i}@example.org" for i in range(len(keys))],
            "tier": rng.choice(["child", "adult", "senior"], len(keys)),
        }
    )
    per = rng.integers(0, 5, len(keys))
    tickets = pd.DataFrame(
        {
            "ticket_id": np.arange(per.sum()) + 10_000,
            "rider_ref": np.repeat(keys, per),
            "fare": rng.uniform(0, 10, per.sum()).round(2),
        }
    )
    passes, link = [], []
    for p in range(len(keys) // 2 + 5):
        holders = rng.choice(len(keys), int(rng.integers(1, 5)), replace=False)
        passes.append((1000 + p, str(rng.choice(["A", "B", "C"])), f"SER-{seed}-{p}"))
        link += [(keys[h], 1000 + p, "payer" if j == 0 else "user") for j, h in enumerate(holders)]
    heavy = keys[len(keys) // 2]  # a rider holding many passes
    link += [(heavy, 1000 + p, "user") for p in range(0, len(passes), 2)]
    link = pd.DataFrame(link, columns=["rider_ref", "pass_no", "role"]).drop_duplicates(
        ["rider_ref", "pass_no"]
    )
    passes = pd.DataFrame(passes, columns=["pass_no", "zone", "serial"])
    trips_per = rng.integers(0, 8, len(passes))
    trips = pd.DataFrame(
        {
            "trip_id": np.arange(trips_per.sum()) + 50_000,
            "pass_no": np.repeat(passes["pass_no"].to_numpy(), trips_per),
            "minutes": rng.integers(0, 120, trips_per.sum()),
            "line": rng.choice(["U1", "U2", "S5"], trips_per.sum()),
        }
    )
    return {"riders": people, "tickets": tickets, "passes": passes, "rider_passes": link, "trips": trips}


def without(data: dict[str, pd.DataFrame], rider: str) -> dict[str, pd.DataFrame]:
    """D minus one rider and every row that is theirs (passes only they hold, with their trips)."""
    link = data["rider_passes"]
    theirs = set(link.loc[link["rider_ref"] == rider, "pass_no"])
    others = set(link.loc[link["rider_ref"] != rider, "pass_no"])
    only = theirs - others
    return {
        "riders": data["riders"][data["riders"]["rider_ref"] != rider],
        "tickets": data["tickets"][data["tickets"]["rider_ref"] != rider],
        "rider_passes": link[link["rider_ref"] != rider],
        "passes": data["passes"][~data["passes"]["pass_no"].isin(only)],
        "trips": data["trips"][~data["trips"]["pass_no"].isin(only)],
    }


def with_first_rider(data: dict[str, pd.DataFrame], rng, co_held: int, new: int) -> dict[str, pd.DataFrame]:
    """D plus a rider whose key sorts before everyone's, co-holding `co_held` existing passes
    (those with the most holders first) and holding `new` passes of their own with trips."""
    rider = "0000" + "".join(rng.choice(list(string.digits), 8))
    link = data["rider_passes"]
    holders = link.groupby("pass_no").size().sort_values(ascending=False, kind="stable")
    shared = list(holders.index[:co_held])
    start = int(data["passes"]["pass_no"].max()) + 1
    own = list(range(start, start + new))
    trips_start = int(data["trips"]["trip_id"].max()) + 1
    trips = pd.DataFrame(
        {
            "trip_id": np.arange(trips_start, trips_start + 3 * new),
            "pass_no": np.repeat(own, 3),
            "minutes": rng.integers(0, 120, 3 * new),
            "line": rng.choice(["U1", "U2", "S5"], 3 * new),
        }
    )
    added = {
        "riders": [(rider, "first@example.org", "adult")],
        "tickets": [(1, rider, 2.5)],
        "rider_passes": [(rider, int(p), "user") for p in shared + own],
        "passes": [(p, "A", f"SER-new-{p}") for p in own],
        "trips": list(trips.itertuples(index=False, name=None)),
    }
    out = {}
    for table, frame in data.items():
        extra = pd.DataFrame(added[table], columns=frame.columns)
        out[table] = pd.concat([frame, extra.astype(frame.dtypes.to_dict())], ignore_index=True)
    return out


def _load(con, name: str, frame: pd.DataFrame) -> None:
    cursor = con.cursor()
    cursor.register("frame", frame.reset_index(drop=True))
    cursor.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
    cursor.close()


PLAN = gate_plan(transit_spec(), contrib.required_bounds(transit_spec()))


class Measured:
    """One instance, bounded, and everything measured on it."""

    def __init__(self, con, spec, data: dict[str, pd.DataFrame], name: str, synthetic: dict[str, str]):
        relations = {}
        for table, frame in data.items():
            _load(con, f"{name}_{table}", frame)
            relations[table] = f"{name}_{table}"
        bounds = contrib.required_bounds(spec)
        self.bounded, self.report = contrib.bound_contributions(con, spec, relations, f"b_{name}", bounds)
        self.rows = {t: con.execute(f"SELECT * FROM {self.bounded[t]}").df() for t in TABLES}
        self.histograms = {}
        for fk in modelled_fks(spec):
            pk = spec.tables[fk.parent_table].primary_key
            k = children_bound(spec, fk, bounds)
            holders = holders_fk(spec, fk)
            self.histograms[fk.column] = children_histogram(con, self.bounded, fk, pk, k, holders)
        self.marginals = {
            t: np.concatenate(
                [real for real, _ in marginal_tables(con, spec, t, self.bounded[t], synthetic[t])]
            )
            for t in TABLES
        }
        # the synthesizer's holders histogram: co-holders 0..k_e-1, the last cell "or more"
        self.holders = np.zeros(K_HOLDERS)
        for n, entities in contrib.holder_counts(con, self.bounded["rider_passes"]).items():
            self.holders[min(n - 1, K_HOLDERS - 1)] += entities
        self.leaks = {
            t: leaks.leak_count(con, self.bounded[t], synthetic[t], columns)
            for t, columns in leaks.leak_tables(spec).items()
        }
        self.trends = {}
        for fk in modelled_fks(spec):
            if f"pair_trends:{fk.column}" in PLAN:
                k = children_bound(spec, fk, bounds)
                tables = trend_tables(con.cursor(), spec, fk, k, self.bounded, synthetic)
                self.trends[fk.column] = np.concatenate([real for real, _ in tables])
        # the rows each table's attribute model trains on (at most rows_per_person per person)
        synthesizer = RelationalSynthesizer(spec, epsilon=1.0, delta=1e-6)
        synthesizer.bound_report = self.report
        self.training = {}
        for table in TABLES:
            relation = synthesizer._training_relation(con, table, self.bounded, f"b_{name}", [])
            self.training[table] = con.execute(f"SELECT * FROM {relation}").df()
        self.training_m = {t: synthesizer._multiplicity(t) for t in TABLES}


def _row_difference(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Size of the multiset symmetric difference of two tables' rows (all columns, as text)."""
    ca = a.astype(str).apply(tuple, axis=1).value_counts()
    cb = b.astype(str).apply(tuple, axis=1).value_counts()
    both = ca.index.union(cb.index)
    return int((ca.reindex(both, fill_value=0) - cb.reindex(both, fill_value=0)).abs().sum())


def _synthetic(con, data) -> dict[str, str]:
    """A fixed "synthetic" side (public cells and leak candidates): some real values on purpose."""
    out = {}
    for table, frame in data.items():
        _load(con, f"syn_{table}", frame.sample(frac=0.5, random_state=0))
        out[table] = f"syn_{table}"
    return out


def _check(spec, small: Measured, large: Measured, what: str) -> None:
    bounds = contrib.required_bounds(spec)
    m = contrib.multiplicities(spec, bounds)
    for table in TABLES:
        changed = _row_difference(small.rows[table], large.rows[table])
        assert changed <= m[table], f"{what}: {table} changed by {changed} rows > m = {m[table]}"
    for fk in modelled_fks(spec):
        moved = float(np.linalg.norm(large.histograms[fk.column] - small.histograms[fk.column]))
        allowed = children_sensitivity(spec, fk, m, bounds)
        assert moved <= allowed + 1e-9, f"{what}: children per parent along {fk.column}: {moved} > {allowed}"
    for table in TABLES:
        changed = _row_difference(small.training[table], large.training[table])
        allowed = small.training_m[table]
        assert changed <= allowed, f"{what}: training rows of {table} changed by {changed} > {allowed}"
    for column, trend in large.trends.items():
        moved = float(np.linalg.norm(trend - small.trends[column]))
        allowed = PLAN[f"pair_trends:{column}"]["sensitivity"]
        assert moved <= allowed + 1e-9, f"{what}: pair trends along {column}: {moved} > {allowed}"
    moved = float(np.linalg.norm(large.holders - small.holders))
    allowed = contrib.HOLDERS_SENSITIVITY * m["rider_passes"]
    assert moved <= allowed + 1e-9, f"{what}: holders per pass moved {moved} > {allowed}"
    for table in TABLES:
        columns = len(model_columns(spec, table))
        moved = float(np.linalg.norm(large.marginals[table] - small.marginals[table]))
        assert moved <= m[table] * math.sqrt(columns) + 1e-9, f"{what}: marginals of {table}"
    for table, count in large.leaks.items():
        moved = abs(count - small.leaks[table])
        assert moved <= leaks.leak_sensitivity(spec, table, m, bounds), f"{what}: leaks of {table}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_removing_or_adding_one_person_moves_at_most_the_stated_rows(seed):
    spec = transit_spec()
    data = transit_data(seed)
    con = duckdb.connect()
    synthetic = _synthetic(con, data)
    full = Measured(con, spec, data, "full", synthetic)
    rng = np.random.default_rng(100 + seed)
    riders = list(data["riders"]["rider_ref"])
    for i, rider in enumerate(rng.choice(riders, 8, replace=False)):
        smaller = Measured(con, spec, without(data, rider), f"minus{i}", synthetic)
        _check(spec, smaller, full, f"seed {seed}, without rider #{i}")
    for i, (co_held, new) in enumerate([(1, 0), (3, 0), (6, 1), (2, 2), (8, 3)]):
        larger = Measured(con, spec, with_first_rider(data, rng, co_held, new), f"plus{i}", synthetic)
        _check(spec, full, larger, f"seed {seed}, first-sorting rider co-holding {co_held}, owning {new}")
