"""Related tables: a governed synthetic twin of a whole schema, with a budget per person.

Dagster-free core (issue 18); the chain wiring comes separately. Modules, in chain order:

- `schema_spec`: the schema spec (tables, keys, the person table, lookups, bounds) and its checks;
- `pseudonyms`: keys pseudonymised consistently across tables (keyed HMAC per key domain), and
  `mask: pseudonymize` columns that are not keys (keyed HMAC per column domain);
- `contribution`: each row attributed to one person, contributions bounded, the neighbouring
  relation and the per-person sensitivity of every measurement;
- `person_split`: train/holdout by person;
- `synthesizer`: private top-down synthesis (dp_mst + DP histograms), referentially intact samples
  (`RelationalSynthesizer`; its steps are the `synthesis/` package);
- `refill`: identifier columns that are not keys refilled with fakes (the single-table refill);
- `fidelity`: orphans, children-per-parent, join-query and marginal fidelity;
- `gate`: the private release gate across tables (orphans, children per parent, pair trends,
  attacks on joined profiles) and `schema_verdict`: one release of the whole schema or none (its
  figures: the `figures/` package);
- `demo_schema`: a generated five-table bank schema.
"""

from synth_platform.lib.relational.schema_spec import (
    ForeignKey,
    SchemaSpec,
    TableSpec,
    load_schema_spec,
    ownership,
    parse_schema_spec,
)

__all__ = ["ForeignKey", "SchemaSpec", "TableSpec", "load_schema_spec", "ownership", "parse_schema_spec"]
