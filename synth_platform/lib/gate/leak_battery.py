"""The planted-leak battery: synthetic tables that must never be released.

Built from the project's own data — a training split and an honest synthetic table of it,
both in model space — by planting real training people into the honest output:

* `near_copies_<p>`: p % of the rows (100, 10, 2, 1) are training rows whose generalised
  columns (ZIP3, birth year, ...) were redrawn from the training data, so each is a real
  person differing only where the masking already blurred them — what the issue found the
  old gate released. A table without generalised columns gets one random column redrawn
  per planted row instead;
* `exact_copies_0.5`: 0.5 % of the rows are training rows as they are;
* `unique_replay_<p>`: p % (1, 2) are the people *unique* on their quasi-identifiers (the
  easiest to re-identify), generalised columns redrawn as above;
* `noisy_copies_<p>`: p % (2, 10) are training rows with small noise on every numeric column
  (Gaussian, sd 1 % of the column's range, integers kept integer), categories untouched.

Planted rows replace honest rows at random positions, so the table keeps its size. Every
table is seeded. The battery holds real training rows in memory only; nothing is written.

**The harder battery** (`harder_battery`, `LEAK_CLASSES`; issue 14): leaks a user actually built
and the gate released. They plant people of the whole *source* (training and holdout people
alike), so a check that compares training with holdout people cannot see them:
`whole_source_redrawn`, `source_redrawn_20`, `holdout_exact_5`, `k_neighbours_10`,
`outliers_replayed`, `rare_categories`, `column_group_only` (one line each in `LEAK_CLASSES`).
They work on any table shape: column roles are passed in (never a column name), numbers and
categories are told apart by dtype. And in either space:

* model space (what the gate's attacks see): train / holdout / honest as the model sees them;
* source shape (what `synth-platform check` reads): raw rows of the people, with `roles["fake"]`
  the identifier columns. Those columns are never copied from a real person: every planted row
  keeps the honest synthetic row's (fake, refilled) identifiers, so the leak is of the people's
  attributes and the identifier-leak check cannot trivially catch it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_platform.lib.gate.attacks.near_match import column_codes
from synth_platform.lib.gate.attacks.space import as_float, is_numeric

NEAR_COPY_SHARES = (1.0, 0.10, 0.02, 0.01)
EXACT_COPY_SHARE = 0.005
UNIQUE_REPLAY_SHARES = (0.01, 0.02)
NOISY_COPY_SHARES = (0.02, 0.10)
NOISE_SD = 0.01


def _redraw(rows: pd.DataFrame, train: pd.DataFrame, columns: list[str], rng: np.random.Generator):
    """Rows with `columns` (or, if none, one random column per row) redrawn from the training data."""
    out = rows.copy()
    if columns:
        for column in columns:
            out[column] = train[column].to_numpy()[rng.integers(0, len(train), len(out))]
        return out
    chosen = rng.integers(0, out.shape[1], len(out))
    for position, column in enumerate(out.columns):
        picked = chosen == position
        donors = train[column].to_numpy()[rng.integers(0, len(train), int(picked.sum()))]
        out.loc[picked, column] = donors
    return out


def _noisy(rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = rows.copy()
    for column in out.columns:
        if not is_numeric(out[column]):
            continue
        numbers = as_float(out[column])
        span = float(numbers.max() - numbers.min()) or 1.0
        noisy = numbers + rng.normal(0.0, NOISE_SD * span, len(numbers))
        integral = bool((numbers.dropna() == numbers.dropna().round()).all())
        out[column] = (noisy.round() if integral else noisy).astype(out[column].dtype)
    return out


def _plant(honest: pd.DataFrame, planted: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = honest.reset_index(drop=True).copy()
    positions = rng.choice(len(out), len(planted), replace=False)
    planted = planted.reset_index(drop=True)
    for column in out.columns:
        values = out[column].astype(object).to_numpy()
        values[positions] = planted[column].astype(object).to_numpy()
        out[column] = pd.Series(values).astype(honest[column].dtype)
    return out


def qi_unique_rows(train: pd.DataFrame, holdout: pd.DataFrame, quasi_identifiers: list[str]) -> np.ndarray:
    """Positions of training rows unique on their quasi-identifiers among all real rows."""
    if not quasi_identifiers:
        return np.arange(0)
    numeric = [c for c in quasi_identifiers if is_numeric(train[c])]
    codes = column_codes([train, holdout], quasi_identifiers, numeric)
    with np.errstate(over="ignore"):
        keys_train, keys_holdout = (c.sum(axis=1, dtype=np.uint64) for c in codes)
    keys, counts = np.unique(np.concatenate([keys_train, keys_holdout]), return_counts=True)
    return np.flatnonzero(np.isin(keys_train, keys[counts == 1]))


def build_battery(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    honest: pd.DataFrame,
    generalised: list[str],
    quasi_identifiers: list[str],
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Name -> leaky synthetic table (model space, the honest table's size and columns)."""
    rng = np.random.default_rng(seed)
    columns = list(honest.columns)
    train = train[columns].reset_index(drop=True)
    honest = honest[columns].reset_index(drop=True)
    n = len(honest)

    def pick(count: int, pool: np.ndarray | None = None) -> pd.DataFrame:
        pool = np.arange(len(train)) if pool is None else pool
        return train.iloc[rng.choice(pool, min(count, len(pool)), replace=count > len(pool))]

    battery: dict[str, pd.DataFrame] = {}
    for share in NEAR_COPY_SHARES:
        planted = _redraw(pick(max(1, round(share * n))), train, generalised, rng)
        battery[f"near_copies_{share:.0%}"] = _plant(honest, planted, rng)
    battery[f"exact_copies_{EXACT_COPY_SHARE:.1%}"] = _plant(
        honest, pick(max(1, round(EXACT_COPY_SHARE * n))), rng
    )
    uniques = qi_unique_rows(train, holdout[columns], quasi_identifiers)
    if len(uniques):
        for share in UNIQUE_REPLAY_SHARES:
            count = min(max(1, round(share * n)), len(uniques))
            planted = _redraw(train.iloc[rng.choice(uniques, count, replace=False)], train, generalised, rng)
            battery[f"unique_replay_{share:.0%}"] = _plant(honest, planted, rng)
    for share in NOISY_COPY_SHARES:
        battery[f"noisy_copies_{share:.0%}"] = _plant(
            honest, _noisy(pick(max(1, round(share * n))), rng), rng
        )
    return battery


