"""Seeded tables unlike the demo, with the spec a new user would write for them (issue 14).

Both specs keep every default (synthesizer `dp_mst`, its default budget, default checks) and
declare no bounds or categories, except the race's date window, which a user naturally knows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _spec(name: str, columns: dict[str, dict], key: str | None = None) -> dict:
    """A default spec: only the name, the landing folder and the column types."""
    source = {"landing_dir": f"data/landing/{name}", "format": "csv"}
    spec = {"name": name, "source": source, "columns": columns}
    if key is not None:
        spec["key"] = key
    return spec


def numeric_table(rows: int = 30_000, seed: int = 11) -> tuple[pd.DataFrame, dict]:
    """All numeric: an integer id, skewed and heavy-tailed amounts with negatives, a column of
    mostly zeros, integer counts, and small integer codes."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10.5, 0.8, rows), 2)
    data = {
        "id": rng.permutation(rows) + 1,
        "age": rng.integers(18, 91, rows),
        "income": income,
        "balance": np.round(rng.standard_t(2.5, rows) * 4_000 + 1_500, 2),
        "net_flow": np.round(rng.laplace(0.0, 250.0, rows), 2),
        "claims": np.where(rng.random(rows) < 0.85, 0.0, np.round(rng.pareto(1.5, rows) * 900, 2)),
        "visits": rng.poisson(rng.gamma(1.2, 3.0, rows)),
        "defaults": (rng.random(rows) < 0.07).astype(int),
        "temperature_delta": np.round(rng.normal(-1.5, 3.2, rows), 3),
        "score": np.round(rng.beta(2, 5, rows) * 1000, 1),
        "tenure_months": np.minimum(rng.geometric(0.02, rows), 600),
        "rate": np.round(rng.gamma(2.0, 0.015, rows), 5),
    }
    frame = pd.DataFrame(data)
    floats = {"income", "balance", "net_flow", "claims", "temperature_delta", "score", "rate"}
    columns = {c: {"type": "float" if c in floats else "integer"} for c in frame.columns}
    return frame, _spec("honest_numeric", columns)


RACE_CLUBS = ["Harriers", "Striders", "Road Runners", "Athlétique Club", "Trail & Fell", "None"]
RACE_CATEGORIES = ["M20", "M35", "M45", "M55", "F20", "F35", "F45", "F55"]


def race_results(rows: int = 5_345, seed: int = 12) -> tuple[pd.DataFrame, dict]:
    """Race results with odd column names: spaces, punctuation, '#', '/', non-ASCII letters."""
    rng = np.random.default_rng(seed)
    pace = rng.lognormal(np.log(300.0), 0.18, rows)  # seconds per km
    split5 = np.round(pace * 5 * rng.normal(1.0, 0.03, rows), 1)
    finish = np.round(pace * 10 * rng.normal(1.01, 0.04, rows), 2)
    days = rng.integers(0, 3 * 365, rows)
    data = {
        "Bib #": rng.permutation(np.arange(1, rows + 1)) + 1000,
        "Finish time (s)": finish,
        "Split 5km": split5,
        "Età": rng.integers(16, 84, rows),
        "Club/Team": rng.choice(RACE_CLUBS, rows, p=[0.2, 0.2, 0.15, 0.1, 0.05, 0.3]),
        "Cat.": rng.choice(RACE_CATEGORIES, rows),
        "Sex (M/F)": rng.choice(["M", "F"], rows, p=[0.58, 0.42]),
        "Race date": (pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
        "Pos. overall": rng.integers(1, rows + 1, rows),
        "DNF?": rng.choice(["no", "yes"], rows, p=[0.97, 0.03]),
        "Heart-rate avg (bpm)": np.round(rng.normal(162, 9, rows)).astype(int),
    }
    frame = pd.DataFrame(data)
    types = {
        "Bib #": "integer",
        "Finish time (s)": "float",
        "Split 5km": "float",
        "Età": "integer",
        "Club/Team": "category",
        "Cat.": "category",
        "Sex (M/F)": "category",
        "Race date": "date",
        "Pos. overall": "integer",
        "DNF?": "category",
        "Heart-rate avg (bpm)": "integer",
    }
    columns = {c: {"type": t} for c, t in types.items()}
    columns["Race date"]["bounds"] = ["2022-01-01", "2024-12-31"]  # the races' window: a user knows it
    return frame, _spec("race_results", columns)
