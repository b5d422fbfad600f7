"""Utility, not only likeness: train on synthetic, test on real (TSTR) against train real, test real (TRTR).

Marginals and pair trends can look right while the one relationship an analyst needs (what
predicts `income`) is lost. For each target column the spec declares, the same seeded model is
trained twice — once on the synthetic table, once on the real training split — and both are
scored on the real holdout, which neither saw. The *gap* (TRTR minus TSTR, on AUC for a binary
target, accuracy for a multi-class one, R² for a numeric one) is what the synthetic table costs
a person who builds a model on it instead of on the real data.

Inputs are model-space frames (generalised, masked): no direct identifier ever reaches this
module, and results carry scores, counts and column names only — never a category label or a
cell value. High-cardinality categoricals (a ZIP3, a pseudonym) are left out of the features and
said so: a tree model cannot use hundreds of unordered categories on a 20k-row sample anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]

#: Above this many distinct values a categorical is left out of the features (see module docstring).
MAX_FEATURE_CATEGORIES = 100
#: Integer targets with at most this many distinct values are treated as classes, not numbers.
MAX_INTEGER_CLASSES = 20


@dataclass(frozen=True)
class UtilityResult:
    """Scores of one target: the same model trained on synthetic vs on real, tested on the real holdout."""

    target: str
    task: Task
    metric: str  # "auc" | "accuracy" | "r2": the score the gap is measured on
    tstr: float
    trtr: float
    gap_ci: tuple[float, float]  # 95 % paired-bootstrap interval of the gap over the test rows
    scores: dict  # every score computed, e.g. {"tstr_accuracy": .., "trtr_accuracy": .., "tstr_auc": ..}
    train_rows: int
    test_rows: int
    features: list[str]
    features_left_out: list[str] = field(default_factory=list)
    seed: int = 0

    @property
    def gap(self) -> float:
        """How much worse the synthetic-trained model does (positive: worse; negative: better)."""
        return self.trtr - self.tstr

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "task": self.task,
            "metric": self.metric,
            "tstr": round(self.tstr, 6),
            "trtr": round(self.trtr, 6),
            "gap": round(self.gap, 6),
            "gap_ci_low": round(self.gap_ci[0], 6) if math.isfinite(self.gap_ci[0]) else None,
            "gap_ci_high": round(self.gap_ci[1], 6) if math.isfinite(self.gap_ci[1]) else None,
            **{k: round(v, 6) for k, v in self.scores.items()},
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "features": len(self.features),
            "features_left_out": self.features_left_out,
            "seed": self.seed,
        }


def infer_task(values: pd.Series) -> Task:
    """Classes for categorical, boolean and few-valued integer targets; a number otherwise."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    if pd.api.types.is_integer_dtype(values) and values.nunique() <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def _is_categorical(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)) or (
        pd.api.types.is_bool_dtype(values)
    )


class _Features:
    """One encoding fitted on the real training data and applied to every frame alike."""

    def __init__(self, reference: pd.DataFrame, columns: list[str]):
        self.numeric: list[str] = []
        self.categories: dict[str, list[str]] = {}
        self.left_out: list[str] = []
        for column in columns:
            values = reference[column]
            if _is_categorical(values):
                distinct = values.dropna().astype(str).unique()
                if len(distinct) > MAX_FEATURE_CATEGORIES:
                    self.left_out.append(column)
                else:
                    self.categories[column] = sorted(distinct)
            else:
                self.numeric.append(column)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categories]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for column in self.numeric:
            values = frame[column]
            if pd.api.types.is_datetime64_any_dtype(values):
                out[column] = values.astype("int64").where(values.notna()).astype("float64") / 86_400e9
            else:
                out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        for column, categories in self.categories.items():
            # Unseen categories become missing, which the model handles natively.
            out[column] = pd.Categorical(frame[column].astype("string"), categories=categories)
        return pd.DataFrame(out, index=frame.index)


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(max_rows, random_state=seed) if len(frame) > max_rows else frame


