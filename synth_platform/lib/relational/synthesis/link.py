"""The many-to-many link: holders per entity (a DP histogram) and the link's own columns when
fitting; owners and co-holders when sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import PARENT, simplex_shares
from synth_platform.lib.relational.synthesis.budget import Part
from synth_platform.lib.relational.synthesis.structure import TableModel


class LinkMixin:
    """Fitting and sampling of the link table (`RelationalSynthesizer`)."""

    def _fit_link(self, con, bounded: dict, scratch: str, rho: dict, rng) -> None:
        """Holders per entity (co-holders 0..k_e-1, the last cell "k_e-1 or more", one entry per
        original entity) and the link's columns. A person adds a holder to at most m(link)
        entities (or adds them): sensitivity sqrt(2) m(link) (`contribution`)."""
        link = self.own.link
        entity = link.entity.parent_table
        k_e = self.bound_report.bounds[entity]
        part = f"{link.table}:holders"
        m = contrib.HOLDERS_SENSITIVITY * self.bound_report.multiplicity[link.table]
        exact = np.zeros(max(k_e, 1))
        for holders, count in contrib.holder_counts(con, bounded[link.table]).items():
            exact[min(holders - 1, exact.size - 1)] += count
        noisy = exact + rng.normal(0.0, contrib.gaussian_sigma(m, rho[part]), exact.size)
        self.parts.append(Part(part, "Gaussian histogram (holders per entity)", m, rho[part]))
        tm = TableModel(link.table, "link", self.model_columns(link.table))
        tm.holders = simplex_shares(noisy)
        self.tables[link.table] = tm
        if tm.columns:
            relation = self._training_relation(con, link.table, bounded, scratch, [])
            self.domains[link.table] = self._choose_domains(con, link.table, relation, rho, rng)
            m_link = max(1, min(self.rows_per_person, self.bound_report.multiplicity[link.table]))
            tm.model = self._fit_model(
                con, f"{link.table}:model", relation, self.domains[link.table], rho, m_link
            )

    def _entities_per_holding(self, counts: np.ndarray, rng) -> np.ndarray:
        """Entities to draw under each side row from its drawn holdings: each holding starts a new
        entity with probability 1 / (mean holders per entity), so that, with the co-holders drawn
        for every entity, a side row keeps about its number of holdings. Post-processing of the
        two DP histograms."""
        holders = self.tables[self.own.link.table].holders
        mean = float(np.dot(np.arange(1, holders.size + 1), holders))
        return rng.binomial(counts.astype(np.int64), 1.0 / max(mean, 1.0))

    def _sample_link(self, frames: dict, rng) -> pd.DataFrame:
        """The holding an entity was drawn under (entity -> its side row), plus co-holders drawn
        among other side rows."""
        link = self.own.link
        entity, side = link.entity.parent_table, link.side.parent_table
        entities, sides = frames[entity], frames[side]
        side_keys = sides[self.spec.tables[side].primary_key].to_numpy()
        entity_keys = entities[self.spec.tables[entity].primary_key].to_numpy()
        tm = self.tables[link.table]
        extra = rng.choice(tm.holders.size, len(entities), p=tm.holders) if len(entities) else np.array([])
        side_index = {key: i for i, key in enumerate(side_keys)}
        owners = [side_index[k] for k in entities[PARENT]]
        s_out, e_out = [], []
        for i, (owner, count) in enumerate(zip(owners, extra, strict=True)):
            s_out.append(side_keys[owner])
            e_out.append(entity_keys[i])
            if count and len(side_keys) > 1:
                others = rng.choice(len(side_keys) - 1, min(int(count), len(side_keys) - 1), replace=False)
                for j in others:
                    s_out.append(side_keys[j if j < owner else j + 1])
                    e_out.append(entity_keys[i])
        if tm.model is not None:
            rows = self._matched(tm.model, [], [], [()] * len(s_out), rng)
        else:
            rows = pd.DataFrame(index=range(len(s_out)))
        rows[link.side.child_column] = s_out
        rows[link.entity.child_column] = e_out
        return rows
