"""Post-processing and selection helpers of MST's tree model, apart from the synthesizer class.

The exponential-mechanism tree choice (`_select_tree`, the only one that spends budget, charged
by the caller), mirror descent's warm start, forward sampling along the tree and drawing merged
cells back: plain numpy / mbi functions with no state, so they read (and test) on their own.
"""

from __future__ import annotations

import math

import numpy as np

from synth_platform.lib.synthesize.dp_domain import CategoricalEncoding


def _special_codes(encoding) -> list[int]:
    """Codes that stand for no real value: NULL, and OTHER for a list chosen under DP."""
    codes = [encoding.null_code]
    if isinstance(encoding, CategoricalEncoding) and encoding.has_other:
        codes.append(len(encoding.labels))
    return codes


def _without_negligible(marginals: dict, negligible: dict) -> dict:
    """Clique marginals with each negligible merged cell (the last code of its column) set to zero."""
    out = {}
    for clique, table in marginals.items():
        table = np.array(table, dtype=float)
        for axis, name in enumerate(clique):
            if negligible.get(name):
                index = [slice(None)] * table.ndim
                index[axis] = -1
                table[tuple(index)] = 0.0
        out[clique] = table
    return out


def _sample_tree(names: list[str], marginals: dict, rows: int, rng: np.random.Generator) -> dict:
    """Forward sampling of a tree-structured model from its (consistent) clique marginals."""
    neighbours: dict[str, list[tuple[str, tuple]]] = {n: [] for n in names}
    one_way: dict[str, np.ndarray] = {}
    for clique, table in marginals.items():
        if len(clique) == 1:
            one_way[clique[0]] = np.asarray(table, dtype=float)
            continue
        a, b = clique
        neighbours[a].append((b, clique))
        neighbours[b].append((a, clique))
        one_way.setdefault(a, np.asarray(table, dtype=float).sum(axis=1))
        one_way.setdefault(b, np.asarray(table, dtype=float).sum(axis=0))
    data: dict[str, np.ndarray] = {}

    def draw(p: np.ndarray, size: int) -> np.ndarray:
        p = np.clip(p, 0.0, None)
        p = p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)
        return rng.choice(p.size, size=size, p=p)

    for root in names:
        if root in data:
            continue
        data[root] = draw(one_way[root], rows)
        queue = [root]
        while queue:
            parent = queue.pop(0)
            for child, clique in neighbours[parent]:
                if child in data:
                    continue
                table = np.clip(np.asarray(marginals[clique], dtype=float), 0.0, None)
                if clique[0] != parent:
                    table = table.T
                sums = table.sum(axis=1, keepdims=True)
                fallback = np.clip(one_way[child], 0.0, None) + 1e-12
                conditional = np.where(
                    sums > 0, table / np.where(sums > 0, sums, 1.0), fallback / fallback.sum()
                )
                cdf = np.cumsum(conditional, axis=1)
                cdf[:, -1] = 1.0
                u = rng.random(rows)
                codes = np.empty(rows, dtype=np.int64)
                for value in np.unique(data[parent]):
                    at = np.flatnonzero(data[parent] == value)
                    codes[at] = np.searchsorted(cdf[value], u[at], side="right")
                data[child] = np.minimum(codes, table.shape[1] - 1)
                queue.append(child)
    return data


def _tree_start(domain, names: list[str], marg1: dict, noisy2: dict, total: float):
    """Warm start for mirror descent (post-processing only): the tree model whose edge marginals are
    the clipped noisy 2-way marginals, theta_ij = log mu_ij - shares of log mu_i, log mu_j for nodes
    on several edges. Mirror descent from zero needs thousands of iterations to carry a strong
    dependence (a birth year and an age) along the tree; from here a few hundred refine it."""
    from mbi import CliqueVector, Factor

    k = len(names)
    degree = dict.fromkeys(range(k), 0)
    for i, j in noisy2:
        degree[i] += 1
        degree[j] += 1
    arrays = {}
    floor = 1e-3
    for (i, j), y in noisy2.items():
        mu = np.clip(y, 0.0, None) + floor
        mu = mu / mu.sum()
        log_i = np.log(mu.sum(axis=1))[:, None] * (degree[i] - 1) / degree[i]
        log_j = np.log(mu.sum(axis=0))[None, :] * (degree[j] - 1) / degree[j]
        clique = (names[i], names[j])
        arrays[clique] = Factor(domain.project(clique), _jnp(np.log(mu) - log_i - log_j))
    for i in range(k):
        if degree[i] == 0:
            clique = (names[i],)
            arrays[clique] = Factor(domain.project(clique), _jnp(np.log(np.asarray(marg1[i]) + floor)))
    return CliqueVector(domain, list(arrays), arrays)


def _jnp(values):
    import jax.numpy as jnp

    return jnp.asarray(values)


def _scaled_query(scale):
    def query(factor):
        return factor.datavector() * scale

    return query


def _types(con, relation: str) -> list:
    return [row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _decompress(
    codes: np.ndarray, support: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Back from MST's compressed codes: a merged cell is drawn among its members in proportion to
    their noisy 1-way counts (clipped at 0; uniformly when all are 0, as private-pgm does)."""
    if support.all():
        return codes
    kept, merged = np.flatnonzero(support), np.flatnonzero(~support)
    out = np.empty_like(codes)
    is_merged = codes == len(kept)
    out[~is_merged] = kept[codes[~is_merged]]
    p = weights / weights.sum() if weights.sum() > 0 else None
    out[is_merged] = rng.choice(merged, int(is_merged.sum()), p=p)
    return out


def _select_tree(k: int, errors: dict, rho: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Kruskal-like: k-1 rounds of the exponential mechanism over pairs joining two components."""
    if k < 2:
        return []
    from scipy.special import logsumexp

    epsilon = math.sqrt(8.0 * rho / (k - 1))  # each round is epsilon^2 / 8 zCDP
    parent = list(range(k))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    chosen = []
    for _ in range(k - 1):
        candidates = [e for e in errors if find(e[0]) != find(e[1])]
        scores = 0.5 * epsilon * np.array([errors[e] for e in candidates])  # sensitivity 1
        probabilities = np.exp(scores - logsumexp(scores))
        a, b = candidates[int(rng.choice(len(candidates), p=probabilities))]
        parent[find(a)] = find(b)
        chosen.append((a, b))
    return chosen
