"""The `dp_mst` synthesizer itself: measure noisy marginals in the warehouse, fit, pickle, sample.

One class, kept whole: its fit spends the budget in the order the package docstring states
(domain, 1-way marginals, tree, 2-way marginals), and splitting it would scatter that accounting.
The graphical-model helpers it calls (tree selection, warm start, sampling) live in `tree`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
import time

import numpy as np
import pandas as pd

from synth_platform.lib.synthesize import dp_domain
from synth_platform.lib.synthesize.dp_domain import CategoricalEncoding, ColumnInfo, NumericEncoding
from synth_platform.lib.synthesize.dp_mst.noise import PrivacySpend, _noise_rng, _sigma
from synth_platform.lib.synthesize.dp_mst.tree import (
    _decompress,
    _sample_tree,
    _scaled_query,
    _select_tree,
    _special_codes,
    _tree_start,
    _types,
    _without_negligible,
)

#: Share of rho spent on choosing the domain (only when something is not declared).
DOMAIN_SHARE = 0.1
#: Mirror-descent iterations for the graphical model (private-pgm's MST uses more; a tree converges fast).
DEFAULT_ITERS = 300
#: Bins per numeric column: a 2-way marginal of two numeric columns has bins^2 noisy cells, so at
#: epsilon ~ 1 more bins mostly add noise (the shape within a bin comes from the fine grid anyway).
DEFAULT_BINS = 16
#: MST's domain compression keeps a 1-way cell when its noisy count is at least this many deviations.
COMPRESS_Z = 3.0


def _canonical(value):
    """`value` with every plain string interned, its dicts, lists, tuples and dataclasses rebuilt.

    Pickle writes a string once and refers back to it when the same *object* recurs; whether a
    column name in a clique key is the object in the attribute list depends on how the fit built
    it, so two identical fits could pickle to different bytes. Interned strings make the bytes a
    function of the values only.
    """
    if type(value) is str:
        return sys.intern(value)
    if type(value) is dict:
        return {_canonical(k): _canonical(v) for k, v in value.items()}
    if type(value) is list:
        return [_canonical(v) for v in value]
    if type(value) is tuple:
        return tuple(_canonical(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **fields)
    return value


class DPMSTSynthesizer:
    """MST on a DuckDB relation; `fit` / `save` / `sample` like the SDV synthesizers."""

    def __init__(
        self,
        metadata: dict | None = None,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        bins: int = DEFAULT_BINS,
        iters: int = DEFAULT_ITERS,
        domains: dict[str, dict] | None = None,
        fresh_noise: bool = False,
    ):
        self.metadata = metadata
        #: Draw OS entropy even under a test seed (see `_noise_rng`).
        self.fresh_noise = bool(fresh_noise)
        #: Where the last fit's noise came from: `ENTROPY_NOISE`, or a "not private" test label.
        self.noise_source: str | None = None
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.bins = int(bins)
        self.iters = int(iters)
        self.domains = {k: dict(v) for k, v in (domains or {}).items()}
        self.columns: list[str] = []
        self.encodings: dict[str, CategoricalEncoding | NumericEncoding] = {}
        self.spend: PrivacySpend | None = None
        #: The DP row count (post-processing of the noisy 1-way marginals): the default sample size.
        self.noisy_total: float | None = None
        self.tree: list[tuple[str, str]] = []
        self.fit_seconds: float | None = None
        self._supports: dict[str, np.ndarray] = {}
        self._merged_weights: dict[str, np.ndarray] = {}
        self._negligible: dict[str, bool] = {}
        self._model: dict | None = None

    # ---------------------------------------------------------------- fitting

    def fit(self, data) -> DPMSTSynthesizer:
        """Fit on a pandas frame (or {"data": frame}, SDV's multi-table shape) via in-memory DuckDB."""
        import duckdb

        frame = data["data"] if isinstance(data, dict) else data
        con = duckdb.connect()
        try:
            con.register("dp_mst_frame", frame)
            return self.fit_relation(con, '"dp_mst_frame"')
        finally:
            con.close()

    def fit_relation(self, con, relation_sql: str, columns: list[str] | None = None) -> DPMSTSynthesizer:
        """Fit on a DuckDB table or relation expression, e.g. ``masked."ds_train"``.

        Only counts leave the warehouse: one GROUP BY per measured domain and one GROUPING SETS
        query for all 1- and 2-way marginals, so memory does not grow with the row count.
        `columns` are the model columns (default: all of the relation's).
        """
        from synth_platform.lib.synthesize.accounting import rho_from_epsilon_delta

        started = time.perf_counter()
        described = con.execute(f"SELECT * FROM {relation_sql} LIMIT 0")
        names = [d[0] for d in described.description]
        types = dict(zip(names, [str(t) for t in _types(con, relation_sql)], strict=True))
        self.columns = list(columns) if columns is not None else names
        missing = [c for c in self.columns if c not in types]
        if missing:
            raise ValueError(f"dp_mst: {len(missing)} model column(s) are not in the training table")
        if not self.columns:
            raise ValueError("dp_mst: no model columns to fit")
        infos = [dp_domain.column_info_from_type(c, types[c], self.domains.get(c)) for c in self.columns]

        thresholded = [i for i in infos if i.kind == "categorical" and i.categories is None]
        delta_threshold = self.delta / 2 if thresholded else 0.0
        delta_conversion = self.delta - delta_threshold
        rho = rho_from_epsilon_delta(self.epsilon, delta_conversion)

        domain_measures = sum(
            (1 if i.kind == "categorical" and i.categories is None else 0)
            + (0 if i.kind != "numeric" else (1 if i.bounds is not None else 2))
            for i in infos
        )
        rho_domain = DOMAIN_SHARE * rho if domain_measures else 0.0
        rho_each = rho_domain / domain_measures if domain_measures else 0.0
        rho_mst = rho - rho_domain
        rng, self.noise_source = _noise_rng(getattr(self, "fresh_noise", False))

        self.encodings = {}
        for info in infos:
            self.encodings[info.name] = self._encode(
                con, relation_sql, info, rho_each, rng, delta_threshold / max(len(thresholded), 1)
            )

        one_way, two_way = self._marginals(con, relation_sql)
        self._fit_mst(one_way, two_way, rho_mst, rng)
        self.spend = PrivacySpend(
            epsilon=self.epsilon,
            delta=self.delta,
            rho=rho,
            rho_parts={
                "domain": rho_domain,
                "one_way": rho_mst / 3,
                "select": rho_mst / 3,
                "two_way": rho_mst / 3,
            },
            delta_conversion=delta_conversion,
            delta_threshold=delta_threshold,
            noise=self.noise_source,
        )
        self.fit_seconds = time.perf_counter() - started
        return self

    def _encode(self, con, relation: str, info: ColumnInfo, rho_each: float, rng, delta_column: float):
        if info.kind == "boolean":
            return CategoricalEncoding(info, [False, True])
        if info.kind == "categorical":
            if info.categories is not None:
                return CategoricalEncoding(info, list(info.categories))
            rows = con.execute(
                f"SELECT {info.value_sql} AS v, count(*) FROM {relation} WHERE {dp_domain.quote(info.name)} "
                f"IS NOT NULL GROUP BY 1 HAVING count(*) >= {dp_domain.MIN_CATEGORY_COUNT}"
            ).fetchall()
            released, _ = dp_domain.noisy_categories(dict(rows), _sigma(rho_each), delta_column, rng)
            return CategoricalEncoding(info, released)
        if info.bounds is not None:
            low, high = info.bounds
        else:
            rows = con.execute(
                f"SELECT {dp_domain.coarse_cell_sql(info)} AS c, count(*) FROM {relation} "
                f"WHERE {info.value_sql} IS NOT NULL GROUP BY 1"
            ).fetchall()
            low, high = dp_domain.dp_bounds(dict(rows), info, _sigma(rho_each), rng)
        encoding = dp_domain.fine_grid(info, low, high)
        rows = con.execute(
            f"SELECT {encoding.fine_sql()} AS g, count(*) FROM {relation} "
            f"WHERE {info.value_sql} IS NOT NULL GROUP BY 1"
        ).fetchall()
        return dp_domain.choose_bins(encoding, dict(rows), _sigma(rho_each), self.bins, rng)

    def _marginals(self, con, relation: str) -> tuple[dict, dict]:
        """Exact 1-way and all 2-way marginals of the codes, in one GROUPING SETS query."""
        codes = [f"{self.encodings[c].code_sql()} AS c{i}" for i, c in enumerate(self.columns)]
        k = len(self.columns)
        sets = [f"(c{i})" for i in range(k)] + [
            f"(c{i}, c{j})" for i, j in itertools.combinations(range(k), 2)
        ]
        grouping = ", ".join(f"c{i}" for i in range(k))
        sql = (
            f"WITH coded AS (SELECT {', '.join(codes)} FROM {relation}) "
            f"SELECT GROUPING({grouping}) AS g, {grouping}, count(*) AS n FROM coded "
            f"GROUP BY GROUPING SETS ({', '.join(sets)})"
        )
        result = con.execute(sql).fetchnumpy()
        sizes = [self.encodings[c].size for c in self.columns]
        one_way = {i: np.zeros(sizes[i]) for i in range(k)}
        two_way = {(i, j): np.zeros((sizes[i], sizes[j])) for i, j in itertools.combinations(range(k), 2)}
        mask = np.asarray(result["g"]).astype(np.int64)
        counts = np.asarray(result["n"]).astype(float)
        full = (1 << k) - 1
        code_arrays = [np.asarray(result[f"c{i}"]) for i in range(k)]
        for i in range(k):
            rows = mask == full ^ (1 << (k - 1 - i))
            np.add.at(one_way[i], code_arrays[i][rows].astype(np.int64), counts[rows])
        for i, j in itertools.combinations(range(k), 2):
            rows = mask == full ^ (1 << (k - 1 - i)) ^ (1 << (k - 1 - j))
            np.add.at(
                two_way[i, j],
                (code_arrays[i][rows].astype(np.int64), code_arrays[j][rows].astype(np.int64)),
                counts[rows],
            )
        return one_way, two_way

    def _fit_mst(self, one_way: dict, two_way: dict, rho: float, rng: np.random.Generator) -> None:
        import jax.numpy as jnp
        from mbi import Domain, LinearMeasurement, estimation

        k = len(self.columns)
        names = [f"c{i}" for i in range(k)]
        # 1. noisy 1-way marginals, rho/3 spread over k columns
        sigma1 = _sigma(rho / 3 / k)
        noisy1 = {i: one_way[i] + rng.normal(0.0, sigma1, one_way[i].size) for i in range(k)}
        # MST's domain compression: cells below COMPRESS_Z deviations merge into one
        supports = {}
        compressed_sizes = []
        for i in range(k):
            support = noisy1[i] >= COMPRESS_Z * sigma1
            supports[i] = support
            compressed_sizes.append(int(support.sum()) + (0 if support.all() else 1))
        self._supports = {self.columns[i]: supports[i] for i in range(k)}
        # how a merged cell is drawn back: in proportion to its members' noisy counts (post-processing)
        self._merged_weights = {
            self.columns[i]: np.clip(noisy1[i][~supports[i]], 0.0, None) for i in range(k)
        }
        # A merged cell whose noisy total is within noise of zero is indistinguishable from empty.
        # Post-processing: its NULL / OTHER members are not drawn back (a column without nulls gets
        # no nulls), and when it holds nothing else it is not sampled at all. Rare real values in
        # it are still drawn back, as MST does.
        self._negligible = {}
        for i, column in enumerate(self.columns):
            merged = np.flatnonzero(~supports[i])
            noise = COMPRESS_Z * sigma1 * math.sqrt(max(len(merged), 1))
            if len(merged) == 0 or noisy1[i][merged].sum() >= noise:
                continue
            is_special = np.isin(merged, _special_codes(self.encodings[column]))
            weights = self._merged_weights[column]
            weights[is_special] = 0.0
            weights[~is_special] = np.maximum(weights[~is_special], 1e-9)  # uniform if all were <= 0
            self._negligible[f"c{i}"] = bool(is_special.all())
        domain = Domain(names, compressed_sizes)

        measurements = []
        totals, variances = [], []
        for i in range(k):
            y, support = noisy1[i], supports[i]
            if support.all():
                measurements.append(LinearMeasurement(jnp.asarray(y), (names[i],), sigma1))
            else:
                merged = int((~support).sum())
                scale = np.ones(support.sum() + 1)
                scale[-1] = 1.0 / math.sqrt(merged)
                y2 = np.append(y[support], y[~support].sum()) * scale
                query = _scaled_query(jnp.asarray(scale))
                measurements.append(LinearMeasurement(jnp.asarray(y2), (names[i],), sigma1, query=query))
            totals.append(y.sum())
            variances.append(sigma1**2 * y.size)
        weights = 1.0 / np.array(variances)
        total = max(1.0, float(np.sum(np.array(totals) * weights) / weights.sum()))

        def compress(i: int, counts: np.ndarray, axis: int) -> np.ndarray:
            support = supports[i]
            if support.all():
                return counts
            kept = np.take(counts, np.flatnonzero(support), axis=axis)
            rest = np.take(counts, np.flatnonzero(~support), axis=axis).sum(axis=axis, keepdims=True)
            return np.concatenate([kept, rest], axis=axis)

        # 2. the tree: exponential mechanism on the L1 error of the independent model per pair
        marg1 = {}
        for i in range(k):
            y = np.clip(compress(i, noisy1[i], 0), 0.0, None)
            marg1[i] = y / y.sum() if y.sum() > 0 else np.full(y.size, 1.0 / y.size)
        # Score = L1 error of the independent model minus the expected L1 noise of measuring that
        # pair (AIM's refinement of MST's score; the subtracted term is public given the compressed
        # domain): a high-cardinality pair whose measurement would be mostly noise is not chosen.
        noise_per_cell = math.sqrt(2.0 / math.pi) * _sigma(rho / 3 / max(k - 1, 1))
        errors = {}
        for i, j in itertools.combinations(range(k), 2):
            exact = compress(j, compress(i, two_way[i, j], 0), 1)
            error = float(np.abs(exact - total * np.outer(marg1[i], marg1[j])).sum())
            errors[i, j] = error - noise_per_cell * exact.size
        self.tree = [(self.columns[i], self.columns[j]) for i, j in _select_tree(k, errors, rho / 3, rng)]
        index = {c: i for i, c in enumerate(self.columns)}
        edges = [(index[a], index[b]) for a, b in self.tree]
        # 3. noisy 2-way marginals on the tree edges, rho/3 spread over them
        noisy2 = {}
        if edges:
            sigma2 = _sigma(rho / 3 / len(edges))
            for i, j in edges:
                exact = compress(j, compress(i, two_way[i, j], 0), 1)
                y = exact.ravel() + rng.normal(0.0, sigma2, exact.size)
                noisy2[i, j] = y.reshape(exact.shape)
                measurements.append(LinearMeasurement(jnp.asarray(y), (names[i], names[j]), sigma2))
        self.noisy_total = total
        start = _tree_start(domain, names, marg1, noisy2, total)
        model = estimation.mirror_descent(
            domain, measurements, known_total=total, potentials=start, iters=self.iters
        )
        self._model = {
            "attributes": names,
            "shape": compressed_sizes,
            "total": float(total),
            "marginals": {cl: np.asarray(model.marginals[cl].values) for cl in model.marginals.cliques},
        }

    # ---------------------------------------------------------------- using the model

    def privacy_spend(self) -> dict:
        """What this training spent, for the ledger: epsilon, delta, rho and their parts."""
        if self.spend is None:
            raise RuntimeError("dp_mst: not fitted")
        return self.spend.as_dict()

    def __getstate__(self) -> dict:
        """The pickled state leaves out the wall-clock fit time: the stored bytes are a function of
        the data and the noise only, so the same fit gives the same file, the same SHA-256 and so
        the same keyed gate noise (the fit time is kept in the model pointer and the metadata)."""
        state = _canonical(dict(self.__dict__))
        state["fit_seconds"] = None
        return state

    def save(self, path: str) -> None:
        """Pickle the model (plain numpy arrays; cloudpickle so `load_and_sample` reads it)."""
        import cloudpickle

        with open(path, "wb") as handle:
            cloudpickle.dump(self, handle)

    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        """Draw rows i.i.d. from the fitted tree model, then decode codes to values.

        Rows are drawn one column at a time along the tree from the model's clique marginals:
        the root from its 1-way marginal, each further column from its conditional given its
        parent. This is what mbi's ``synthetic_data(method="sample")`` does, in plain numpy (no
        jax compilation at sampling time); mbi 1.1's default ``method="round"`` breaks the
        correlations between columns and is not used. Sampling spends no privacy budget.

        The seed makes a sample reproducible; without one, numpy's global state (which
        `synthesis.load_and_sample` seeds) decides.
        """
        if self._model is None:
            raise RuntimeError("dp_mst: not fitted")
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        marginals = _without_negligible(self._model["marginals"], self._negligible)
        data = _sample_tree(self._model["attributes"], marginals, int(num_rows), rng)
        out = {}
        for i, column in enumerate(self.columns):
            codes = _decompress(data[f"c{i}"], self._supports[column], self._merged_weights[column], rng)
            out[column] = self.encodings[column].decode(codes, rng).reset_index(drop=True)
        return pd.DataFrame(out)
