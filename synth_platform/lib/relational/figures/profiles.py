"""Attacks on joined profiles, in DuckDB SQL over keyed samples of public size.

A person's *joined profile* is one row: their model columns, plus per modelled table the rows
attributed to them, up to two rounded means and up to two most frequent values. The figures are
the single-table gate's exact and close copies (`bounded_figures`), read on profiles: the share of
training people whose profile has a copy among the synthetic people's profiles, minus the same
share of holdout people, over keyed samples of m people per side (m public: `public_size` of the
noisy people counts, capped at `bounded_figures.DISTANCE_PEOPLE`).

Why in SQL and sampled first: a profile per person of every side in pandas grows with the number
of people. Here the people are chosen first, in DuckDB (`sample_people`: the `PROFILE_PEOPLE`
people with the smallest keyed hash of their person key), and only their profiles are built and
read; `bounded_figures.keyed_sample` then picks the check's m people among them, as before. One
person added or removed changes each stage's choice by at most one person in and one out, and a
profile depends on that person's own rows only, so the composition keeps Δ = 1/m per side (close
copies: sqrt(C)/m). The synthetic side is public (a DP output): its exact copies are searched over
*every* synthetic profile, streamed from DuckDB in batches (`STREAM_VECTORS`), and its close
copies over a keyed sample of `SYNTHETIC_PROFILES` synthetic people. With at most
`PROFILE_PEOPLE` real people per side and `SYNTHETIC_PROFILES` synthetic people (the tests, the
bench) every profile is read, so the figures are those of the whole-table build.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.gate import bounded_figures as bf
from synth_platform.lib.gate import private_decision as pd_
from synth_platform.lib.gate.evaluation.inputs import GATE_SAMPLE_ROWS
from synth_platform.lib.gate.privacy import _row_hashes
from synth_platform.lib.relational.contribution import PERSON, q
from synth_platform.lib.relational.figures.attribution import attribute_synthetic
from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership
from synth_platform.lib.relational.synthesis.columns import model_columns

#: summaries per table in a joined profile
PROFILE_NUMBERS = 2
PROFILE_CATEGORIES = 2
NUMERIC = ("integer", "float", "date")
#: real people per side whose profiles are built and read (the attacks' m never exceeds it)
PROFILE_PEOPLE = bf.DISTANCE_PEOPLE
#: synthetic people the close-copy search compares against (as the single-table gate's sample)
SYNTHETIC_PROFILES = GATE_SAMPLE_ROWS
#: DuckDB vectors (2,048 rows each) per streamed batch of synthetic profiles (exact copies)
STREAM_VECTORS = 25


def _people_only(relation: str, people: str | None) -> str:
    """`relation` restricted to the sampled people (all rows when `people` is None)."""
    if people is None:
        return relation
    return f"(SELECT * FROM {relation} WHERE {PERSON} IN (SELECT {PERSON} FROM {people}))"


def profile_sql(spec: SchemaSpec, relations: dict[str, str], people: str | None = None) -> str:
    """One row per person (`relations` carry `__person`; `people`: a relation of the persons to
    build, else all): the person's model columns, then per modelled table the rows attributed to
    them (`n__<t>`), means of up to two numbers (rounded to 6 decimals: equal rows give equal
    profiles whatever the summation order) and the most frequent value of up to two categories
    (ties: the smallest text). Depends on the person's rows only."""
    relations = {name: _people_only(relation, people) for name, relation in relations.items()}
    person = spec.person
    select = [f"p.{PERSON}"] + [f"p.{q(c)}" for c in model_columns(spec, person)]
    joins, ctes = [], []
    for i, table in enumerate(t for t in ownership(spec).order if t != person):
        columns = spec.tables[table].columns
        numbers = [c for c in model_columns(spec, table) if columns[c].type in ("integer", "float")]
        categories = [c for c in model_columns(spec, table) if columns[c].type not in NUMERIC]
        aggregates = [f"count(*) AS {q('n__' + table)}"] + [
            f"round(avg(CAST({q(c)} AS DOUBLE)), 6) AS {q(f'mean__{table}__{c}')}"
            for c in numbers[:PROFILE_NUMBERS]
        ]
        ctes.append(f"a{i} AS (SELECT {PERSON}, {', '.join(aggregates)} FROM {relations[table]} GROUP BY 1)")
        joins.append(f"LEFT JOIN a{i} ON a{i}.{PERSON} = p.{PERSON}")
        select.append(f"coalesce(a{i}.{q('n__' + table)}, 0) AS {q('n__' + table)}")
        select += [f"a{i}.{q(f'mean__{table}__{c}')}" for c in numbers[:PROFILE_NUMBERS]]
        for j, c in enumerate(categories[:PROFILE_CATEGORIES]):
            name = f"m{i}_{j}"
            ctes.append(
                f"{name} AS (SELECT {PERSON}, v FROM (SELECT {PERSON}, CAST({q(c)} AS VARCHAR) AS v, "
                f"count(*) AS k FROM {relations[table]} GROUP BY 1, 2) "
                f"QUALIFY row_number() OVER (PARTITION BY {PERSON} ORDER BY k DESC, v NULLS LAST) = 1)"
            )
            joins.append(f"LEFT JOIN {name} ON {name}.{PERSON} = p.{PERSON}")
            select.append(f"{name}.v AS {q(f'mode__{table}__{c}')}")
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{with_}SELECT {', '.join(select)} FROM {relations[person]} p {' '.join(joins)}"


