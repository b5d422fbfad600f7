"""Related-table synthesis on the generated bank schema (issue 18), at epsilon 1 per person.

Generates the demo schema (`lib.relational.demo_schema`: people, accounts, a people_accounts
link with joint holders, transactions, a regions lookup), pseudonymises its keys, fits
`RelationalSynthesizer` and samples a synthetic schema, then reports:

- fit and sample seconds, rows per table (real / synthetic);
- per-table quality: 1 - mean marginal TVD over the modelled columns (deciles for numbers);
- cardinality fidelity: TVD of children-per-parent distributions and mean children, per key;
- join-query fidelity: two aggregate queries over joins, same SQL on real and synthetic (TVD of
  the groups' shares, share-weighted relative error of the aggregate);
- orphans (must be 0) and the privacy spend (total rho and epsilon per person).

`python -m synth_platform.bench.relational [--people 10000] [--epsilon 1] [--iters 300] [--dp-bounds]`
"""

from __future__ import annotations

import argparse
import time

QUERIES = {
    "amount by region x segment (5-table join)": """
        SELECT r.region_name, p.segment, count(*) AS n, avg(t.amount) AS mean_amount,
            median(t.amount) AS median_amount
        FROM {transactions} t
        JOIN {people_accounts} l ON l.account_id = t.account_id AND l.role = 'owner'
        JOIN {people} p ON p.person_id = l.person_id
        JOIN {regions} r ON r.region_id = p.region_id
        GROUP BY ALL""",
    "holdings by segment x account type, mean age": """
        SELECT p.segment, a.account_type, count(*) AS n, avg(p.age) AS mean_age
        FROM {people_accounts} l
        JOIN {accounts} a ON a.account_id = l.account_id
        JOIN {people} p ON p.person_id = l.person_id
        GROUP BY ALL""",
}


def run(
    people: int, epsilon: float, iters: int, rows_per_person: int, seed: int, dp_bounds: bool = False
) -> dict:
    import duckdb

    from synth_platform.lib.relational import fidelity
    from synth_platform.lib.relational.demo_schema import demo_schema_spec, demo_tables, load_tables
    from synth_platform.lib.relational.pseudonyms import pseudonymise
    from synth_platform.lib.relational.synthesizer import RelationalSynthesizer

    con = duckdb.connect()
    spec = demo_schema_spec(declared_bounds=not dp_bounds)
    raw = load_tables(con, demo_tables(people=people, seed=seed), "raw")
    real = pseudonymise(con, spec, raw, b"bench-platform-key", "masked")
    synthesizer = RelationalSynthesizer(spec, epsilon=epsilon, iters=iters, rows_per_person=rows_per_person)
    started = time.perf_counter()
    synthesizer.fit(con, real, scratch="fit")
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sample = synthesizer.sample(seed=seed)
    sample_seconds = time.perf_counter() - started
    synthetic = load_tables(con, sample, "synthetic")
    columns = {t: synthesizer.model_columns(t) for t in spec.tables if t not in spec.lookups}
    marginals = fidelity.table_marginals(con, spec, real, synthetic, columns)
    return {
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "rows": {
            t: (con.execute(f"SELECT count(*) FROM {real[t]}").fetchone()[0], len(sample[t]))
            for t in spec.tables
        },
        "quality": {t: 1.0 - (sum(v.values()) / len(v) if v else 0.0) for t, v in marginals.items()},
        "marginals": marginals,
        "cardinality": fidelity.cardinality_fidelity(con, spec, real, synthetic),
        "joins": {name: fidelity.join_query_fidelity(con, q, real, synthetic) for name, q in QUERIES.items()},
        "orphans": sum(fidelity.orphans(con, spec, synthetic).values()),
        "privacy": synthesizer.privacy_report(),
    }


def print_report(result: dict, people: int, epsilon: float) -> None:
    privacy = result["privacy"]
    print(f"related-table synthesis, demo bank schema, {people} people, epsilon {epsilon:g} per person")
    print(
        f"fit {result['fit_seconds']:.1f} s, sample {result['sample_seconds']:.1f} s; "
        f"orphans {result['orphans']}; rho {privacy['rho_spent']:.5f} of {privacy['rho_budget']:.5f}, "
        f"epsilon {privacy['epsilon_spent']:.3f} at delta {privacy['delta']:g}; bounds {privacy['bounds']}, "
        f"rows per person in attribute models {privacy['rows_per_person']}"
    )
    print(f"{'table':<18}{'real rows':>10}{'synth rows':>11}{'quality':>9}  worst column TVD")
    for table, (real_rows, synth_rows) in result["rows"].items():
        quality = result["quality"].get(table)
        worst = max(result["marginals"].get(table, {}).items(), key=lambda kv: kv[1], default=None)
        q = f"{quality:.3f}" if quality is not None else "lookup"
        w = f"{worst[0]} {worst[1]:.3f}" if worst else ""
        print(f"{table:<18}{real_rows:>10}{synth_rows:>11}{q:>9}  {w}")
    print(f"{'children per parent':<58}{'TVD':>7}{'mean real':>11}{'mean syn':>10}")
    for key, c in result["cardinality"].items():
        print(f"{key:<58}{c['tvd']:>7.3f}{c['mean_real']:>11.2f}{c['mean_synthetic']:>10.2f}")
    print(f"{'join query':<50}{'groups':>7}{'share TVD':>10}  aggregate rel. error")
    for name, j in result["joins"].items():
        errors = ", ".join(
            f"{k.removesuffix('_rel_error')} {v:.3f}" for k, v in j.items() if k.endswith("_rel_error")
        )
        print(f"{name:<50}{j['groups']:>7}{j['share_tvd']:>10.3f}  {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--rows-per-person", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dp-bounds", action="store_true", help="choose transactions per account under DP")
    args = parser.parse_args()
    result = run(args.people, args.epsilon, args.iters, args.rows_per_person, args.seed, args.dp_bounds)
    print_report(result, args.people, args.epsilon)


if __name__ == "__main__":
    main()
