"""Bounded-sensitivity figures of the release gate's real-data checks (exact, before noise).

Each function returns counts over a *keyed, fixed-size* sample of people (`keyed_sample`: the m
rows with the smallest keyed hash of their content; m public, from the noisy counts) and a
per-person indicator that depends only on that person and the synthetic table. Adding or
removing one person changes the sample by at most one person in and one out, so a share
`hits / m` moves by at most 1/m (`private_decision.SENSITIVITY`). Nothing that scales or
calibrates an indicator is taken from the real data: numeric ranges, resolutions, bins,
encoders and vocabularies come from the synthetic table (a DP output, public).

`private_decision` adds the noise and decides; the exact attacks of `lib/gate/attacks/` still
compute the restricted figures of the evidence pack. Nothing here returns a cell value.
"""

from __future__ import annotations

import hashlib
from itertools import combinations

import numpy as np
import pandas as pd

from synth_platform.lib.gate.attacks.closest_record import capped_distances
from synth_platform.lib.gate.attacks.near_match import column_codes, left_out_sets, near_matches
from synth_platform.lib.gate.attacks.space import (
    MixedEncoder,
    as_float,
    as_text,
    is_numeric,
    nearest,
    nearest_with_index,
)
from synth_platform.lib.gate.privacy import _row_hashes

#: a share's indicators over this many people per side at most (distance checks); hashing checks take all
DISTANCE_PEOPLE = 20_000
NEIGHBOUR_PEOPLE = 2_500
SYNTHETIC_ROWS = 10_000
#: public cuts of the squared (Gower-like) distance for close copies; 1.0: any row closer than the cap
#: (A cut at the cap, "any row in the person's categorical group", measured coverage rather than
#: copies, and blocked an honest dp_mst race table at 0.17: a DP model's domain is chosen on the
#: training split, so it covers training people's groups a little better; gone.)
CLOSE_CUTS = (1e-4, 1e-3, 1e-2)
MAX_TRIPLES = 60
QUANTILE_BINS = 10
PAIR_BINS = 5
SCORED_MAX_CATEGORIES = 100


def canonical_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Each cell as text, a missing one as a marker: what the keyed hashes hash. Most of a keyed
    hash's cost: the gate writes each frame once and hashes it under several keys."""
    return frame.astype("string").fillna("\x00<NA>")


def keyed_hashes(frame: pd.DataFrame, hash_key: str, canonical: pd.DataFrame | None = None) -> np.ndarray:
    """Each row's keyed hash of its content (what `keyed_sample` ranks rows by); `canonical`:
    `canonical_text(frame)` when the caller already has it."""
    canonical = canonical_text(frame) if canonical is None else canonical
    return pd.util.hash_pandas_object(canonical, index=False, hash_key=hash_key).to_numpy()


def keyed_sample(
    frame: pd.DataFrame, m: int, hash_key: str, hashes: np.ndarray | None = None
) -> pd.DataFrame:
    """The m rows with the smallest keyed hash of their content (all rows when fewer).

    Identical rows hash alike and have identical indicators, so ties do not matter; one person
    added or removed changes the chosen multiset by at most one row in and one row out.
    `hashes`: `keyed_hashes(frame, hash_key)` when the caller already has them (the gate samples
    the same frame for several checks: hashing it once is most of the cost).
    """
    if m <= 0 or frame.empty:
        return frame.iloc[:0]
    if len(frame) <= m:
        return frame
    if hashes is None:
        hashes = keyed_hashes(frame, hash_key)
    chosen = np.argpartition(hashes, m - 1)[:m]
    return frame.iloc[np.sort(chosen)]


def numeric_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    return [c for c in columns if is_numeric(frame[c]) or pd.api.types.is_datetime64_any_dtype(frame[c])]


# --- copies -----------------------------------------------------------------------------------


def exact_copy_hits(people: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str]) -> int:
    """People with a synthetic row identical to theirs on every model column."""
    if people.empty:
        return 0
    return int(np.isin(_row_hashes(people, columns), _row_hashes(synthetic, columns)).sum())


def near_copy_hits(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str], numeric
) -> tuple[int, int]:
    """People with a synthetic twin on all but <= 2 columns (numbers at a synthetic-range resolution)."""
    codes = column_codes([train, holdout, synthetic], columns, numeric, resolution_from=2)
    hits = near_matches(codes[:2], codes[2], left_out_sets(len(columns)))
    return int(hits[0].sum()), int(hits[1].sum())


