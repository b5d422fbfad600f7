"""Domain logic, in the order of the chain; plain Python that never imports Dagster (`defs/` wires it).

- `storage`: the DuckDB warehouse, landing-file ingest, zones, private files, run leases, the key;
- `pii`: discovery of personal data, column by column, and the reviewed masking plan;
- `deidentify`: masking (pseudonyms, drops) and the refill of identifiers with reserved-space fakes;
- `synthesize`: the keyed split, the synthesizers (`dp_mst` and its zCDP accounting), sampling;
- `gate`: quality, exact checks, privacy attacks and the private release decision;
- `governance`: ledger, budget, evidence, certificates, the release, alerts;
- `spec` (the dataset spec every stage reads), `demo_data`, `progress`.
"""
