"""Absolute exposure: real people of the *whole* source found in the synthetic table beyond chance.

Why. Every other attack compares training people with holdout people. That is the right
question for the platform's own models, which never see the holdout, and it is blind to
anything the holdout shares with training: a generator trained on the whole source (a vendor's
table judged by `synth-platform check --trained-on all`), a table mixing in holdout rows, a
pipeline bug that trains on everything. This check asks the absolute question: does the table
hold more real people than honest generation would put there by chance?

**Found.** A real person p is found at a *level* when some synthetic row agrees with p on all
but at most j columns of the level's columns. Levels (all public, from the column count and
roles): every column with numbers compared exactly (j = 0 .. k), every column with numbers
compared within a tolerance (`TOLERANCE` of the column's range, j = 0 .. k), and the
quasi-identifier group alone (j = 0). k grows with the width of the table
(`allowed_differences`): a wide table's people stay recognisable with more columns changed.

**Chance.** The yardstick is an ideal honest generator: a fresh sample of real people from the
same population, which is what an honest generator at its best approximates (a smoother one
finds fewer people). The whole source is split at random into halves A and B; for people of A,
"found in the synthetic table" is compared with "found among the people of B", a real sample of
the same size drawn without them — exchangeable under the null. Only people who are *rare* at
that level are asked about: those with no other person of their own half within j columns. A
common profile is found by any generator and says nothing about one person; a rare person found
again is the exposure that matters, and among rare people the chance rate is low, so a leak of a
few percent of the rows stands out. Both halves play A in turn.

**Decision.** Per level, the excess = share of rare people found in the synthetic table minus
the share found among the other half's people (the same people asked twice: a paired interval).
The check blocks when, at some level, the lower bound of the excess — with a Bonferroni-widened
interval over the levels — is above `max_absolute_exposure_excess`.

Speed. Agreement counts are matrix products of one-hot codes (BLAS) for columns with few values
and broadcast comparisons for the few with many; people and reference rows are sampled
(`QUERY_ROWS`, `REFERENCE_ROWS`), so the cost is bounded whatever the table's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow
from scipy.stats import norm

from synth_platform.lib.attacks.config import AttackConfig
from synth_platform.lib.attacks.result import AttackResult, decide
from synth_platform.lib.attacks.space import AttackData, as_float, as_text, sample_rows

NAME = "absolute_exposure"
#: numbers within this share of the column's (real) range count as the same value at tolerant levels
TOLERANCE = 0.04
#: people asked about per half, and rows per reference table (halves, synthetic sample)
QUERY_ROWS = 3_000
REFERENCE_ROWS = 15_000
#: a level is judged only when at least this many rare people were asked about
MIN_RARE_PEOPLE = 50
#: above this many distinct values a column is compared by broadcasting, not one-hot
ONE_HOT_MAX = 128
#: family-wise one-sided error of the interval over all levels
FAMILY_ALPHA = 0.01
CHUNK = 512
#: 'no such row' in a neighbour profile
NO_ROW = 10_000


def allowed_differences(n_columns: int) -> int:
    """How many columns may differ while a row still recognisably is one person (grows with width)."""
    if n_columns <= 2:
        return 0
    return int(min(4, max(1, n_columns // 5)))


@dataclass(frozen=True)
class Criterion:
    """A real person is found when some row differs from them on at most `exact` columns of
    `columns` compared exactly and at most `tolerant` compared with numbers within `TOLERANCE`
    (None: no limit of that kind). Exact equality implies tolerant agreement, so
    (exact=3, tolerant=1) is "three columns not identical, of which at most one not even close":
    a real person with a category changed and two numbers nudged."""

    columns: str  # "all" or "quasi-identifiers"
    exact: int | None
    tolerant: int | None

    def looser(self) -> Criterion:
        """One more column allowed of each kind: rarity is judged at this looser criterion."""
        return Criterion(
            self.columns,
            None if self.exact is None else self.exact + 1,
            None if self.tolerant is None else self.tolerant + 1,
        )

    @property
    def label(self) -> str:
        group = "all columns" if self.columns == "all" else "the quasi-identifier group"
        parts = []
        if self.exact is not None:
            parts.append(f"<= {self.exact} not identical")
        if self.tolerant is not None:
            parts.append(f"<= {self.tolerant} not within {TOLERANCE:.0%}")
        return f"{group}: " + ", ".join(parts)


def criteria(columns: list[str], numeric: list[str], quasi_identifiers: list[str]) -> list[Criterion]:
    """Every way of being found, from the column count and roles (public)."""
    k = allowed_differences(len(columns))
    out = [Criterion("all", j, None) for j in range(k + 1)]
    if any(c in numeric for c in columns):
        out += [Criterion("all", None, j) for j in range(k + 1)]
        out += [Criterion("all", e, t) for e in range(1, k + 1) for t in range(e)]
    if 2 <= sum(c in quasi_identifiers for c in columns) < len(columns):
        out.append(Criterion("quasi-identifiers", 0, None))
    return out


class _Coded:
    """Per column: exact codes, tolerant bins (numbers) — shared coding across all tables."""

    def __init__(
        self, frames: list[pd.DataFrame], columns: list[str], numeric: list[str], range_from: list[int]
    ):
        """`range_from`: the frames whose values set each number's range (hence its resolution and
        tolerance): the real ones for the exact figure, the synthetic one for the bounded figure."""
        lengths = [len(f) for f in frames]
        self.exact: list[list[np.ndarray]] = [[] for _ in frames]
        self.tolerant: list[list[np.ndarray]] = [[] for _ in frames]
        self.cardinality: list[int] = []
        self.bins: list[int] = []
        self.is_numeric = [c in numeric for c in columns]
        for column in columns:
            values = pd.concat([f[column] for f in frames], ignore_index=True)
            if column in numeric:
                numbers = as_float(values)
                reference = pd.concat([as_float(frames[i][column]) for i in range_from], ignore_index=True)
                low, high = reference.min(), reference.max()
                span = float(high - low) if pd.notna(high) and high > low else 1.0
                low = float(low) if pd.notna(low) else 0.0
                exact, _ = pd.factorize((numbers / (span * 1e-6)).round(), use_na_sentinel=True)
                n_bins = int(np.ceil(1.0 / TOLERANCE)) + 1
                bins = np.floor((numbers - low) / (TOLERANCE * span)).clip(-1, n_bins)
                tolerant = (bins.fillna(n_bins + 2) + 1).to_numpy().astype(np.int64)  # 0 .. n_bins + 3
                self.bins.append(n_bins + 4)
            else:
                exact, _ = pd.factorize(as_text(values))
                tolerant = None
                self.bins.append(0)
            exact = exact.astype(np.int64)
            exact[exact < 0] = exact.max() + 1  # missing: its own value
            self.cardinality.append(int(exact.max()) + 1)
            start = 0
            for i, n in enumerate(lengths):
                self.exact[i].append(exact[start : start + n])
                self.tolerant[i].append(tolerant[start : start + n] if tolerant is not None else None)
                start += n

    def parts(self, table: int, columns: tuple[int, ...], soft: bool) -> dict[str, tuple]:
        """One table's codes over `columns`, by kind: "same" (categories: exact and tolerant
        agreement are one thing), "exact" (numbers, exactly) and "tolerant" (numbers, by bin).
        Each kind is (dense one-hot matrix, sparse one-hot matrix of the many-valued columns).

        With `soft`, tolerant bins mark the bin and both neighbours, so a product of a plain and a
        soft matrix counts numbers at most one bin apart as agreeing.
        """
        n = len(self.exact[table][0]) if self.exact[table] else 0
        dense = {"same": [], "exact": [], "tolerant": []}
        wide = {"same": [], "exact": [], "tolerant": []}
        for j in columns:
            kind = "exact" if self.is_numeric[j] else "same"
            if self.cardinality[j] <= ONE_HOT_MAX:
                block = np.zeros((n, self.cardinality[j]), np.float32)
                block[np.arange(n), self.exact[table][j]] = 1.0
                dense[kind].append(block)
            else:
                wide[kind].append((self.exact[table][j], self.cardinality[j]))
            if self.is_numeric[j]:
                codes, width = self.tolerant[table][j], self.bins[j]
                block = np.zeros((n, width), np.float32)
                block[np.arange(n), codes] = 1.0
                if soft:
                    inner = np.flatnonzero(codes < width - 1)  # the missing bin matches only itself
                    block[inner, np.maximum(codes[inner] - 1, 0)] = 1.0
                    block[inner, np.minimum(codes[inner] + 1, width - 2)] = 1.0
                dense["tolerant"].append(block)
        return {kind: (_dense(dense[kind], n), _sparse(wide[kind], n)) for kind in dense}


def _dense(blocks: list[np.ndarray], n: int) -> np.ndarray:
    return np.hstack(blocks) if blocks else np.zeros((n, 0), np.float32)


def _sparse(columns: list[tuple[np.ndarray, int]], n: int):
    """Many-valued columns as one sparse one-hot matrix: equal pairs are few, so a sparse product
    finds them without comparing every pair."""
    if not columns:
        return None
    offsets = np.cumsum([0] + [width for _, width in columns])
    rows = np.concatenate([np.arange(n)] * len(columns))
    cols = np.concatenate([codes + offset for (codes, _), offset in zip(columns, offsets, strict=False)])
    return csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, int(offsets[-1])))


class _Agreement:
    """Counts of agreeing columns between query rows and every reference row, exact and tolerant."""

    def __init__(self, coded: _Coded, queries: int, reference: int, columns: tuple[int, ...]):
        self.width = len(columns)
        self.query = coded.parts(queries, columns, soft=False)
        self.reference = {
            kind: (np.ascontiguousarray(d.T), None if w is None else w.T.tocsr())
            for kind, (d, w) in coded.parts(reference, columns, soft=True).items()
        }
        self.needs_tolerant = any(coded.is_numeric[j] for j in columns)

    def _count(self, kind: str, rows: np.ndarray) -> np.ndarray | None:
        q_dense, q_wide = self.query[kind]
        r_dense_t, r_wide_t = self.reference[kind]
        out = q_dense[rows] @ r_dense_t if q_dense.shape[1] else None
        if q_wide is not None:
            pairs = (q_wide[rows] @ r_wide_t).toarray()
            out = pairs if out is None else out + pairs
        return out

    def differences(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns not identical, columns not within the tolerance), int16, rows x reference."""
        parts = {kind: self._count(kind, rows) for kind in ("same", "exact", "tolerant")}
        n_ref = next(self.reference[k][0].shape[1] for k in self.reference)
        same = parts["same"] if parts["same"] is not None else np.zeros((len(rows), n_ref), np.float32)
        exact = same + parts["exact"] if parts["exact"] is not None else same
        tolerant = same + parts["tolerant"] if parts["tolerant"] is not None else exact
        return (
            (self.width - np.rint(exact)).astype(np.int16),
            (self.width - np.rint(tolerant)).astype(np.int16),
        )


