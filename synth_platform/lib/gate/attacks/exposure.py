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

Speed. Agreement counts are broadcast comparisons of narrow integer codes summed in a uint8
counter (several times faster than the one-hot matrix products they replace, same counts); only
the few pairs within the loosest criterion are kept for the profiles and matchings; people and
reference rows are sampled (`QUERY_ROWS`, `REFERENCE_ROWS`), so the cost is bounded whatever the
table's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow
from scipy.stats import norm

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.result import AttackResult, decide
from synth_platform.lib.gate.attacks.space import AttackData, as_float, as_text, sample_rows

NAME = "absolute_exposure"
#: numbers within this share of the column's (real) range count as the same value at tolerant levels
TOLERANCE = 0.04
#: people asked about per half, and rows per reference table (halves, synthetic sample)
QUERY_ROWS = 3_000
REFERENCE_ROWS = 15_000
#: a level is judged only when at least this many rare people were asked about
MIN_RARE_PEOPLE = 50
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


def _compact(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' codes in the narrowest unsigned type that holds them with one to spare
    (broadcast comparisons of narrow integers are several times faster than of int64)."""
    top = max([int(c.max()) for c in (query, reference) if len(c)], default=0)
    for kind in (np.uint8, np.uint16, np.uint32, np.uint64):
        if top < np.iinfo(kind).max:
            return query.astype(kind), reference.astype(kind)
    raise ValueError("codes out of range")


class _Agreement:
    """Counts of agreeing columns between query rows and every reference row, exact and tolerant.

    Each column is compared by broadcasting its codes (query rows x reference rows) and the
    agreements are summed in a narrow counter: a pair's count is the number of columns on which
    the two rows have the same exact code (numbers: at the column's resolution), and, for the
    tolerant count, numbers whose tolerance bins are at most one apart (the missing bin is far
    from every other bin, so it agrees only with itself). Equivalent to one-hot matrix products,
    several times faster and without float buffers.
    """

    def __init__(self, coded: _Coded, queries: int, reference: int, columns: tuple[int, ...]):
        self.width = len(columns)
        self.n_reference = len(coded.exact[reference][0]) if coded.exact[reference] else 0
        self.counter = np.uint8 if self.width < 255 else np.uint16
        self.categories, self.numbers = [], []
        for j in columns:
            pair = _compact(coded.exact[queries][j], coded.exact[reference][j])
            if coded.is_numeric[j]:
                # bins shifted by one: q + 1 - r (unsigned, wrapping) <= 2 iff |q - r| <= 1
                bins = _compact(coded.tolerant[queries][j] + 1, coded.tolerant[reference][j])
                self.numbers.append((pair, bins))
            else:
                self.categories.append(pair)
        self.needs_tolerant = bool(self.numbers)

    def _buffer(self, shape: tuple[int, int], dtype) -> np.ndarray:
        """A scratch array reused across columns and chunks (no fresh pages per comparison)."""
        buffers = self.__dict__.setdefault("_buffers", {})
        key = (shape, np.dtype(dtype))
        if key not in buffers:
            buffers[key] = np.empty(shape, dtype)
        return buffers[key]

    def _add_equal(self, counts: np.ndarray, pair: tuple, rows: np.ndarray) -> None:
        query, reference = pair
        equal = self._buffer(counts.shape, bool)
        np.equal(query[rows][:, None], reference[None, :], out=equal)
        np.add(counts, equal.view(np.uint8), out=counts, casting="unsafe")

    def counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns identical, columns within the tolerance), rows x reference, in a narrow unsigned
        type (the two may be one array when no column holds numbers: do not write to them both)."""
        same = np.zeros((len(rows), self.n_reference), self.counter)
        for pair in self.categories:
            self._add_equal(same, pair, rows)
        if not self.numbers:
            return same, same
        exact, tolerant = same.copy(), same
        close = self._buffer(same.shape, bool)
        for pair, (query, reference) in self.numbers:
            self._add_equal(exact, pair, rows)
            gap = self._buffer(same.shape, query.dtype)
            np.subtract(query[rows][:, None], reference[None, :], out=gap)
            np.less_equal(gap, 2, out=close)
            np.add(tolerant, close.view(np.uint8), out=tolerant, casting="unsafe")
        return exact, tolerant

    def differences(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns not identical, columns not within the tolerance), int16, rows x reference."""
        exact, tolerant = self.counts(rows)
        return _missing(self.width, exact), _missing(self.width, tolerant)


def _missing(width: int, agreeing: np.ndarray) -> np.ndarray:
    """width - agreeing columns, as int16."""
    out = np.empty(agreeing.shape, np.int16)
    np.subtract(np.int16(width), agreeing, out=out, casting="unsafe")
    return out


def _near_pairs(agreeing: np.ndarray, width: int, most: int) -> tuple[np.ndarray, np.ndarray]:
    """(query, reference) positions of the pairs with at most `most` columns not agreeing, in
    row-major order (as `np.nonzero` of the full condition): such pairs are few, so the profile
    and the matchings work on them alone instead of on the whole pair matrix."""
    flat = np.flatnonzero(agreeing >= max(width - most, 0))
    return np.divmod(flat, agreeing.shape[1])


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
    n_reference = len(coded.exact[reference][0])
    if n_reference == 0:
        return out
    width = agreement.width
    for start in range(0, len(query_rows), CHUNK):
        rows = query_rows[start : start + CHUNK]
        block = out[start : start + len(rows)]
        exact, tolerant = agreement.counts(rows)
        near, ref = _near_pairs(exact, width, max_exact)
        if exclude is not None:
            mine = exclude[start : start + CHUNK]
            keep = ref != mine[near]
            near, ref = near[keep], ref[keep]
        missing_exact = np.int16(width) - exact[near, ref].astype(np.int16)
        missing_tolerant = np.int16(width) - tolerant[near, ref].astype(np.int16)
        for e in range(max_exact + 1):
            chosen = missing_exact <= e
            np.minimum.at(block[:, e], near[chosen], missing_tolerant[chosen])
        if exclude is not None:
            # the person themself agrees on nothing: never the closest while anyone else is there
            tolerant[np.arange(len(rows)), mine] = 0
        block[:, -1] = np.int16(width) - tolerant.max(axis=1).astype(np.int16)
        if exclude is not None and n_reference == 1:
            block[:, -1] = NO_ROW  # nobody but themself
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


def _criteria_pairs(coded: _Coded, reference: int, columns: tuple[int, ...], chosen: list[Criterion]):
    """Per chunk of query rows (table 0): (first query row, query and reference positions of the
    pairs some criterion may hold for, their columns not identical and not within the tolerance).
    The positions are in row-major order, as `np.nonzero` of each criterion's pair matrix; a
    criterion without an exact limit makes every pair a candidate."""
    agreement = _Agreement(coded, 0, reference, columns)
    width = agreement.width
    limits = [c.exact for c in chosen]
    loosest = None if any(e is None for e in limits) else max(limits, default=0)
    n = len(coded.exact[0][0]) if coded.exact[0] else 0
    for start in range(0, n, CHUNK):
        exact, tolerant = agreement.counts(np.arange(start, min(start + CHUNK, n)))
        if loosest is None:
            near, ref = np.nonzero(np.ones(exact.shape, dtype=bool))
        else:
            near, ref = _near_pairs(exact, width, loosest)
        missing_exact = np.int16(width) - exact[near, ref].astype(np.int16)
        missing_tolerant = np.int16(width) - tolerant[near, ref].astype(np.int16)
        yield start, near, ref, missing_exact, missing_tolerant


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
        for start, near, ref, exact, tolerant in _criteria_pairs(coded, r, everything, chosen):
            for i, criterion in enumerate(chosen):
                keep = within(exact, tolerant, criterion)
                edges[i][0].append(near[keep] + start)
                edges[i][1].append(ref[keep])
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