# --- The harder battery: people of the whole source (train and holdout), any table shape ---------

#: name -> one line: what the leak plants (printed by the bench)
LEAK_CLASSES = {
    "whole_source_redrawn": "every row a real person of the whole source, generalised columns redrawn",
    "source_redrawn_20": "20 % of the rows real people of the whole source, generalised columns redrawn",
    "holdout_exact_5": "5 % of the rows exact copies of holdout people",
    "k_neighbours_10": "10 % real people with two numbers moved by <= 3 % of range and one category changed",
    "outliers_replayed": "the 1.5 % most extreme real people (max z-score), generalised columns redrawn",
    "rare_categories": "real people holding a category seen <= 5 times in the source, copied (<= 2 %)",
    "column_group_only": "10 % of the rows carry the quasi-identifier group of a real unique person",
}
SOURCE_REDRAWN_SHARE = 0.20
HOLDOUT_EXACT_SHARE = 0.05
K_NEIGHBOURS_SHARE = 0.10
#: a k-neighbour's numbers move by at most this share of the column's range in the source
K_NEIGHBOURS_MOVE = 0.03
OUTLIER_SHARE = 0.015
#: a category value held by at most this many people of the source is rare
RARE_COUNT = 5
RARE_SHARE = 0.02
COLUMN_GROUP_SHARE = 0.10
#: columns redrawn per row when the table has no generalised column
REDRAWN_WHEN_NONE = 2