def unique_people_hits(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    quasi_identifiers: list[str],
    profile: list[str],
    numeric,
) -> tuple[int, int]:
    """People whose profile reappears in the synthetic table while their quasi-identifier combination
    occurs at most once there (a rare person replayed), per side."""
    frames = [train, holdout, synthetic]
    with np.errstate(over="ignore"):
        qi = [c.sum(axis=1, dtype=np.uint64) for c in column_codes(frames, quasi_identifiers, numeric, 2)]
        prof = [c.sum(axis=1, dtype=np.uint64) for c in column_codes(frames, profile, numeric, 2)]
    keys, counts = np.unique(qi[2], return_counts=True)
    common = keys[counts > 1]
    out = []
    for side in (0, 1):
        hit = np.isin(prof[side], prof[2]) & ~np.isin(qi[side], common)
        out.append(int(hit.sum()))
    return out[0], out[1]


def _synthetic_scale(synthetic: pd.DataFrame, numeric: list[str]):
    scale = {}
    for column in numeric:
        numbers = as_float(synthetic[column])
        low, high = numbers.min(), numbers.max()
        span = float(high - low) if pd.notna(high) and high > low else 1.0
        median = float(numbers.median()) if numbers.notna().any() else 0.0
        scale[column] = (float(low) if pd.notna(low) else 0.0, span, median)
    return scale


def _numeric_block(frame: pd.DataFrame, scale: dict) -> np.ndarray:
    blocks = []
    for column, (low, span, median) in scale.items():
        numbers = as_float(frame[column])
        blocks.append(((numbers.fillna(median) - low) / span).to_numpy())
        blocks.append(numbers.isna().to_numpy().astype(np.float64))
    if not blocks:
        return np.zeros((len(frame), 0), np.float32)
    return np.clip(np.column_stack(blocks), -1.0, 2.0).astype(np.float32)


def close_copy_hits(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str],
    numeric: list[str],
    cuts: tuple[float, ...] = CLOSE_CUTS,
) -> tuple[list[int], list[int]]:
    """Per public cut, the train and holdout people within it of their nearest synthetic row.

    Squared distance as in `closest_record` (same categorical values, numbers scaled by the
    synthetic ranges, capped at 1; a cut of 1 means "closer than the cap"). The exact attack
    sets its cut at the holdout's 1 % quantile, a figure of the real data whose release would
    need its own noise (on the demo it landed at the cap); the private figure instead looks at
    a few fixed, public cuts, and each person contributes one indicator per cut.
    """
    categorical = [c for c in columns if c not in numeric]
    frames = [train, holdout, synthetic]
    if categorical:
        with np.errstate(over="ignore"):
            keys = [c.sum(axis=1, dtype=np.uint64) for c in column_codes(frames, categorical, numeric, 2)]
    else:
        keys = [np.zeros(len(f), dtype=np.uint64) for f in frames]
    scale = _synthetic_scale(synthetic, numeric)
    synthetic_block = _numeric_block(synthetic, scale)
    to_train = capped_distances(_numeric_block(train, scale), keys[0], synthetic_block, keys[2])
    to_holdout = capped_distances(_numeric_block(holdout, scale), keys[1], synthetic_block, keys[2])

    def within(distances: np.ndarray, cut: float) -> int:
        return int((distances < 1.0).sum() if cut >= 1.0 else (distances <= cut).sum())

    return [within(to_train, c) for c in cuts], [within(to_holdout, c) for c in cuts]


# --- attacks with a neighbour search (encoders fitted on the synthetic table) -------------------


def _synthetic_rows(synthetic: pd.DataFrame, seed: int) -> pd.DataFrame:
    if len(synthetic) <= SYNTHETIC_ROWS:
        return synthetic.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    return synthetic.iloc[np.sort(rng.choice(len(synthetic), SYNTHETIC_ROWS, replace=False))].reset_index(
        drop=True
    )


