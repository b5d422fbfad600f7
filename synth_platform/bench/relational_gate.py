"""The release gate across tables on the generated bank schema (issue 18): cost, honesty, power.

Generates the demo schema (`lib.relational.demo_schema`), pseudonymises its keys, bounds each
person's contribution, splits by person, fits `RelationalSynthesizer` on the training side
(epsilon 1 per person) and samples (in chunks), then runs `lib.relational.gate.evaluate_schema`:

- on the honest sample: every verdict (noisy value, threshold, pass) and the gate's seconds;
- on copiers: the honest sample plus a share of training people copied whole (their row, the
  accounts they own with all holders copied too, every transaction), fresh keys -- the figure
  that must block them is the joined-profile one;
- sampling in one frame vs in chunks: seconds, and the peak Python memory of each (tracemalloc).

`python -m synth_platform.bench.relational_gate [--people 10000] [--gate-rho 0.01] [--shares 0.02,0.05,0.1]`
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

SECRET = b"bench-platform-key"


def copier(con, spec, train: dict[str, str], honest: dict[str, pd.DataFrame], share: float) -> dict:
    """The honest sample plus every row attributed to the first `share` of training people (keyed
    order), keys remapped to fresh ones below every honest key. Each copied holding brings its own
    copy of the account and its transactions (the bounding's copies: lib.relational.contribution),
    so a joint account one copied person holds becomes that person's own account; a co-holder who
    is not copied is not brought along."""
    from synth_platform.lib.relational.contribution import HELPER_COLUMNS, PERSON
    from synth_platform.lib.relational.schema_spec import ownership

    own = ownership(spec)
    people = con.execute(f"SELECT {PERSON} FROM {train[spec.person]} ORDER BY 1").df()[PERSON]
    chosen = set(people.iloc[: int(len(people) * share)])
    frames = {}
    for table in own.order:
        frame = con.execute(f"SELECT * FROM {train[table]}").df()
        frames[table] = frame[frame[PERSON].isin(chosen)].copy()
    maps = {}
    for table in own.order:
        pk = spec.tables[table].primary_key
        if pk is None:
            continue
        old = sorted(frames[table][pk].dropna().unique())
        integer = spec.tables[table].columns[pk].type == "integer"
        # below the honest keys (1..n, '<table>-0000001'): 'a' sorts before every table name here
        maps[table] = {k: (i - 10**9 if integer else f"a-copy-{i:07d}") for i, k in enumerate(old)}
    honest_people = honest[spec.person][spec.tables[spec.person].primary_key].to_numpy()
    for table in own.order:
        frame = frames[table]
        pk = spec.tables[table].primary_key
        if pk is not None:
            frame[pk] = frame[pk].map(maps[table])
            if spec.tables[table].columns[pk].type == "integer":
                frame[pk] = frame[pk].astype("int64")
        for fk in spec.fks_of(table):
            if fk.parent_table in maps:
                mapped = frame[fk.child_column].map(maps[fk.parent_table])
                if own.link is not None and fk.column == own.link.side.column:
                    missing = mapped.isna().to_numpy()
                    stand_in = honest_people[np.arange(int(missing.sum())) % len(honest_people)]
                    mapped = mapped.astype(object)
                    mapped[missing] = stand_in
                if spec.tables[fk.parent_table].columns[fk.parent_column].type == "integer":
                    mapped = mapped.astype("int64")
                frame[fk.child_column] = mapped
        frames[table] = frame.drop(columns=[c for c in HELPER_COLUMNS if c in frame.columns])
    return {
        name: pd.concat([honest[name], frames[name]], ignore_index=True) if name in frames else honest[name]
        for name in honest
    }


def _peak(fn):
    tracemalloc.start()
    started = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def run(people: int, epsilon: float, gate_rho: float, shares: list[float], iters: int, seed: int) -> dict:
    import duckdb

    from synth_platform.lib.gate.private_decision import GateNoise
    from synth_platform.lib.relational import contribution as contrib
    from synth_platform.lib.relational import gate
    from synth_platform.lib.relational.demo_schema import demo_schema_spec, demo_tables, load_tables
    from synth_platform.lib.relational.person_split import split_by_person
    from synth_platform.lib.relational.pseudonyms import pseudonymise
    from synth_platform.lib.relational.synthesizer import RelationalSynthesizer

    con = duckdb.connect()
    spec = demo_schema_spec()
    raw = load_tables(con, demo_tables(people=people, seed=seed), "raw")
    masked = pseudonymise(con, spec, raw, SECRET, "masked")
    bounded, report = contrib.bound_contributions(con, spec, masked, "bounded", contrib.required_bounds(spec))
    split = split_by_person(con, spec, bounded, SECRET, "train", "holdout")
    plain = {}
    con.execute("CREATE SCHEMA plain")
    for name, relation in split.train.items():
        columns = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
        keep = ", ".join(f'"{c}"' for c in columns if c not in contrib.HELPER_COLUMNS)
        con.execute(f'CREATE VIEW plain."{name}" AS SELECT {keep} FROM {relation}')
        plain[name] = f'plain."{name}"'
    synthesizer = RelationalSynthesizer(spec, epsilon=epsilon, iters=iters)
    started = time.perf_counter()
    synthesizer.fit(con, plain, scratch="fit")
    fit_seconds = time.perf_counter() - started
    n = synthesizer.people_to_sample()
    sample, one_seconds, one_peak = _peak(lambda: synthesizer.sample(seed=seed))

    def chunked():
        rows = 0
        for chunk in synthesizer.sample_chunks(seed=seed, people=n, chunk_people=max(1, n // 8)):
            rows += sum(len(f) for f in chunk.values())  # written and dropped: one chunk in memory
        return rows

    _, chunk_seconds, chunk_peak = _peak(chunked)
    out = {
        "fit_seconds": fit_seconds,
        "sampling": {
            "one frame": (one_seconds, one_peak),
            "8 chunks": (chunk_seconds, chunk_peak),
        },
        "runs": {},
        "synthetic_rows": {name: len(frame) for name, frame in sample.items()},
    }
    candidates = {"honest": sample} | {
        f"copier {s:.0%}": copier(con, spec, split.train, sample, s) for s in shares
    }
    for label, frames in candidates.items():
        schema = "s_" + "".join(ch for ch in label if ch.isalnum())
        relations = load_tables(con, frames, schema)
        noise = GateNoise(b"bench-gate-key", "model", label, gate_rho)
        started = time.perf_counter()
        result = gate.evaluate_schema(
            con, spec, split.train, split.holdout, relations, report.bounds, noise, scratch="g_" + schema
        )
        out["runs"][label] = {
            "seconds": time.perf_counter() - started,
            "verdicts": result.verdicts,
            "rho": result.rho_charged,
            "release": gate.schema_verdict(result.verdicts, spec.tables).release,
        }
    return out


def print_report(result: dict, people: int, epsilon: float, gate_rho: float) -> None:
    print(
        f"gate across tables, demo bank schema, {people} people, epsilon {epsilon:g} per person, "
        f"gate rho {gate_rho:g}; fit {result['fit_seconds']:.1f} s"
    )
    print(f"synthetic rows: {result['synthetic_rows']}")
    for how, (seconds, peak) in result["sampling"].items():
        print(f"sampling in {how}: {seconds:.1f} s, peak Python memory {peak:.0f} MiB")
    for label, run in result["runs"].items():
        print(f"{label}: gate {run['seconds']:.1f} s, rho charged {run['rho']:g}, released {run['release']}")
        for v in run["verdicts"]:
            state = "pass" if v.passed else "BLOCK"
            print(f"  {v.name:48s}{v.value:>10.4f}  threshold {v.threshold:<7g} {state}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--gate-rho", type=float, default=0.01)
    parser.add_argument("--shares", default="0.02,0.05,0.1")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shares = [float(s) for s in args.shares.split(",") if s]
    result = run(args.people, args.epsilon, args.gate_rho, shares, args.iters, args.seed)
    print_report(result, args.people, args.epsilon, args.gate_rho)


if __name__ == "__main__":
    main()
