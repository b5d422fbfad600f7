"""Children per parent: the noisy histogram of how many children a parent row has (0..k, in
public buckets, conditioned on the parent's context cell) and the draw of synthetic counts from it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synth_platform.lib.relational import contribution as contrib
from synth_platform.lib.relational.contribution import q, simplex_shares
from synth_platform.lib.relational.synthesis.budget import Part
from synth_platform.lib.relational.synthesis.columns import cond_key


@dataclass
class CountModel:
    """Noisy distribution of children per parent (0..k) given the parent's condition cell."""

    cond: list[str]
    cells: list[tuple]
    probs: np.ndarray
    #: (low, high) children per bucket: small counts one by one, larger ones in growing ranges
    buckets: list[tuple[int, int]] = field(default_factory=list)

    def draw(self, keys: list[tuple], rng: np.random.Generator) -> np.ndarray:
        """A number of children per parent: a bucket by the parent's cell, uniform within it."""
        index = {cell: i for i, cell in enumerate(self.cells)}
        marginal = self.probs.mean(axis=0)
        positions: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            positions.setdefault(key, []).append(i)
        out = np.empty(len(keys), dtype=np.int64)
        lows = np.array([b[0] for b in self.buckets])
        highs = np.array([b[1] for b in self.buckets])
        for cell, at in positions.items():
            p = self.probs[index[cell]] if cell in index else marginal
            chosen = rng.choice(p.size, len(at), p=p)
            out[at] = rng.integers(lows[chosen], highs[chosen] + 1)
        return out


def count_buckets(k: int) -> list[tuple[int, int]]:
    """Public buckets of 0..k children: 0-5 one by one, then ranges growing by half (6-8, 9-12,
    ...). Fewer cells than k + 1 means less noise in total for the same rho; within a bucket the
    count is drawn uniformly."""
    buckets = [(i, i) for i in range(min(k, 5) + 1)]
    low = 6
    while low <= k:
        high = min(k, max(low, int(low * 1.5) - 1))
        buckets.append((low, high))
        low = high + 1
    return buckets


def bucket_of(buckets: list[tuple[int, int]], count: int) -> int:
    return next(i for i, (low, high) in enumerate(buckets) if low <= count <= high)


def conditional_shares(cells: list[tuple], noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Children-per-parent shares per condition cell, backing off when the budget is thin: a cell
    whose noisy number of parents is within noise (below 2 sigma sqrt(buckets x rows summed)) uses
    the sum of the cells sharing its first condition value, then the overall distribution. Sums
    of noisy cells are post-processing, so the budget decides how finely children are conditioned
    on their parent without a second measurement."""
    out = np.empty_like(noisy, dtype=float)
    unit = 2.0 * sigma * np.sqrt(noisy.shape[1])
    for i, cell in enumerate(cells):
        for depth in range(len(cell), -1, -1):
            group = [j for j, other in enumerate(cells) if other[:depth] == cell[:depth]]
            total = noisy[group].sum(axis=0)
            if depth == 0 or total.sum() >= unit * np.sqrt(len(group)):
                out[i] = simplex_shares(total)
                break
    return out


class CountsMixin:
    """Fitting of the children-per-parent histograms (`RelationalSynthesizer`)."""

    def _fit_counts(
        self, con, table: str, parent: str, scratch: str, bounded: dict, rho: dict, rng
    ) -> CountModel:
        """Noisy histogram of children per parent row (one entry per parent: sensitivity m(parent))."""
        k = self.bound_report.bounds[table]
        if self.own.link is not None and table == self.own.link.entity.parent_table:
            k = self.bound_report.bounds[self.own.link.table]
        cond = self.tables[table].cond
        ref = q(self._parent_ref(table))
        selected = ", ".join([f"p.{q(c)}" for c in cond] + ["coalesce(c.n, 0)"])
        rows = con.execute(
            f"SELECT {selected}, count(*) FROM {self._ctx_relation(scratch, parent)} p LEFT JOIN "
            f"(SELECT {ref} AS r, count(*) AS n FROM {bounded[table]} GROUP BY 1) c "
            "ON p.__key = c.r GROUP BY ALL"
        ).fetchall()
        return self._noisy_histogram(f"{table}:counts", parent, cond, rows, k, rho, rng)

    def _noisy_histogram(self, part: str, parent: str, cond: list[str], rows, k: int, rho: dict, rng):
        domains = [(self._ctx_categories(c) or []) + [None] for c in cond]
        cells = [()]
        for values in domains:
            cells = [(*cell, v) for cell in cells for v in values]
        index = {cell: i for i, cell in enumerate(cells)}
        buckets = count_buckets(k)
        exact = np.zeros((len(cells), len(buckets)))
        for row in rows:
            key = tuple(cond_key(v, d[:-1]) for v, d in zip(row[: len(cond)], domains, strict=True))
            exact[index[key], bucket_of(buckets, min(int(row[-2]), k))] += row[-1]
        m = self.bound_report.multiplicity[parent]
        sigma = contrib.gaussian_sigma(m, rho[part])
        noisy = exact + rng.normal(0.0, sigma, exact.shape)
        self.parts.append(Part(part, "Gaussian histogram (children per parent)", m, rho[part]))
        return CountModel(cond, cells, conditional_shares(cells, noisy, sigma), buckets)