def membership_auc(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, columns, numeric, m: int, seed: int
) -> float:
    """AUC of minus the distance to the nearest synthetic row, train vs holdout people, over m*m pairs
    (a missing person counts as a lost pair: one person moves the AUC by at most 1/m)."""
    if m <= 0:
        return float("nan")
    reference = _synthetic_rows(synthetic[columns], seed)
    encoder = MixedEncoder(reference, numeric)
    encoded = encoder.transform(reference)
    members = -np.sqrt(nearest(encoder.transform(train[columns]), encoded)[:, 0])
    others = -np.sqrt(nearest(encoder.transform(holdout[columns]), encoded)[:, 0])
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([members, others]))
    wins = ranks[: len(members)].sum() - len(members) * (len(members) + 1) / 2
    return float(wins / (m * m))


def singling_out_hits(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, columns, numeric, seed: int
) -> tuple[int, int]:
    """People matching a 3-column combination that occurs exactly once in the synthetic table
    (public triples of columns; numbers on synthetic-quantile bins), per side."""
    coded = _binned_codes([train, holdout, synthetic], columns, numeric)
    triples = list(combinations(range(len(columns)), min(3, len(columns))))
    if len(triples) > MAX_TRIPLES:
        rng = np.random.default_rng(seed)
        triples = [triples[i] for i in sorted(rng.choice(len(triples), MAX_TRIPLES, replace=False))]
    hits = [np.zeros(len(train), bool), np.zeros(len(holdout), bool)]
    for triple in triples:
        keys = [_combine(c[:, list(triple)]) for c in coded]
        values, counts = np.unique(keys[2], return_counts=True)
        unique = values[counts == 1]
        for side in (0, 1):
            hits[side] |= np.isin(keys[side], unique)
    return int(hits[0].sum()), int(hits[1].sum())