@dataclass(frozen=True)
class PlantedLeak:
    """One leaky table and what was planted in it (for tests: nothing here leaves the process)."""

    table: pd.DataFrame
    #: rows of `table` that were planted
    positions: np.ndarray
    #: for each planted row, its real person: a position in `source_of(train, holdout)`
    people: np.ndarray
    #: for each planted row, the columns *not* copied from the person (redrawn, moved or honest)
    altered: list[tuple[str, ...]]


def source_of(train: pd.DataFrame, holdout: pd.DataFrame) -> pd.DataFrame:
    """The whole source of real people: training rows first, then holdout rows."""
    return pd.concat([train, holdout], ignore_index=True)


def _real_columns(honest: pd.DataFrame, roles: dict) -> list[str]:
    """Columns a planted row takes from its real person: all but the fake (identifier) ones."""
    fake = set(roles.get("fake", []))
    return [c for c in honest.columns if c not in fake]


def _redrawn_columns(columns: list[str], roles: dict) -> list[str]:
    return [c for c in roles.get("generalised", []) if c in columns]


def _is_integral(numbers: pd.Series) -> bool:
    present = numbers.dropna()
    return bool((present == present.round()).all())


def numeric_columns(source: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns of numbers (by dtype: booleans and dates are not numbers here)."""
    return [c for c in columns if is_numeric(source[c])]


def categorical_columns(source: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns of categories: not numbers, not dates, and not nearly unique (free text, ids)."""
    out = []
    for column in columns:
        values = source[column]
        if is_numeric(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if 2 <= values.nunique() < max(2, 0.5 * len(values)):
            out.append(column)
    return out


def _seeded(seed: int, name: str) -> np.random.Generator:
    """One generator per leak class, so adding a class never changes another's table."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _count(share: float, n: int) -> int:
    return max(1, round(share * n))


def _choose(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    """`count` of `pool`, without replacement while the pool allows it."""
    return rng.choice(pool, count, replace=count > len(pool))


def _copy_people(source: pd.DataFrame, people: np.ndarray, columns: list[str]) -> pd.DataFrame:
    return source[columns].iloc[people].reset_index(drop=True)


def _redraw_real(
    rows: pd.DataFrame, source: pd.DataFrame, redraw: list[str], rng: np.random.Generator
) -> tuple[pd.DataFrame, list[tuple[str, ...]]]:
    """Rows with `redraw` columns replaced by values of random people of the source (each column
    its own donor), or, with none given, `REDRAWN_WHEN_NONE` random columns per row: a real
    person blurred only where masking already blurred them."""
    out = rows.copy()
    if redraw:
        for column in redraw:
            out[column] = source[column].to_numpy()[rng.integers(0, len(source), len(out))]
        return out, [tuple(redraw)] * len(out)
    width = min(REDRAWN_WHEN_NONE, out.shape[1])
    chosen = [tuple(rng.choice(out.columns.to_numpy(), width, replace=False)) for _ in range(len(out))]
    for column in out.columns:
        picked = np.array([column in c for c in chosen], dtype=bool)
        donors = source[column].to_numpy()[rng.integers(0, len(source), int(picked.sum()))]
        values = out[column].astype(object).to_numpy()
        values[picked] = donors
        out[column] = pd.Series(values, index=out.index).astype(out[column].dtype)
    return out, chosen


def _plant_rows(
    honest: pd.DataFrame, rows: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """`rows` written over honest rows at random positions, only in the columns `rows` has: the
    honest table's other columns (fake identifiers, honest attributes) stay."""
    out = honest.reset_index(drop=True).copy()
    positions = rng.choice(len(out), len(rows), replace=False)
    rows = rows.reset_index(drop=True)
    for column in rows.columns:
        values = out[column].astype(object).to_numpy()
        values[positions] = rows[column].astype(object).to_numpy()
        try:
            out[column] = pd.Series(values).astype(honest[column].dtype)
        except (TypeError, ValueError):
            out[column] = pd.Series(values)
    return out, positions


def _redrawn_people(honest, source, people, roles, rng) -> PlantedLeak:
    """Real people copied with the generalised columns redrawn, planted into the honest table."""
    columns = _real_columns(honest, roles)
    rows, altered = _redraw_real(
        _copy_people(source, people, columns), source, _redrawn_columns(columns, roles), rng
    )
    table, positions = _plant_rows(honest, rows, rng)
    return PlantedLeak(table, positions, people, altered)


def _move_number(value: float, span: float, integral: bool, rng: np.random.Generator) -> float:
    """`value` moved by up to K_NEIGHBOURS_MOVE of `span` (never by 0), uniform sign, kept inside
    the range; an integer moves by a whole number (at least 1)."""
    limit = K_NEIGHBOURS_MOVE * span
    step = float(rng.integers(1, int(limit) + 1)) if integral else float(rng.uniform(0.0, limit) or limit)
    return value + step * (1.0 if rng.random() < 0.5 else -1.0)


def _movable_numbers(source: pd.DataFrame, columns: list[str]) -> dict[str, tuple[float, float, bool]]:
    """Numeric columns a value can move in by <= 3 % of range: column -> (low, high, integral).
    An integer column needs 3 % of its range to be at least 1."""
    out = {}
    for column in numeric_columns(source, columns):
        numbers = as_float(source[column]).dropna()
        if numbers.empty:
            continue
        low, high = float(numbers.min()), float(numbers.max())
        integral = _is_integral(numbers)
        limit = K_NEIGHBOURS_MOVE * (high - low)
        if limit > 0 and (not integral or limit >= 1):
            out[column] = (low, high, integral)
    return out


def _changed_category(value, pool: np.ndarray, rng: np.random.Generator):
    """Another observed value of the column, drawn by its frequency in the source."""
    for _ in range(32):
        candidate = pool[rng.integers(0, len(pool))]
        if candidate != value:
            return candidate
    others = [v for v in pd.unique(pool) if v != value]
    return others[rng.integers(0, len(others))] if others else value


def _k_neighbour(row: pd.Series, numbers: dict, categories: dict, rng) -> tuple[pd.Series, tuple]:
    """One real person with two numbers moved and one category changed (three columns of one kind
    when the table lacks the other): the changed columns are returned with the row."""
    out = row.copy()
    movable = [c for c in numbers if pd.notna(row[c])]
    changeable = [c for c in categories if pd.notna(row[c])]
    if movable and changeable:
        plan = [(c, "number") for c in rng.permutation(movable)[:2]]
        plan += [(c, "category") for c in rng.permutation(changeable)[:1]]
    else:
        plan = [(c, "number") for c in rng.permutation(movable)[:3]]
        plan += [(c, "category") for c in rng.permutation(changeable)[:3]]
    for column, kind in plan:
        if kind == "number":
            low, high, integral = numbers[column]
            value = float(row[column])
            moved = _move_number(value, high - low, integral, rng)
            if not low <= moved <= high:
                moved = 2 * value - moved  # the other direction stays inside the range
            out[column] = round(moved) if integral else moved
        else:
            out[column] = _changed_category(row[column], categories[column], rng)
    return out, tuple(c for c, _ in plan)


def _k_neighbours(honest, source, roles, rng) -> PlantedLeak:
    columns = _real_columns(honest, roles)
    candidates = [c for c in columns if c not in _redrawn_columns(columns, roles)]
    numbers = _movable_numbers(source, candidates)
    categories = {
        c: source[c].dropna().to_numpy() for c in categorical_columns(source, candidates) if c not in numbers
    }
    people = _choose(rng, np.arange(len(source)), _count(K_NEIGHBOURS_SHARE, len(honest)))
    rows, altered = [], []
    for _, row in _copy_people(source, people, columns).iterrows():
        moved, changed = _k_neighbour(row, numbers, categories, rng)
        rows.append(moved)
        altered.append(changed)
    table, positions = _plant_rows(honest, pd.DataFrame(rows, columns=columns), rng)
    return PlantedLeak(table, positions, people, altered)


def extremeness(source: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Per person, the largest |z-score| over the numeric columns; without numbers, the rarest of
    their category values (-log of its share): how far from everyone else a person stands."""
    numbers = numeric_columns(source, columns)
    if numbers:
        scores = np.zeros(len(source))
        for column in numbers:
            values = as_float(source[column])
            spread = float(values.std()) or 1.0
            z = ((values - values.mean()).abs() / spread).fillna(0.0).to_numpy()
            scores = np.maximum(scores, z)
        return scores
    scores = np.zeros(len(source))
    for column in categorical_columns(source, columns):
        share = source[column].map(source[column].value_counts(normalize=True)).astype(float)
        scores = np.maximum(scores, -np.log(share.fillna(1.0).to_numpy()))
    return scores


def rare_category_people(source: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Positions of people holding a category value at most `RARE_COUNT` people of the source hold."""
    rare = np.zeros(len(source), dtype=bool)
    for column in categorical_columns(source, columns):
        counts = source[column].map(source[column].value_counts())
        rare |= (counts <= RARE_COUNT).fillna(False).to_numpy(dtype=bool)
    return np.flatnonzero(rare)


def group_unique_people(source: pd.DataFrame, group: list[str]) -> np.ndarray:
    """Positions of people whose values on `group` no other person of the source shares."""
    keys = source[group].astype("string").fillna("\x00<NA>").agg("\x1f".join, axis=1)
    return np.flatnonzero(~keys.duplicated(keep=False).to_numpy())


def _column_group(columns: list[str], roles: dict, rng: np.random.Generator) -> list[str]:
    """The quasi-identifiers, or a random half of the columns when the table declares none."""
    group = [c for c in roles.get("quasi_identifiers", []) if c in columns]
    if group:
        return group
    return list(rng.choice(np.array(columns, dtype=object), max(1, len(columns) // 2), replace=False))


def _column_group_only(honest, source, roles, rng) -> PlantedLeak:
    columns = _real_columns(honest, roles)
    group = _column_group(columns, roles, rng)
    pool = group_unique_people(source, group)
    people = _choose(
        rng, pool if len(pool) else np.arange(len(source)), _count(COLUMN_GROUP_SHARE, len(honest))
    )
    table, positions = _plant_rows(honest, _copy_people(source, people, group), rng)
    honest_columns = tuple(c for c in columns if c not in group)
    return PlantedLeak(table, positions, people, [honest_columns] * len(people))


def plant_leak(
    name: str,
    honest: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    roles: dict,
    seed: int = 0,
) -> PlantedLeak | None:
    """One leak class of `LEAK_CLASSES` planted into `honest` (None when the table has no such
    people, e.g. no rare category). `roles`: "generalised" (redrawn), "quasi_identifiers",
    "fake" (source shape: identifier columns, kept from the honest table)."""
    rng = _seeded(seed, name)
    source = source_of(train, holdout)
    columns = _real_columns(honest, roles)
    n = len(honest)
    everyone = np.arange(len(source))
    if name == "whole_source_redrawn":
        return _redrawn_people(honest, source, _choose(rng, everyone, n), roles, rng)
    if name == "source_redrawn_20":
        people = _choose(rng, everyone, _count(SOURCE_REDRAWN_SHARE, n))
        return _redrawn_people(honest, source, people, roles, rng)
    if name == "holdout_exact_5":
        people = _choose(rng, np.arange(len(train), len(source)), _count(HOLDOUT_EXACT_SHARE, n))
        table, positions = _plant_rows(honest, _copy_people(source, people, columns), rng)
        return PlantedLeak(table, positions, people, [()] * len(people))
    if name == "k_neighbours_10":
        return _k_neighbours(honest, source, roles, rng)
    if name == "outliers_replayed":
        candidates = [c for c in columns if c not in _redrawn_columns(columns, roles)]
        order = np.argsort(-extremeness(source, candidates), kind="stable")
        return _redrawn_people(honest, source, order[: _count(OUTLIER_SHARE, n)], roles, rng)
    if name == "rare_categories":
        candidates = [c for c in columns if c not in _redrawn_columns(columns, roles)]
        pool = rare_category_people(source, candidates)
        if not len(pool):
            return None
        people = rng.choice(pool, min(len(pool), _count(RARE_SHARE, n)), replace=False)
        table, positions = _plant_rows(honest, _copy_people(source, people, columns), rng)
        return PlantedLeak(table, positions, people, [()] * len(people))
    if name == "column_group_only":
        return _column_group_only(honest, source, roles, rng)
    raise ValueError(f"unknown leak class {name!r}; known: {', '.join(LEAK_CLASSES)}")


def planted_battery(
    honest: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, roles: dict, seed: int = 0
) -> dict[str, PlantedLeak]:
    """Every leak class that applies to the table, with what was planted where."""
    columns = list(honest.columns)
    train, holdout = (f[[c for c in columns if c in f]].reset_index(drop=True) for f in (train, holdout))
    honest = honest.reset_index(drop=True)
    out = {}
    for name in LEAK_CLASSES:
        leak = plant_leak(name, honest, train, holdout, roles, seed)
        if leak is not None:
            out[name] = leak
    return out


def harder_battery(
    honest: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, roles: dict, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Name -> leaky table (the honest table's size and columns), in the space of the inputs:
    model space, or source shape with `roles["fake"]` naming the identifier columns."""
    return {name: leak.table for name, leak in planted_battery(honest, train, holdout, roles, seed).items()}


def leak_descriptions() -> list[str]:
    """One line per leak class, for printing."""
    return [f"{name}: {description}" for name, description in LEAK_CLASSES.items()]


def resampled_honest(train: pd.DataFrame, rows: int, seed: int = 0, by: str | None = None) -> pd.DataFrame:
    """A cheap honest generator (tests, quick benches): every column resampled independently from
    `train` — within the classes of `by` when given, so a utility target keeps its link to each
    column (a naive-Bayes table). It holds no real person beyond chance: no row is copied whole."""
    rng = np.random.default_rng(seed)
    train = train.reset_index(drop=True)
    if by is None:
        groups = {None: np.arange(len(train))}
        labels = np.zeros(rows, dtype=int)
        keys = [None]
    else:
        groups = {k: np.asarray(v) for k, v in train.groupby(by, dropna=False).indices.items()}
        keys = list(groups)
        shares = np.array([len(groups[k]) for k in keys], dtype=float) / len(train)
        labels = rng.choice(len(keys), rows, p=shares)
    out = {}
    for column in train.columns:
        picks = np.empty(rows, dtype=int)
        for i, k in enumerate(keys):
            members = labels == i
            picks[members] = rng.choice(groups[k], int(members.sum()))
        out[column] = train[column].iloc[picks].to_numpy()
    return pd.DataFrame(out).astype(train.dtypes.to_dict())


# --- The project's own data, in model space, and honest generators on it -------------------------


def model_space_split(source: pd.DataFrame, spec, key: bytes = b"leak-battery-key"):
    """(plan, train, holdout) in model space, exactly as the chain prepares them for the gate:
    discovery, masking, split, rare generalised values withheld."""
    from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
    from synth_platform.lib.gate import evaluation
    from synth_platform.lib.pii import discovery
    from synth_platform.lib.synthesize.split import split_train_holdout

    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
    classes = {f.column: (f.pii_class, f.detected_type) for f in discovery.discover(source, hints=hints)}
    plan = plan_masking(spec, classes)
    masked, _ = apply_masking(source, plan, spec, key)
    train, holdout = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    columns = [t.column for t in plan if t.reaches_model]
    return (
        plan,
        evaluation.withhold_rare_generalized(train[columns], plan).reset_index(drop=True),
        evaluation.withhold_rare_generalized(holdout[columns], plan).reset_index(drop=True),
    )


def roles(plan, space: str = "model") -> dict[str, list[str]]:
    """Quasi-identifier, sensitive and generalised model columns, from the PII report classes.

    `space="source"` adds "fake": the columns that never reach the model (direct identifiers). In
    a source-shaped leak they keep the honest table's refilled values, as a real leak through a
    tool that refills identifiers would."""
    if space not in ("model", "source"):
        raise ValueError(f"space must be 'model' or 'source', not {space!r}")
    reaching = [t for t in plan if t.reaches_model]
    out = {
        "quasi_identifiers": [t.column for t in reaching if t.pii_class == "quasi_identifier"],
        "sensitive": [t.column for t in reaching if t.pii_class == "sensitive"],
        "generalised": [t.column for t in reaching if t.action == "generalize"],
        "fake": [],
    }
    if space == "source":
        out["fake"] = [t.column for t in plan if not t.reaches_model]
    return out


PERSON = "\x00person"


def source_shape_split(source: pd.DataFrame, spec, key: bytes = b"leak-battery-key") -> dict:
    """The chain's preparation, keeping track of who is who, for leaks in the source's shape.

    Returns plan, train and holdout (masked, as the gate reads them), the same people as raw
    source rows (`train_people`, `holdout_people`: what a user leaking real rows would copy) and
    the raw identifier columns (the identifier-leak check's input). A hidden person tag rides
    through the split (by key: the chain's split; without a key the tag makes it another seeded
    split of the same kind)."""
    from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
    from synth_platform.lib.pii import discovery
    from synth_platform.lib.synthesize.split import split_train_holdout

    source = source.reset_index(drop=True)
    hints = {n: (c.pii.pii_class, c.pii.type) for n, c in spec.columns.items() if c.pii}
    classes = {f.column: (f.pii_class, f.detected_type) for f in discovery.discover(source, hints=hints)}
    plan = plan_masking(spec, classes)
    masked, _ = apply_masking(source, plan, spec, key)
    masked[PERSON] = np.arange(len(masked))
    train, holdout = split_train_holdout(masked, spec.split.holdout_fraction, spec.split.seed, spec.key)
    people = {
        side: source.iloc[frame[PERSON].to_numpy()].reset_index(drop=True)
        for side, frame in (("train_people", train), ("holdout_people", holdout))
    }
    return {
        "plan": plan,
        "train": train.drop(columns=[PERSON]),
        "holdout": holdout.drop(columns=[PERSON]),
        **people,
        "raw_identifiers": [source[t.column] for t in plan if not t.reaches_model],
    }


def honest_table(train: pd.DataFrame, kind: str, params: dict, rows: int, seed: int = 0) -> pd.DataFrame:
    """A generator's output on `train` (model space, train's dtypes): the honest side of the battery."""
    from synth_platform.lib.synthesize import synthesis

    fitted, _ = synthesis.fit_model(train, kind, params, seed)  # seeds every generator first
    sampled = fitted.sample(rows)
    frame = (sampled[synthesis.TABLE] if isinstance(sampled, dict) else sampled).reset_index(drop=True)
    out = {}
    for column in train.columns:
        try:
            out[column] = frame[column].astype(train[column].dtype)
        except (TypeError, ValueError):
            out[column] = frame[column]
    return pd.DataFrame(out)
