"""Attribute models: the rows a table's `dp_mst` trains on (at most `rows_per_person` per person,
with its parent's condition columns), their domains (declared, public lookup keys, or category
lists chosen under DP) and the fit at group privacy."""

from __future__ import annotations

from datetime import date

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import PERSON, q
from synth_platform.lib.relational.synthesis.budget import _INNER_DELTA, Part
from synth_platform.lib.synthesize.accounting import epsilon_from_rho
from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer


class AttributesMixin:
    """Training relations, domains and dp_mst fits (`RelationalSynthesizer`)."""

    def _training_relation(self, con, table: str, bounded: dict, scratch: str, cond: list[str]) -> str:
        """The rows an attribute model reads: the table's model columns, its parent's condition
        columns as ``__p_<c>``, at most `rows_per_person` rows per person (keyed order)."""
        columns = [f"t.{q(c)}" for c in self.model_columns(table)]
        join = ""
        if cond:
            parent = self.own.parent_of(table)
            join = (
                f" JOIN {self._ctx_relation(scratch, parent)} p ON t.{q(self._parent_ref(table))} = p.__key"
            )
            columns += [f"p.{q(c)} AS {q('__p_' + c)}" for c in cond]
        cap = (
            ""
            if table == self.spec.person
            else f" QUALIFY row_number() OVER (PARTITION BY t.{PERSON} ORDER BY md5(CAST(t AS VARCHAR))) "
            f"<= {self.rows_per_person}"
        )
        target = f"{q(scratch)}.{q('__train_' + table)}"
        con.execute(
            f"CREATE OR REPLACE TABLE {target} AS SELECT {', '.join(columns)} "
            f"FROM {bounded[table]} t{join}{cap}"
        )
        return target

    def _fit_model(self, con, part: str, relation: str, domains: dict, rho: dict, m: int) -> DPMSTSynthesizer:
        """dp_mst at row-level rho / m^2 (group privacy), so it costs `rho[part]` per person."""
        inner_rho = contrib.row_rho(rho[part], m)
        epsilon = epsilon_from_rho(inner_rho, _INNER_DELTA)
        model = DPMSTSynthesizer(
            epsilon=epsilon, delta=_INNER_DELTA, bins=self.bins, iters=self.iters, domains=domains
        )
        model.fit_relation(con, relation)
        spent = model.spend.rho * m * m
        if model.spend.delta_threshold or spent > rho[part] * (1 + 1e-9):
            raise RuntimeError(f"{part}: dp_mst spent more than allocated")  # a bug, never data
        self.parts.append(Part(part, "dp_mst (group privacy)", m, spent))
        return model

    def _choose_domains(self, con, table: str, relation: str, rho: dict, rng) -> dict[str, dict]:
        """Declared domains as they are; undeclared category lists by a noisy threshold scaled to
        the rows one person has in `relation` (a value held by one person is released with
        probability at most its share of delta_threshold); lookup keys are public."""
        out: dict[str, dict] = {}
        columns = self.spec.tables[table].columns
        undeclared = self._undeclared(table)
        measured = sum(1 for k in rho if k.endswith(":domain"))
        m = self._multiplicity(table)
        for c in self.model_columns(table):
            column = columns[c]
            fk = self._lookup_fk(table, c)
            if fk is not None:
                keys = self.lookup_frames[fk.parent_table][fk.parent_column].dropna()
                out[c] = {"categories": sorted({str(v) for v in keys})}
            elif column.categories is not None:
                out[c] = {"categories": list(column.categories)}
            elif c in undeclared:
                part = f"{table}.{c}:domain"
                out[c] = {"categories": self._dp_categories(con, relation, c, m, rho[part], measured, rng)}
                self.parts.append(Part(part, "Gaussian threshold (category list)", m, rho[part]))
            elif column.bounds is not None and isinstance(column.bounds[0], date):
                out[c] = {"date_bounds": tuple(column.bounds)}
            elif column.bounds is not None:
                out[c] = {"bounds": (float(column.bounds[0]), float(column.bounds[1]))}
        return out

    def _dp_categories(self, con, relation: str, column: str, m: int, rho: float, measured: int, rng) -> list:
        from scipy.stats import norm

        sigma = contrib.gaussian_sigma(m, rho)
        delta_column = self.delta_threshold / max(measured, 1)
        threshold = m + sigma * float(norm.isf(delta_column / m))
        rows = con.execute(
            f"SELECT CAST({q(column)} AS VARCHAR), count(*) FROM {relation} "
            f"WHERE {q(column)} IS NOT NULL GROUP BY 1"
        ).fetchall()
        released = sorted(v for v, n in rows if n + rng.normal(0.0, sigma) >= threshold)
        return released or ["(rare)"]
