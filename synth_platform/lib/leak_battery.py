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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.attacks.near_match import column_codes
from synth_platform.lib.attacks.space import as_float, is_numeric

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


# --- The project's own data, in model space, and honest generators on it -------------------------


def model_space_split(source: pd.DataFrame, spec, key: bytes = b"leak-battery-key"):
    """(plan, train, holdout) in model space, exactly as the chain prepares them for the gate:
    discovery, masking, split, rare generalised values withheld."""
    from synth_platform.lib import discovery, evaluation
    from synth_platform.lib.masking import apply_masking, plan_masking
    from synth_platform.lib.split import split_train_holdout

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


def roles(plan) -> dict[str, list[str]]:
    """Quasi-identifier, sensitive and generalised model columns, from the PII report classes."""
    reaching = [t for t in plan if t.reaches_model]
    return {
        "quasi_identifiers": [t.column for t in reaching if t.pii_class == "quasi_identifier"],
        "sensitive": [t.column for t in reaching if t.pii_class == "sensitive"],
        "generalised": [t.column for t in reaching if t.action == "generalize"],
    }


def honest_table(train: pd.DataFrame, kind: str, params: dict, rows: int, seed: int = 0) -> pd.DataFrame:
    """A generator's output on `train` (model space, train's dtypes): the honest side of the battery."""
    from synth_platform.lib import synthesis

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