def _combine(codes: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        out = np.zeros(len(codes), dtype=np.uint64)
        for j in range(codes.shape[1]):
            out = out * np.uint64(1_000_003) + codes[:, j].astype(np.uint64)
    return out


def _binned_codes(
    frames: list[pd.DataFrame], columns: list[str], numeric, bins: int = QUANTILE_BINS
) -> list[np.ndarray]:
    """Per frame, (rows x columns) integer codes: categories by value (synthetic vocabulary, other
    values one code), numbers by synthetic-quantile bin, missing its own code."""
    synthetic = frames[-1]
    out = [np.zeros((len(f), len(columns)), dtype=np.int64) for f in frames]
    for j, column in enumerate(columns):
        if column in numeric:
            reference = as_float(synthetic[column]).dropna()
            edges = (
                np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
                if len(reference)
                else np.array([])
            )
            for frame, target in zip(frames, out, strict=True):
                numbers = as_float(frame[column])
                codes = np.searchsorted(edges, numbers.fillna(0).to_numpy(), side="right") + 1
                codes[numbers.isna().to_numpy()] = 0
                target[:, j] = codes
        else:
            vocabulary = pd.Index(sorted(set(as_text(synthetic[column]).unique())))
            for frame, target in zip(frames, out, strict=True):
                codes = vocabulary.get_indexer(as_text(frame[column]))
                codes[codes < 0] = len(vocabulary)
                target[:, j] = codes
    return out


def linkability_hits(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, quasi_identifiers, numeric, seed: int
) -> tuple[int, int]:
    """People whose nearest synthetic rows on the two quasi-identifier halves are one row, per side."""
    halves = quasi_identifiers[0::2], quasi_identifiers[1::2]
    reference = _synthetic_rows(synthetic, seed)
    found = []
    for half in halves:
        encoder = MixedEncoder(reference[list(half)], [c for c in half if c in numeric])
        encoded = encoder.transform(reference[list(half)])
        found.append(
            [nearest_with_index(encoder.transform(f[list(half)]), encoded)[1][:, 0] for f in (train, holdout)]
        )
    return int((found[0][0] == found[1][0]).sum()), int((found[0][1] == found[1][1]).sum())


def inference_hits(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, columns, secrets, numeric, seed: int
) -> dict[str, tuple[int, int]]:
    """Per sensitive column: people whose value equals the nearest synthetic row's on all other
    columns (numbers within 5 %), per side."""
    reference = _synthetic_rows(synthetic, seed)
    out = {}
    for secret in secrets:
        aux = [c for c in columns if c != secret]
        encoder = MixedEncoder(reference[aux], [c for c in aux if c in numeric])
        encoded = encoder.transform(reference[aux])
        hits = []
        for frame in (train, holdout):
            index = nearest_with_index(encoder.transform(frame[aux]), encoded)[1][:, 0]
            guesses = reference[secret].iloc[index].reset_index(drop=True)
            truth = frame[secret].reset_index(drop=True)
            if secret in numeric:
                g, t = as_float(guesses).to_numpy(), as_float(truth).to_numpy()
                right = np.abs(g - t) <= 0.05 * np.abs(t)
            else:
                right = (as_text(guesses) == as_text(truth)).to_numpy()
            hits.append(int(np.sum(right)))
        out[secret] = (hits[0], hits[1])
    return out


# --- quality: TV / KS similarities over m people ------------------------------------------------


def scored_columns(synthetic: pd.DataFrame, columns: list[str], numeric) -> list[str]:
    """The columns the bounded quality score covers: numbers, and categoricals of at most 100 values
    in the synthetic table (public)."""
    return [c for c in columns if c in numeric or synthetic[c].nunique() <= SCORED_MAX_CATEGORIES]


def bounded_quality(
    people: pd.DataFrame, synthetic: pd.DataFrame, columns, numeric, m: int, seed: int = 0
) -> dict:
    """Mean of column shapes (1 - KS for numbers, 1 - TV for categories) and pair trends (1 - TV of
    the 2-way table, numbers on `PAIR_BINS` synthetic-quantile bins), real frequencies over m.

    Each distance is taken net of its sampling floor: the same distance between m rows drawn (with
    replacement, seeded) from the synthetic table and the synthetic table itself — public — so a
    small sample is not judged worse than sampling alone makes it. The floor does not depend on
    the real data, so each term still moves by at most 1/m.
    """
    if m <= 0 or not columns:
        return {"score": float("nan"), "column_shapes": float("nan"), "column_pair_trends": float("nan")}
    rng = np.random.default_rng(seed)
    floor_rows = synthetic.iloc[rng.integers(0, len(synthetic), m)] if len(synthetic) else synthetic
    # a category's codes do not depend on the number of bins: one coding serves shapes and pairs
    coded = _binned_codes([people, floor_rows, synthetic], columns, numeric, PAIR_BINS)
    shapes = []
    for j, column in enumerate(columns):
        if column in numeric:
            real = _ks_padded(as_float(people[column]), as_float(synthetic[column]), m)
            floor = _ks_padded(as_float(floor_rows[column]), as_float(synthetic[column]), m)
        else:
            real = _tv_codes(coded[0][:, [j]], coded[2][:, [j]], m)
            floor = _tv_codes(coded[1][:, [j]], coded[2][:, [j]], m)
        shapes.append(1.0 - max(0.0, real - floor))
    pairs = []
    for a, b in combinations(range(len(columns)), 2):
        real = _tv_codes(coded[0][:, [a, b]], coded[2][:, [a, b]], m)
        floor = _tv_codes(coded[1][:, [a, b]], coded[2][:, [a, b]], m)
        pairs.append(1.0 - max(0.0, real - floor))
    shape = float(np.mean(shapes))
    trend = float(np.mean(pairs)) if pairs else shape
    return {"score": (shape + trend) / 2, "column_shapes": shape, "column_pair_trends": trend}


def _tv_codes(real: np.ndarray, synthetic: np.ndarray, m: int) -> float:
    """TV distance of the code combinations, the real side over m (missing mass on no cell)."""
    cells = _cell_counts(real, synthetic)
    if cells is None:
        keys_r, keys_s = _combine(real), _combine(synthetic)
        values, inverse = np.unique(np.concatenate([keys_r, keys_s]), return_inverse=True)
        count_r = np.bincount(inverse[: len(keys_r)], minlength=len(values))
        count_s = np.bincount(inverse[len(keys_r) :], minlength=len(values))
    else:
        count_r, count_s = cells
    p_r = count_r / m
    p_s = count_s / max(len(synthetic), 1)
    absent = max(0.0, 1.0 - len(real) / m)
    return 0.5 * (float(np.abs(p_r - p_s).sum()) + absent)


#: cells of a one- or two-column table counted by `np.bincount` (beyond: the sort in `_tv_codes`)
MAX_DENSE_CELLS = 1 << 22


def _cell_counts(real: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per occupied cell, in `_combine`'s key order, the real and synthetic counts — what the sort
    in `_tv_codes` finds — counted by `np.bincount` on a dense cell index (None: codes too many or
    not small non-negative integers). One or two columns of codes below 1_000_003: `_combine`'s
    key order is then the lexicographic order of the codes, as the dense index's is, so the same
    cells come out in the same order and the TV sum adds the same numbers in the same order."""
    if real.shape[1] not in (1, 2) or len(real) == 0 or len(synthetic) == 0:
        return None
    low = min(int(real.min()), int(synthetic.min()))
    high = np.maximum(real.max(axis=0), synthetic.max(axis=0)).astype(np.int64) + 1
    if low < 0 or int(high.max()) >= 1_000_003 or int(np.prod(high)) > MAX_DENSE_CELLS:
        return None

    def index(codes: np.ndarray) -> np.ndarray:
        return codes[:, 0] if codes.shape[1] == 1 else codes[:, 0] * high[1] + codes[:, 1]

    size = int(np.prod(high))
    count_r = np.bincount(index(real), minlength=size)
    count_s = np.bincount(index(synthetic), minlength=size)
    occupied = (count_r > 0) | (count_s > 0)
    return count_r[occupied], count_s[occupied]


def _ks_padded(real: pd.Series, synthetic: pd.Series, m: int) -> float:
    """KS distance, the real CDF over m people (missing values and missing people at +inf)."""
    r = np.sort(real.dropna().to_numpy())
    s = np.sort(synthetic.dropna().to_numpy())
    if len(s) == 0:
        return 1.0
    points = np.concatenate([r, s])
    cdf_r = np.searchsorted(r, points, side="right") / m
    cdf_s = np.searchsorted(s, points, side="right") / len(synthetic)
    return float(np.max(np.abs(cdf_r - cdf_s))) if len(points) else 0.0


# --- utility: synthetic-trained model, public reference score vs holdout people -----------------


def tstr_scores(synthetic: pd.DataFrame, holdout: pd.DataFrame, target: str, task, max_rows: int, seed: int):
    """(public score on held-out synthetic rows, sum of per-person scores on `holdout`) of a model
    trained on synthetic rows: accuracy, or 1 - |error| / synthetic range (clipped) for numbers."""
    from threadpoolctl import threadpool_limits

    from synth_platform.lib.gate import utility

    rng = np.random.default_rng(seed)
    rows = synthetic[synthetic[target].notna()]
    order = rng.permutation(len(rows))
    cut = max(1, int(0.8 * len(rows)))
    fit_rows = rows.iloc[np.sort(order[:cut][:max_rows])]
    test_rows = rows.iloc[np.sort(order[cut:][:max_rows])]
    features = [c for c in synthetic.columns if c != target]
    encoder = utility._Features(fit_rows, features)
    task = task or utility.infer_task(rows[target])
    with threadpool_limits(limits=1):
        if task == "classification":
            labels = fit_rows[target].astype(str).to_numpy()
            model = utility._fit(task, encoder.transform(fit_rows), labels, seed)

            def per_person(frame: pd.DataFrame) -> np.ndarray:
                if frame.empty:
                    return np.zeros(0)
                guess = model.predict(encoder.transform(frame)) if model is not None else labels[0]
                return (frame[target].astype(str).to_numpy() == guess).astype(float)
        else:
            numbers = as_float(fit_rows[target]).to_numpy()
            model = utility._fit(task, encoder.transform(fit_rows), numbers, seed)
            span = float(np.nanmax(numbers) - np.nanmin(numbers)) or 1.0

            def per_person(frame: pd.DataFrame) -> np.ndarray:
                if frame.empty:
                    return np.zeros(0)
                error = np.abs(model.predict(encoder.transform(frame)) - as_float(frame[target]).to_numpy())
                return 1.0 - np.clip(np.nan_to_num(error, nan=span) / span, 0.0, 1.0)

        public = float(per_person(test_rows).mean()) if len(test_rows) else float("nan")
        private_sum = float(per_person(holdout).sum())
    return public, private_sum


# --- identifier leaks ---------------------------------------------------------------------------


def leaking_people(synthetic: pd.DataFrame, raw_identifiers: list[pd.Series], reserved=None) -> int:
    """Source people with an identifying direct identifier equal (in any written form) to a synthetic
    cell; a person counts once whatever the number of cells. With `reserved`
    (`privacy.ReservedSpaces`), refilled cells inside their reserved space and raw values inside a
    public reserved space are not compared (`privacy.RESERVED_RULE`), as in the SQL scan."""
    from synth_platform.lib.deidentify.refill import forbidden_values
    from synth_platform.lib.gate.privacy import in_raw_space, in_synthetic_space

    if not raw_identifiers:
        return 0
    spaces = reserved.synthetic if reserved is not None else {}
    found = forbidden_values(
        [
            synthetic[c][~in_synthetic_space(synthetic[c], spaces.get(str(c)))].astype("string")
            for c in synthetic.columns
        ]
    )
    leaking = np.zeros(len(raw_identifiers[0]), dtype=bool)
    for series in raw_identifiers:
        codes, uniques = pd.factorize(series.reset_index(drop=True))
        identifying, _ = found.classify(pd.Series(uniques, dtype=object))
        if reserved is not None:
            identifying &= ~in_raw_space(pd.Series(uniques, dtype=object), reserved.raw.get(str(series.name)))
        hit = np.zeros(len(series), dtype=bool)
        present = codes >= 0
        hit[present] = identifying[codes[present]]
        leaking |= hit
    return int(leaking.sum())


# --- absolute exposure (whole source) ------------------------------------------------------------

#: people asked about (one keyed half of the source) and rows per reference (other half, synthetic)
EXPOSURE_PEOPLE = 10_000
EXPOSURE_REFERENCE = 12_000


def exposure_criteria(columns: list[str], numeric: list[str]) -> list:
    """The public few ways of being found that the bounded figure asks about (each costs noise):
    the leak classes of `lib/gate/attacks/exposure` (`key_criteria`)."""
    from synth_platform.lib.gate.attacks.exposure import key_criteria

    return key_criteria(columns, numeric)


def exposure_halves(source: pd.DataFrame, hash_key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The source split in two by a keyed hash of each row's content: a person's half depends on
    their row alone (neighbouring sources stay neighbours on each half)."""
    odd = _odd_half(canonical_text(source), hash_key)
    return source[~odd], source[odd]


def _odd_half(canonical: pd.DataFrame, hash_key: str) -> np.ndarray:
    """Per row (of `canonical_text` of the source): is it in the second half (`exposure_halves`)."""
    return (keyed_hashes(canonical, hash_key, canonical) & np.uint64(1)).astype(bool)


def exposure_matchings(
    source: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str],
    numeric: list[str],
    m: int,
    n_reference: int,
    hash_key: str,
    canonical: pd.DataFrame | None = None,
) -> tuple[list[int], list[int], list]:
    """(found, chance, criteria): per public criterion, the maximum matching of m keyed people of
    one half to distinct rows of the synthetic table's first `n_reference` rows, and to distinct
    people of the other half's keyed sample of the same size.

    Sensitivity: one person is a vertex of one of the people / other-half samples; a keyed sample
    of fixed size swaps at most one person in and one out, and a maximum matching moves by at most
    one per vertex added or removed: each matching moves by <= 1 (`exposure.matched_people`).
    Ranges and tolerances come from the synthetic table (public).

    `canonical`: `canonical_text(source[columns])` when the caller has it (the halves and both
    keyed samples hash that one text, written once: the same hashes as `exposure_halves` and
    `keyed_sample` compute).
    """
    from synth_platform.lib.gate.attacks.exposure import matched_people

    chosen = exposure_criteria(columns, numeric)
    half_key = hashlib.sha256(f"exposure-half\x1f{hash_key}".encode()).hexdigest()[:16]
    frame = source[columns]
    canonical = canonical_text(frame) if canonical is None else canonical
    odd = _odd_half(canonical, half_key)
    half_a, half_b = frame[~odd], frame[odd]

    def sample(half: pd.DataFrame, text: pd.DataFrame, size: int) -> pd.DataFrame:
        hashes = keyed_hashes(half, hash_key, text) if 0 < size < len(half) else None
        return keyed_sample(half, size, hash_key, hashes)

    people = sample(half_a, canonical[~odd], m)
    others = sample(half_b, canonical[odd], n_reference)
    reference = synthetic[columns].iloc[:n_reference]
    found, chance = matched_people(people, [reference, others], columns, numeric, chosen, range_from=0)
    return found, chance, chosen