def neighbour_profile(
    coded: _Coded,
    queries: int,
    query_rows: np.ndarray,
    reference: int,
    columns: tuple[int, ...],
    max_exact: int,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Per query row and e = 0 .. max_exact, then e = any: the fewest columns not within the
    tolerance among reference rows with at most e columns not identical (`NO_ROW` if none).

    `exclude[i]`: a reference row never compared with query i (the person themself). A criterion
    (exact e, tolerant t) holds for query i iff `profile[i, e] <= t`.
    """
    agreement = _Agreement(coded, queries, reference, columns)
    out = np.full((len(query_rows), max_exact + 2), NO_ROW, dtype=np.int16)
    if len(coded.exact[reference][0]) == 0:
        return out
    for start in range(0, len(query_rows), CHUNK):
        rows = query_rows[start : start + CHUNK]
        exact, tolerant = agreement.differences(rows)
        if exclude is not None:
            position = np.arange(len(rows))
            exact[position, exclude[start : start + CHUNK]] = NO_ROW
            tolerant[position, exclude[start : start + CHUNK]] = NO_ROW
        for e in range(max_exact + 1):
            out[start : start + len(rows), e] = np.where(exact <= e, tolerant, NO_ROW).min(axis=1)
        out[start : start + len(rows), -1] = tolerant.min(axis=1)
    return out


def pair_differences(coded: _Coded, queries: int, reference: int, columns: tuple[int, ...]):
    """Per chunk of query rows: (first query row, columns not identical, columns not within the
    tolerance) against every reference row — int16 matrices."""
    agreement = _Agreement(coded, queries, reference, columns)
    n = len(coded.exact[queries][0]) if coded.exact[queries] else 0
    for start in range(0, n, CHUNK):
        yield start, *agreement.differences(np.arange(start, min(start + CHUNK, n)))


def within(exact: np.ndarray, tolerant: np.ndarray, criterion: Criterion) -> np.ndarray:
    """Boolean pair matrix: does the pair meet the criterion?"""
    mask = np.ones(exact.shape, dtype=bool)
    if criterion.exact is not None:
        mask &= exact <= criterion.exact
    if criterion.tolerant is not None:
        mask &= tolerant <= criterion.tolerant
    return mask


def matched_people(
    people: pd.DataFrame,
    references: list[pd.DataFrame],
    columns: list[str],
    numeric: list[str],
    chosen: list[Criterion],
    range_from: int,
) -> list[list[int]]:
    """Per reference table, per criterion: the size of a maximum matching of people to distinct
    reference rows that meet the criterion with them.

    Why a matching and not "people with a match": one reference row can be the neighbour of many
    people, so adding or removing one row could flip many indicators; a maximum matching moves by
    at most one when one person (a vertex on either side) is added or removed — sensitivity 1,
    whatever the table. Identical rows are merged into one vertex with a capacity (their count)
    and the matching is a maximum flow, so a table of few distinct profiles stays a small graph.
    `range_from`: the index in `references` whose numbers set ranges and tolerances (public).
    """
    frames = [people, *references]
    unique, counts = [], []
    for frame in frames:
        keys = pd.util.hash_pandas_object(frame[columns].astype("string").fillna("\x00"), index=False)
        first = ~keys.duplicated().to_numpy()
        unique.append(frame[columns].iloc[np.flatnonzero(first)])
        counts.append(keys.value_counts().reindex(keys[first]).to_numpy().astype(np.int32))
    coded = _Coded(unique, columns, numeric, range_from=[1 + range_from])
    everything = tuple(range(len(columns)))
    out = []
    for r, _ in enumerate(references, start=1):
        edges = [([], []) for _ in chosen]
        for start, exact, tolerant in pair_differences(coded, 0, r, everything):
            for i, criterion in enumerate(chosen):
                q, ref = np.nonzero(within(exact, tolerant, criterion))
                edges[i][0].append(q + start)
                edges[i][1].append(ref)
        sizes = []
        for q_parts, r_parts in edges:
            q, ref = np.concatenate(q_parts), np.concatenate(r_parts)
            sizes.append(_max_flow(counts[0], counts[r], q, ref))
        out.append(sizes)
    return out


def _max_flow(left: np.ndarray, right: np.ndarray, q: np.ndarray, r: np.ndarray) -> int:
    """Max flow source -> left vertices (capacity: count) -> right (edges) -> sink (capacity: count)."""
    if len(q) == 0:
        return 0
    n_left, n_right = len(left), len(right)
    sink = 1 + n_left + n_right
    big = int(min(left.sum(), right.sum()))
    rows = np.concatenate([np.zeros(n_left, np.int64), 1 + q, 1 + n_left + np.arange(n_right)])
    cols = np.concatenate([1 + np.arange(n_left), 1 + n_left + r, np.full(n_right, sink)])
    capacity = np.concatenate([left, np.full(len(q), big, np.int32), right]).astype(np.int32)
    graph = csr_matrix((capacity, (rows, cols)), shape=(sink + 1, sink + 1))
    return int(maximum_flow(graph, 0, sink).flow_value)


def holds(profile: np.ndarray, criterion: Criterion) -> np.ndarray:
    """Per query row: is some reference row within the criterion?"""
    if criterion.exact is None:
        return profile[:, -1] <= criterion.tolerant
    column = profile[:, criterion.exact]
    return column < NO_ROW if criterion.tolerant is None else column <= criterion.tolerant


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def run(data: AttackData, config: AttackConfig) -> AttackResult:
    rng = np.random.default_rng(config.seed + 7)
    source = pd.concat([data.train, data.holdout], ignore_index=True)
    half_a, half_b = _halves(len(source), rng)
    n_ref = int(min(len(half_a), len(data.synthetic), REFERENCE_ROWS))
    a_rows = np.sort(rng.choice(half_a, n_ref, replace=False))
    b_rows = np.sort(rng.choice(half_b, n_ref, replace=False))
    s_rows = sample_rows(len(data.synthetic), n_ref, rng)
    frames = [source.iloc[a_rows], source.iloc[b_rows], data.synthetic.iloc[s_rows]]
    coded = _Coded(frames, data.columns, data.numeric, range_from=[0, 1])
    query = {side: sample_rows(n_ref, min(QUERY_ROWS, n_ref), rng) for side in (0, 1)}
    every = criteria(data.columns, data.numeric, data.quasi_identifiers)
    groups = {
        "all": tuple(range(len(data.columns))),
        "quasi-identifiers": tuple(i for i, c in enumerate(data.columns) if c in data.quasi_identifiers),
    }
    tests = []
    for group, columns in groups.items():
        mine = [c for c in every if c.columns == group]
        if not mine:
            continue
        max_exact = max((c.exact for c in mine if c.exact is not None), default=0) + 1
        profiles = []  # per side: (own half without the person, synthetic, other half)
        for side, other in ((0, 1), (1, 0)):
            rows = query[side]
            profiles.append(
                [
                    neighbour_profile(coded, side, rows, side, columns, max_exact, exclude=rows),
                    neighbour_profile(coded, side, rows, 2, columns, max_exact),
                    neighbour_profile(coded, side, rows, other, columns, max_exact),
                ]
            )
        for criterion in mine:
            rare = np.concatenate([~holds(p[0], criterion.looser()) for p in profiles])
            tests.append(_test(criterion.label, rare, criterion, profiles))
        if group == "all":  # outliers and rare combinations: people nobody resembles at all
            alone = isolation(data.columns, data.numeric)
            isolated = np.concatenate([~holds(p[0], alone) for p in profiles])
            for criterion in key_criteria(data.columns, data.numeric):
                tests.append(
                    _test(f"{criterion.label}, among isolated people", isolated, criterion, profiles)
                )
    return _decide(tests, config, n_ref)


def isolation(columns: list[str], numeric: list[str]) -> Criterion:
    """Nobody of their own half within k + 1 columns (numbers within the tolerance when there are
    numbers): outliers, rare categories, rare combinations — the people a replay exposes most,
    and whom an honest generator (or another real sample) almost never finds."""
    k = allowed_differences(len(columns)) + 1
    return Criterion("all", None, k) if numeric else Criterion("all", k, None)


def key_criteria(columns: list[str], numeric: list[str]) -> list[Criterion]:
    """The few criteria asked about isolated people, and by the private gate (each one widens every
    interval a little): an exact copy, up to two columns changed, up to k with one number not close."""
    k = allowed_differences(len(columns))
    chosen = [Criterion("all", 0, None)]
    if k >= 1:
        chosen.append(Criterion("all", min(2, k), None))
    if k >= 1 and numeric:
        chosen.append(Criterion("all", k, 1))
    return chosen


def _test(label: str, rare: np.ndarray, criterion: Criterion, profiles: list) -> tuple:
    """(label, rare people, found in the table, found among the other half) for one criterion."""
    found = np.concatenate([holds(p[1], criterion) for p in profiles])[rare]
    chance = np.concatenate([holds(p[2], criterion) for p in profiles])[rare]
    return label, int(rare.sum()), found, chance


def _decide(tests: list, config: AttackConfig, n_ref: int) -> AttackResult:
    """Block when some criterion's excess is surely (Bonferroni over the judged ones) above the limit."""
    threshold = config.max_absolute_exposure_excess
    judged = [t for t in tests if t[1] >= MIN_RARE_PEOPLE]
    z = float(norm.ppf(1.0 - FAMILY_ALPHA / max(len(judged), 1)))
    per_criterion, best = [], None
    for label, rare, found, chance in judged:
        paired = found.astype(np.float64) - chance.astype(np.float64)
        excess = float(paired.mean())
        se = max(float(paired.std(ddof=1) / np.sqrt(rare)), 1.0 / rare)  # never a zero-width interval
        low, high = excess - z * se, excess + z * se
        per_criterion.append(
            {
                "found_when": label,
                "rare_people": rare,
                "share_found_in_table": round(float(found.mean()), 6),
                "share_found_among_other_real_people": round(float(chance.mean()), 6),
                "excess": round(excess, 6),
                "interval_low": round(low, 6),
            }
        )
        if best is None or low > best[1][0]:
            best = (excess, (low, high), label)
    details = {"criteria": per_criterion, "reference_rows": n_ref, "interval_z": round(z, 3)}
    what = "excess share of rare real people (whole source) found in the table beyond chance"
    if best is None:
        details["note"] = "no criterion had enough rare people to judge: nobody stands out to be exposed"
        return decide(NAME, 0.0, (0.0, 0.0), threshold, 0, config.seed, what, details)
    excess, ci, label = best
    details["deciding_criterion"] = label
    return decide(
        NAME,
        excess,
        ci,
        threshold,
        sum(t[1] for t in judged),
        config.seed,
        f"{what} ({label})",
        details,
    )
