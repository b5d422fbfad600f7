"""A generated demo schema (seeded, no downloads): five related tables of a small retail bank.

Why generated: the related-table chain needs a schema with known structure to show and measure
what it preserves -- how many accounts a person holds depends on their segment, joint accounts
make the link table many-to-many, how many transactions an account has depends on its type, and
amounts depend on the holder's segment. A public lookup (regions) is referenced by people.

Tables: `regions` (public lookup), `people` (the person: the privacy unit; `full_name` is a
direct identifier, dropped before modelling), `accounts`, `people_accounts` (the many-to-many
link, `role` owner/joint), `transactions` (several per account).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.relational.schema_spec import SchemaSpec, parse_schema_spec

REGIONS = [
    (1, "North", "Norland"),
    (2, "South", "Norland"),
    (3, "East", "Estovia"),
    (4, "West", "Estovia"),
    (5, "Capital", "Norland"),
    (6, "Islands", "Estovia"),
]
SEGMENTS = ["retail", "premium", "business"]
ACCOUNT_TYPES = ["checking", "savings", "credit"]
CATEGORIES = ["groceries", "rent", "travel", "salary", "fuel", "other"]
CHANNELS = ["card", "online", "atm"]
_FIRST = ["Ana", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Giorgos", "Hana", "Ivo", "Jun"]
_LAST = ["Novák", "Okafor", "Petrov", "Quispe", "Rossi", "Sato", "Tanaka", "Urban", "Varga", "Weiß"]


def demo_schema_dict(declared_bounds: bool = True) -> dict:
    """The demo schema spec as a mapping (what its YAML file holds). Without `declared_bounds`
    the transactions-per-account bound is left out, to be chosen under DP (the link's two bounds
    are always declared)."""

    def k(value: int) -> dict:
        return {"max_children": value} if declared_bounds else {}

    return {
        "name": "bank_demo",
        "description": "Generated retail-bank schema: people, accounts, joint holdings, transactions.",
        "person": "people",
        "tables": {
            "regions": {
                "primary_key": "region_id",
                "lookup": True,
                "columns": {
                    "region_id": {"type": "integer"},
                    "region_name": {"type": "string"},
                    "country": {"type": "string"},
                },
            },
            "people": {
                "primary_key": "person_id",
                "columns": {
                    "person_id": {"type": "integer"},
                    "full_name": {"type": "string", "pii": {"class": "direct_identifier", "type": "name"}},
                    "region_id": {"type": "integer"},
                    "age": {"type": "integer", "bounds": [18, 95]},
                    "segment": {"type": "category", "categories": SEGMENTS},
                    "income": {"type": "float", "bounds": [0, 400000]},
                },
            },
            "accounts": {
                "primary_key": "account_id",
                "columns": {
                    "account_id": {"type": "string"},
                    "account_type": {"type": "category", "categories": ACCOUNT_TYPES},
                    "opened_year": {"type": "integer", "bounds": [1990, 2025]},
                },
            },
            "people_accounts": {
                "link": True,
                "columns": {
                    "person_id": {"type": "integer"},
                    "account_id": {"type": "string"},
                    "role": {"type": "category", "categories": ["owner", "joint"]},
                },
            },
            "transactions": {
                "primary_key": "txn_id",
                "columns": {
                    "txn_id": {"type": "integer"},
                    "account_id": {"type": "string"},
                    "amount": {"type": "float", "bounds": [0, 5000]},
                    "category": {"type": "category", "categories": CATEGORIES},
                    "channel": {"type": "category"},
                },
            },
        },
        "foreign_keys": [
            {"column": "people.region_id", "references": "regions.region_id"},
            {"column": "people_accounts.person_id", "references": "people.person_id", "max_children": 6},
            {"column": "people_accounts.account_id", "references": "accounts.account_id", "max_children": 3},
            {"column": "transactions.account_id", "references": "accounts.account_id", **k(25)},
        ],
    }


def demo_schema_spec(declared_bounds: bool = True) -> SchemaSpec:
    return parse_schema_spec(demo_schema_dict(declared_bounds), "demo schema")


def demo_tables(people: int = 2000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The five tables, generated with dependencies the synthesizer should keep (see module doc)."""
    rng = np.random.default_rng(seed)
    regions = pd.DataFrame(REGIONS, columns=["region_id", "region_name", "country"])
    segment = rng.choice(SEGMENTS, people, p=[0.65, 0.25, 0.10])
    age = np.clip(rng.normal(45, 15, people), 18, 95).astype(int)
    income_base = pd.Series(segment).map({"retail": 35000, "premium": 90000, "business": 140000}).to_numpy()
    person_ids = rng.choice(np.arange(10_000, 10_000 + 20 * people), people, replace=False)
    persons = pd.DataFrame(
        {
            "person_id": person_ids,
            "full_name": [f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {i}" for i in range(people)],
            "region_id": rng.choice([r[0] for r in REGIONS], people, p=[0.2, 0.2, 0.15, 0.15, 0.25, 0.05]),
            "age": age,
            "segment": segment,
            "income": np.round(np.clip(income_base * rng.lognormal(0, 0.35, people), 0, 400000), 2),
        }
    )
    owned_mean = pd.Series(segment).map({"retail": 0.6, "premium": 1.8, "business": 3.2}).to_numpy()
    owned = 1 + rng.poisson(owned_mean)
    accounts, links = [], []
    for person, segment_i, count in zip(person_ids, segment, owned, strict=True):
        for _ in range(int(count)):
            account_id = f"AC{len(accounts) + 100000:07d}"
            kind = rng.choice(ACCOUNT_TYPES, p=[0.5, 0.3, 0.2] if segment_i == "retail" else [0.3, 0.3, 0.4])
            accounts.append((account_id, kind, int(rng.integers(1990, 2026)), segment_i))
            links.append((int(person), account_id, "owner"))
            if rng.random() < 0.2:  # a joint holder: someone else
                links.append((int(rng.choice(person_ids)), account_id, "joint"))
    account_frame = pd.DataFrame(accounts, columns=["account_id", "account_type", "opened_year", "_segment"])
    link_frame = pd.DataFrame(links, columns=["person_id", "account_id", "role"]).drop_duplicates(
        ["person_id", "account_id"]
    )
    rate = account_frame["account_type"].map({"checking": 9.0, "savings": 1.5, "credit": 6.0}).to_numpy()
    per_account = rng.poisson(rate)
    scale = account_frame["_segment"].map({"retail": 40.0, "premium": 120.0, "business": 300.0}).to_numpy()
    rows = np.repeat(np.arange(len(account_frame)), per_account)
    amount = np.clip(rng.gamma(2.0, 1.0, rows.size) * scale[rows], 0, 5000).round(2)
    category = rng.choice(CATEGORIES, rows.size, p=[0.3, 0.1, 0.1, 0.15, 0.15, 0.2])
    transactions = pd.DataFrame(
        {
            "txn_id": np.arange(1, rows.size + 1),
            "account_id": account_frame["account_id"].to_numpy()[rows],
            "amount": amount,
            "category": category,
            "channel": rng.choice(CHANNELS, rows.size, p=[0.6, 0.3, 0.1]),
        }
    )
    return {
        "regions": regions,
        "people": persons,
        "accounts": account_frame.drop(columns="_segment"),
        "people_accounts": link_frame.reset_index(drop=True),
        "transactions": transactions,
    }


def load_tables(con, frames: dict[str, pd.DataFrame], schema: str) -> dict[str, str]:
    """Write frames as DuckDB tables `schema.name`; returns name -> qualified relation."""
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    out = {}
    for name, frame in frames.items():
        con.register("_frame", frame)
        con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM _frame')
        con.unregister("_frame")
        out[name] = f'"{schema}"."{name}"'
    return out