def _model(task: Task, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    kwargs = {
        "max_iter": 60,
        "early_stopping": False,
        "random_state": seed,
        "categorical_features": "from_dtype",
    }
    return (
        HistGradientBoostingClassifier(**kwargs)
        if task == "classification"
        else HistGradientBoostingRegressor(**kwargs)
    )


def _outputs(model, features: pd.DataFrame, n: int, classes: list[str], only) -> dict[str, np.ndarray]:
    """Per-row outputs on the test rows: predicted labels and, for two classes, P(second class).

    `model` is None when its training data held one class (`only`): it predicts that class and
    ranks no better than chance (a constant score).
    """
    if model is None:
        return {"label": np.full(n, only, dtype=object), "score": np.full(n, 0.5)}
    out = {"label": model.predict(features)}
    if len(classes) == 2:
        known = list(model.classes_)
        out["score"] = (
            model.predict_proba(features)[:, known.index(classes[1])] if classes[1] in known else np.zeros(n)
        )
    return out


def _auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half; cheap enough to bootstrap."""
    from scipy.stats import rankdata

    positives = int(is_positive.sum())
    negatives = len(is_positive) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    ranks = rankdata(score)
    return float((ranks[is_positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _metric(metric: str, truth: np.ndarray, output: dict, positive=None) -> float:
    if metric == "auc":
        return _auc(truth == positive, np.asarray(output["score"], dtype="float64"))
    if metric == "accuracy":
        return float(np.mean(truth == output["label"]))
    values = np.asarray(output["value"], dtype="float64")
    total = float(((truth - truth.mean()) ** 2).sum())
    return 1.0 - float(((truth - values) ** 2).sum()) / total if total > 0 else 0.0


def _gap_interval(metric, truth, real, synth, positive, seed, rounds: int = 200) -> tuple[float, float]:
    """95 % paired-bootstrap interval of TRTR - TSTR over the test rows (same resample for both)."""
    rng = np.random.default_rng(seed)
    n, gaps = len(truth), []
    ranked = [_RankedScores.of(o) for o in (real, synth)] if metric == "auc" else [None, None]
    labels = pd.factorize(truth)[0] if metric == "auc" else None
    for _ in range(rounds):
        idx = rng.integers(0, n, n)
        if metric == "auc" and (n == 0 or labels[idx].min() == labels[idx].max()):  # fewer than 2 classes
            continue
        if ranked[0] is not None and ranked[1] is not None:
            is_positive = truth[idx] == positive
            gaps.append(ranked[0].auc(is_positive, idx) - ranked[1].auc(is_positive, idx))
            continue
        pick = {k: v[idx] for k, v in real.items()}, {k: v[idx] for k, v in synth.items()}
        gaps.append(
            _metric(metric, truth[idx], pick[0], positive) - _metric(metric, truth[idx], pick[1], positive)
        )
    if not gaps:
        return (-math.inf, math.inf)
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(low), float(high)


class _RankedScores:
    """One model's scores on the test rows, sorted once: a bootstrap resample's average ranks
    (ties half) then come from counts per distinct score instead of a sort per round. The ranks
    are whole or half numbers, exact in float64, so `auc` equals `_auc` on the resample."""

    def __init__(self, score: np.ndarray):
        self.distinct, self.codes = np.unique(score, return_inverse=True)

    @classmethod
    def of(cls, output: dict) -> _RankedScores | None:
        """None when there is no score or a score is NaN (then `_auc`'s own ranking decides)."""
        if "score" not in output:
            return None
        score = np.asarray(output["score"], dtype="float64")
        return None if np.isnan(score).any() else cls(score)

    def auc(self, is_positive: np.ndarray, idx: np.ndarray) -> float:
        positives = int(is_positive.sum())
        negatives = len(is_positive) - positives
        if positives == 0 or negatives == 0:
            return 0.5
        codes = self.codes[idx]
        counts = np.bincount(codes, minlength=len(self.distinct))
        below = np.cumsum(counts) - counts
        ranks = (below[codes] + 1).astype("float64") + (counts[codes].astype("float64") - 1) / 2
        return float((ranks[is_positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _fit(task: Task, features: pd.DataFrame, target: np.ndarray, seed: int):
    if task == "classification" and len(set(target)) < 2:
        return None
    return _model(task, seed).fit(features, target)


def train_synthetic_test_real(*args, **kwargs) -> UtilityResult:
    """TSTR vs TRTR for one target column; see `_train_synthetic_test_real` for the arguments.

    Runs single-threaded: on a shared machine OpenMP's thread pool contends with every other
    step and makes a one-second fit take thirty; one thread is steady and fast at these sizes.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _train_synthetic_test_real(*args, **kwargs)


def _train_synthetic_test_real(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    feature_columns: list[str] | None = None,
    task: Task | None = None,
    max_rows: int = 20_000,
    seed: int = 0,
) -> UtilityResult:
    """TSTR vs TRTR for one target column; every frame sampled to at most `max_rows` (seeded)."""
    for name, frame in (("train", train), ("synthetic", synthetic), ("holdout", holdout)):
        if target not in frame:
            raise ValueError(f"utility target column {target!r} is not in the {name} table")
    columns = [c for c in (feature_columns or list(train.columns)) if c != target]
    train = _sample(train[train[target].notna()], max_rows, seed)
    synthetic = _sample(synthetic[synthetic[target].notna()], max_rows, seed)
    holdout = _sample(holdout[holdout[target].notna()], max_rows, seed)
    if min(len(train), len(synthetic), len(holdout)) == 0:
        raise ValueError(f"utility target column {target!r} has no values in one of the tables")
    task = task or infer_task(train[target])
    encoder = _Features(train, columns)
    x_train, x_synthetic, x_holdout = (encoder.transform(f) for f in (train, synthetic, holdout))

    n = len(holdout)
    if task == "classification":
        labels = [f.astype(str).to_numpy() for f in (train[target], synthetic[target], holdout[target])]
        y_train, y_synthetic, truth = labels
        # Classes in a fixed order from the real data, so "positive" is the same class in both scores.
        classes = sorted(set(y_train))
        positive = classes[1] if len(classes) == 2 else None
        real = _outputs(_fit(task, x_train, y_train, seed), x_holdout, n, classes, y_train[0])
        synth = _outputs(_fit(task, x_synthetic, y_synthetic, seed), x_holdout, n, classes, y_synthetic[0])
        binary = positive is not None and len(set(truth)) == 2
        metric = "auc" if binary else "accuracy"
        names = ["auc", "accuracy"] if binary else ["accuracy"]
    else:
        numbers = [
            pd.to_numeric(f[target], errors="coerce").astype("float64").to_numpy()
            for f in (train, synthetic, holdout)
        ]
        truth, positive = numbers[2], None
        real = {"value": _fit(task, x_train, numbers[0], seed).predict(x_holdout)}
        synth = {"value": _fit(task, x_synthetic, numbers[1], seed).predict(x_holdout)}
        metric, names = "r2", ["r2"]
    scores = {}
    for name in names:
        scores[f"tstr_{name}"] = _metric(name, truth, synth, positive)
        scores[f"trtr_{name}"] = _metric(name, truth, real, positive)
    gap_ci = _gap_interval(metric, truth, real, synth, positive, seed)
    return UtilityResult(
        target=target,
        task=task,
        metric=metric,
        tstr=scores[f"tstr_{metric}"],
        trtr=scores[f"trtr_{metric}"],
        gap_ci=gap_ci,
        scores=scores,
        train_rows=len(synthetic),
        test_rows=len(holdout),
        features=encoder.columns,
        features_left_out=encoder.left_out,
        seed=seed,
    )
