"""The many-to-many link: holders per entity (a DP histogram) and the link's own columns when
fitting; owners and co-holders when sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import OWNER, PARENT, q, simplex_shares
from synth_platform.lib.relational.synthesis.budget import Part
from synth_platform.lib.relational.synthesis.structure import TableModel


class LinkMixin:
    """Fitting and sampling of the link table (`RelationalSynthesizer`)."""

    def _fit_link(self, con, bounded: dict, scratch: str, rho: dict, rng) -> None:
        """Holders per entity (co-holders 0..k_e-1, one entry per entity) and the link's columns."""
        link = self.own.link
        entity = link.entity.parent_table
        k_e = self.bound_report.bounds[entity]
        pk = q(self.spec.tables[entity].primary_key)
        e = q(link.entity.child_column)
        rows = con.execute(
            f"SELECT coalesce(c.n, 0), count(*) FROM {bounded[entity]} x "
            f"LEFT JOIN (SELECT {e} AS r, count(*) AS n "
            f"FROM {bounded[link.table]} WHERE NOT {OWNER} GROUP BY 1) c ON x.{pk} = c.r GROUP BY 1"
        ).fetchall()
        part = f"{link.table}:holders"
        m = self.bound_report.multiplicity[entity]
        exact = np.zeros(max(k_e, 1))
        for n, count in rows:
            exact[min(int(n), exact.size - 1)] += count
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

    def _sample_link(self, frames: dict, rng) -> pd.DataFrame:
        """Owner rows (entity -> its owner), plus co-holders drawn among other side rows."""
        link = self.own.link
        entity, side = link.entity.parent_table, link.side.parent_table
        entities, sides = frames[entity], frames[side]
        side_keys = sides[self.spec.tables[side].primary_key].to_numpy()
        entity_keys = entities[self.spec.tables[entity].primary_key].to_numpy()
        tm = self.tables[link.table]
        extra = rng.choice(tm.holders.size, len(entities), p=tm.holders) if len(entities) else np.array([])
        side_index = {key: i for i, key in enumerate(side_keys)}
        owners = [side_index[k] for k in entities[PARENT]]
        s_out, e_out, is_owner = [], [], []
        for i, (owner, count) in enumerate(zip(owners, extra, strict=True)):
            s_out.append(side_keys[owner])
            e_out.append(entity_keys[i])
            is_owner.append(True)
            if count and len(side_keys) > 1:
                others = rng.choice(len(side_keys) - 1, min(int(count), len(side_keys) - 1), replace=False)
                for j in others:
                    s_out.append(side_keys[j if j < owner else j + 1])
                    e_out.append(entity_keys[i])
                    is_owner.append(False)
        if tm.model is not None:
            wanted = [(str(b),) for b in is_owner]
            rows = self._matched(tm.model, [OWNER], [["False", "True"]], wanted, rng)
            rows = rows.drop(columns=[OWNER])
        else:
            rows = pd.DataFrame(index=range(len(s_out)))
        rows[link.side.child_column] = s_out
        rows[link.entity.child_column] = e_out
        return rows
