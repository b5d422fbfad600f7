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
4. the many-to-many link: the real side is bounded as one copy of an entity per holding
   (`contribution`), so entities (accounts) are fitted as children of the link's person side
   (holdings per person: a DP histogram) and conditioned on their holder; when sampling, each
   drawn holding starts a new entity with probability 1 / (mean holders), each entity gets
   co-holders from a DP histogram of holders per entity (drawn uniformly among other synthetic
   people), and the link's own columns (a role) come from `dp_mst` over them;
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

This module holds the synthesizer's state and its public names; the steps are mixins in
`lib/relational/synthesis/` (columns, budget, structure, counts, attributes, fitting, link, sampling).
"""

from __future__ import annotations

import pandas as pd

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.schema_spec import SchemaSpec, ownership
from synth_platform.lib.relational.synthesis.attributes import AttributesMixin
from synth_platform.lib.relational.synthesis.budget import (
    DEFAULT_ROWS_PER_PERSON,
    WEIGHTS,
    BudgetMixin,
    Part,
)
from synth_platform.lib.relational.synthesis.columns import CATEGORICAL, identifier_columns, model_columns
from synth_platform.lib.relational.synthesis.counts import (
    CountModel,
    CountsMixin,
    bucket_of,
    conditional_shares,
    count_buckets,
)
from synth_platform.lib.relational.synthesis.fitting import FittingMixin
from synth_platform.lib.relational.synthesis.link import LinkMixin
from synth_platform.lib.relational.synthesis.sampling import SAMPLE_CHUNK_PEOPLE, SamplingMixin
from synth_platform.lib.relational.synthesis.structure import (
    MAX_CONDITION_CELLS,
    MAX_CONDITION_COLUMNS,
    StructureMixin,
    TableModel,
)

__all__ = [
    "CATEGORICAL",
    "DEFAULT_ROWS_PER_PERSON",
    "MAX_CONDITION_CELLS",
    "MAX_CONDITION_COLUMNS",
    "SAMPLE_CHUNK_PEOPLE",
    "WEIGHTS",
    "CountModel",
    "Part",
    "RelationalSynthesizer",
    "TableModel",
    "bucket_of",
    "conditional_shares",
    "count_buckets",
    "identifier_columns",
    "model_columns",
]


class RelationalSynthesizer(
    FittingMixin, CountsMixin, AttributesMixin, LinkMixin, SamplingMixin, StructureMixin, BudgetMixin
):
    """Fit on pseudonymised tables in DuckDB (`fit`), then `sample` a referentially intact schema.

    The state lives here; the steps live in `lib/relational/synthesis/` (one mixin per concern)."""

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
