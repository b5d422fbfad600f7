"""Fitting the schema top-down: lookups read, contributions bounded, then per table of the
ownership order its children counts, its attribute model and its context (the link after its
entity)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.synthesis.budget import Part, measurement_rng
from synth_platform.lib.relational.synthesis.structure import TableModel

if TYPE_CHECKING:
    from synth_platform.lib.relational.synthesizer import RelationalSynthesizer


class FittingMixin:
    """`fit` and the fit of one person or child table (`RelationalSynthesizer`)."""

    def fit(self, con, relations: dict[str, str], scratch: str = "relational_fit") -> RelationalSynthesizer:
        """Fit on pseudonymised tables (`pseudonyms.pseudonymise`); `scratch` is a DuckDB schema for
        the bounded copies and training relations. Only noisy measurements are kept."""
        started = time.perf_counter()
        rho = self._allocate()
        rng = measurement_rng()
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