def joined_profiles(
    con, spec: SchemaSpec, relations: dict[str, str], people: str | None = None
) -> pd.DataFrame:
    """The joined profiles of `people` (a relation with `__person`; None: everyone) as a frame,
    in person order, without the person column. Bounded only when `people` is."""
    sql = profile_sql(spec, relations, people)
    return con.execute(f"{sql} ORDER BY p.{PERSON}").df().drop(columns=[PERSON])


def sample_people(con, person_relation: str, hash_key: str, limit: int, target: str) -> str:
    """Temporary table `target` of the `limit` people with the smallest keyed hash of their person key (all
    when fewer): a fixed function of the people and the key; one person added or removed changes
    it by at most one person in and one out. Top-k in DuckDB: memory is `limit` keys."""
    literal = "'" + hash_key.replace("'", "''") + "'"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {PERSON} FROM {person_relation} "
        f"ORDER BY hash({literal}, {PERSON}), {PERSON} LIMIT {int(limit)}"
    )
    return target


def streamed_exact_hits(con, sql: str, people: list[pd.DataFrame], columns: list[str]) -> list[int]:
    """Per frame of `people`, how many have an identical profile (`bounded_figures.exact_copy_hits`'
    rule) among the rows of `sql`, read in batches: memory is one batch, whatever the rows."""
    wanted = [_row_hashes(frame, columns) if len(frame) else np.empty(0, np.uint64) for frame in people]
    found = [np.zeros(len(h), dtype=bool) for h in wanted]
    con.execute(sql)
    try:
        while not (batch := con.fetch_df_chunk(STREAM_VECTORS)).empty:
            hashes = _row_hashes(batch, columns)
            for flags, h in zip(found, wanted, strict=True):
                flags |= np.isin(h, hashes)
    except BaseException:
        con.abort()  # a read-only result left open would refuse the connection's next statement
        raise
    return [int(flags.sum()) for flags in found]


def profile_figures(con, spec, train, holdout, synthetic, noise, rho, checks, z, counts, scratch):
    """(exact, close) noisy figures: copies of joined profiles, train vs holdout, on keyed samples
    of public size (module docstring). Only counts leave this function."""
    n_t, n_h, sigma_n = counts
    attributed = attribute_synthetic(con, spec, synthetic, scratch)
    key = pd_.sample_key(noise.key, "relational-profiles")
    people_key = pd_.sample_key(noise.key, "relational-profile-people")
    m_t = pd_.public_size(n_t, sigma_n, PROFILE_PEOPLE)  # never more than the people read
    m_h = pd_.public_size(n_h, sigma_n, PROFILE_PEOPLE)
    frames = []
    for side, relations, limit in (
        ("train", train, PROFILE_PEOPLE),
        ("holdout", holdout, PROFILE_PEOPLE),
        ("synthetic", attributed, SYNTHETIC_PROFILES),
    ):
        people = sample_people(con, relations[spec.person], people_key, limit, q(f"__profile_people_{side}"))
        frames.append(joined_profiles(con, spec, relations, people))
        con.execute(f"DROP TABLE {people}")
    columns = list(frames[2].columns)
    numeric = bf.numeric_columns(frames[2], columns)  # from the warehouse types: public
    people_t, people_h = bf.keyed_sample(frames[0], m_t, key), bf.keyed_sample(frames[1], m_h, key)
    every_synthetic = f"SELECT * EXCLUDE ({PERSON}) FROM ({profile_sql(spec, attributed)})"
    hits = streamed_exact_hits(con, every_synthetic, [people_t, people_h], columns)
    exact = pd_.noisy_share_difference(
        noise,
        "profile_exact_copies",
        hits[0],
        m_t,
        hits[1],
        m_h,
        rho["profile_exact_copies"],
        checks.max_profile_exact_copy_excess,
        z,
    )
    close_t, close_h = bf.close_copy_hits(people_t, people_h, frames[2], columns, numeric)
    close = pd_.noisy_share_differences(
        noise,
        "profile_close_copies",
        close_t,
        m_t,
        close_h,
        m_h,
        rho["profile_close_copies"],
        checks.max_profile_close_copy_excess,
        z,
    )
    return exact, close
