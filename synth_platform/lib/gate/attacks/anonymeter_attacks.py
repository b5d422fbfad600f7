"""anonymeter's three attacks (Giomi et al., 2023): singling out, linkability, inference.

Each compares the attacker's success on training records with the same attack on holdout
records (the control) and reports anonymeter's residual risk, (attack - control) / (1 -
control), with its 95 % interval. An honest generator is at 0; a generator that leaks
lets the attacker succeed on the people it was trained on more than on others.

Making it reproducible and fast. anonymeter draws its targets with pandas' unseeded
`sample`, and its neighbour search is numba code that compiles for 5-15 s in every new
process and then scans the synthetic table once per target. So the neighbour searches of
linkability and inference are ours (`space.nearest_with_index`, the suite's Gower-like
encoding as a matrix product), plugged into anonymeter where it allows it (inference takes
an `inference_model`) and fed to anonymeter's own link counting (`LinkabilityIndexes`)
and risk statistics (`EvaluationResults`) where it does not. The random-guess baselines
are drawn with our seed. The targets are
chosen by us: a seeded sample of `anonymeter_attacks` training rows and as many holdout
rows, passed as the whole original/control tables, so anonymeter's own draw is a mere
permutation of them; the singling-out evaluator takes our seed; numpy's global generator
(used by pandas' sampling) is seeded for the call and restored after. The synthetic table
is a seeded sample of at most `SYNTHETIC_ROWS` rows (query generation and the brute-force
neighbour searches scan it per target): these attacks measure broad exposure, which a
sample shows; rare planted copies are the job of the copy attacks, which see every row.

Singling out checks its predicates on the training table itself (up to `SINGLING_OUT_ROWS`
rows), not on a small target sample: a predicate isolates a training person only in a table
that holds them (on a sample the size of the holdout, a full copy of train scored 0.07).
The holdout control is then smaller than the original, and anonymeter corrects the control's
success for the size difference with a fitted model; on fresh draws from the population
that correction left up to ~0.15 of residual risk, which is why the default threshold for
singling out is 0.2 (a copy of the training table scores ~0.99).

Roles (from the PII report): linkability splits the quasi-identifiers into two
auxiliary halves (alternately, so both halves mix column kinds) and needs at least two;
inference takes each sensitive column as the secret, the attacker knowing every other
column (the strongest attacker), and reports the worst one. Singling out uses all
columns. anonymeter's log and warnings are silenced during the call: its debug messages
can quote query values.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.result import AttackResult, decide, insufficient, not_applicable
from synth_platform.lib.gate.attacks.space import (
    MISSING,
    AttackData,
    MixedEncoder,
    as_float,
    as_text,
    nearest_with_index,
    sample_rows,
)

SINGLING_OUT = "singling_out"
LINKABILITY = "linkability"
INFERENCE = "attribute_inference"
SYNTHETIC_ROWS = 10_000
SINGLING_OUT_ROWS = 10_000
MIN_TARGETS = 30


@contextmanager
def _quiet_and_seeded(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    logger = logging.getLogger("anonymeter")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)
        logger.setLevel(level)


def _plain(frame: pd.DataFrame, data: AttackData) -> pd.DataFrame:
    """Float numbers (missing -> the training median) and plain strings, as anonymeter expects."""
    out = {}
    for column in frame.columns:
        if column in data.numeric:
            median = as_float(data.train[column]).median()
            out[column] = as_float(frame[column]).fillna(0.0 if pd.isna(median) else median)
        else:
            out[column] = as_text(frame[column]).replace(MISSING, "<missing>")
    return pd.DataFrame(out)


def _targets(data: AttackData, config: AttackConfig, salt: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    rng = np.random.default_rng(config.seed + salt)
    n = min(config.anonymeter_attacks, len(data.train), len(data.holdout))
    ori = data.train.iloc[sample_rows(len(data.train), n, rng)]
    control = data.holdout.iloc[sample_rows(len(data.holdout), n, rng)]
    return _plain(ori, data).reset_index(drop=True), _plain(control, data).reset_index(drop=True), n


def _synthetic(data: AttackData, config: AttackConfig, rows: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(config.seed + 7)
    picked = data.synthetic.iloc[sample_rows(len(data.synthetic), rows or len(data.synthetic), rng)]
    return _plain(picked, data).reset_index(drop=True)


def _decide(name, risk, threshold, n, seed, what, details) -> AttackResult:
    return decide(name, risk.value, tuple(risk.ci), threshold, n, seed, what, details)


def singling_out(data: AttackData, config: AttackConfig) -> AttackResult:
    from anonymeter.evaluators import SinglingOutEvaluator

    threshold = config.max_singling_out_risk
    # A predicate singles out a training person only if that person is in the table it is
    # checked on, so the original table is not a small target sample here but as many
    # training rows as the control has (equal sizes: no size correction needed).
    rng = np.random.default_rng(config.seed + 21)
    ori_rows = sample_rows(len(data.train), SINGLING_OUT_ROWS, rng)
    control_rows = sample_rows(len(data.holdout), SINGLING_OUT_ROWS, rng)
    ori = _plain(data.train.iloc[ori_rows], data).reset_index(drop=True)
    control = _plain(data.holdout.iloc[control_rows], data).reset_index(drop=True)
    n = min(config.anonymeter_attacks, len(control))
    if n < MIN_TARGETS:
        return insufficient(SINGLING_OUT, threshold, config.seed, f"only {n} targets to attack", n)
    synthetic = _synthetic(data, config, SYNTHETIC_ROWS)
    n_cols = min(3, len(data.columns))
    with _quiet_and_seeded(config.seed):
        evaluator = SinglingOutEvaluator(
            ori=ori,
            syn=synthetic,
            control=control,
            n_attacks=n,
            n_cols=n_cols,
            max_attempts=50 * n,
            seed=config.seed,
        ).evaluate(mode="multivariate")
        risk = evaluator.risk()
        results = evaluator.results()
    return _decide(
        SINGLING_OUT,
        risk,
        threshold,
        n,
        config.seed,
        f"singling-out risk ({n_cols}-column predicates from the synthetic table)",
        {
            "attack_success_rate": round(results.attack_rate.value, 4),
            "control_success_rate": round(results.control_rate.value, 4),
            "queries_that_single_out": len(evaluator.queries()),
        },
    )


def qi_halves(quasi_identifiers: list[str]) -> tuple[list[str], list[str]]:
    return quasi_identifiers[0::2], quasi_identifiers[1::2]


class _NearestPredictor:
    """anonymeter `InferencePredictor`: the secret of the closest synthetic row on the aux columns."""

    def __init__(self, synthetic: pd.DataFrame, aux: list[str], secret: str, encoder: MixedEncoder):
        self._encoder = encoder
        self._synthetic = encoder.transform(synthetic[aux])
        self._secrets = synthetic[secret].reset_index(drop=True)
        self._aux = aux

    def predict(self, x: pd.DataFrame) -> pd.Series:
        _, index = nearest_with_index(self._encoder.transform(x[self._aux]), self._synthetic, k=1)
        guesses = self._secrets.iloc[index[:, 0]]
        guesses.index = x.index
        return guesses


def _encoder(data: AttackData, columns: list[str]) -> MixedEncoder:
    real = _plain(pd.concat([data.train[columns], data.holdout[columns]], ignore_index=True), data)
    return MixedEncoder(real, [c for c in columns if c in data.numeric])


def linkability(data: AttackData, config: AttackConfig) -> AttackResult:
    from anonymeter.evaluators.linkability_evaluator import LinkabilityIndexes
    from anonymeter.stats.confidence import EvaluationResults

    threshold = config.max_linkability_risk
    if len(data.quasi_identifiers) < 2:
        return not_applicable(
            LINKABILITY,
            threshold,
            config.seed,
            "fewer than two quasi-identifiers to split between two sources",
        )
    ori, control, n = _targets(data, config, salt=22)
    if n < MIN_TARGETS:
        return insufficient(LINKABILITY, threshold, config.seed, f"only {n} targets to attack", n)
    halves = qi_halves(data.quasi_identifiers)
    synthetic = _synthetic(data, config, SYNTHETIC_ROWS)
    encoders = [_encoder(data, half) for half in halves]
    encoded_synthetic = [e.transform(synthetic[h]) for e, h in zip(encoders, halves, strict=True)]

    def links(targets: pd.DataFrame) -> int:
        idx = [
            nearest_with_index(e.transform(targets[h]), s, k=1)[1]
            for e, h, s in zip(encoders, halves, encoded_synthetic, strict=True)
        ]
        return LinkabilityIndexes(idx_0=idx[0], idx_1=idx[1]).count_links(n_neighbors=1)

    rng = np.random.default_rng(config.seed + 22)
    baseline = LinkabilityIndexes(
        idx_0=rng.integers(0, len(synthetic), (n, 1)), idx_1=rng.integers(0, len(synthetic), (n, 1))
    ).count_links(n_neighbors=1)
    with _quiet_and_seeded(config.seed):
        results = EvaluationResults(
            n_attacks=n, n_success=links(ori), n_baseline=baseline, n_control=links(control)
        )
        risk = results.risk()
    return _decide(
        LINKABILITY,
        risk,
        threshold,
        n,
        config.seed,
        "linkability risk (two halves of the quasi-identifiers re-linked through the synthetic table)",
        {
            "attack_success_rate": round(results.attack_rate.value, 4),
            "control_success_rate": round(results.control_rate.value, 4),
            "aux_columns": [len(halves[0]), len(halves[1])],
        },
    )


def attribute_inference(data: AttackData, config: AttackConfig) -> AttackResult:
    from anonymeter.evaluators import InferenceEvaluator

    threshold = config.max_inference_risk
    secrets = [c for c in data.sensitive if c in data.columns]
    if not secrets:
        return not_applicable(INFERENCE, threshold, config.seed, "no sensitive column in the PII report")
    if len(data.columns) < 2:
        return not_applicable(INFERENCE, threshold, config.seed, "no other column to infer the secret from")
    ori, control, n = _targets(data, config, salt=23)
    if n < MIN_TARGETS:
        return insufficient(INFERENCE, threshold, config.seed, f"only {n} targets to attack", n)
    synthetic = _synthetic(data, config, SYNTHETIC_ROWS)
    per_secret = {}
    for position, secret in enumerate(secrets):
        aux = [c for c in data.columns if c != secret]
        with _quiet_and_seeded(config.seed + position):
            evaluator = InferenceEvaluator(
                ori=ori,
                syn=synthetic,
                control=control,
                aux_cols=aux,
                secret=secret,
                regression=secret in data.numeric,
                n_attacks=n,
                inference_model=_NearestPredictor(synthetic, aux, secret, _encoder(data, aux)),
            ).evaluate(n_jobs=1)
            per_secret[secret] = (evaluator.risk(), evaluator.results())
    worst = max(per_secret, key=lambda s: per_secret[s][0].value)
    risk, results = per_secret[worst]
    return _decide(
        INFERENCE,
        risk,
        threshold,
        n,
        config.seed,
        f"attribute-inference risk (worst of {len(secrets)} sensitive column(s), all other columns known)",
        {
            "worst_secret_column": worst,
            "attack_success_rate": round(results.attack_rate.value, 4),
            "control_success_rate": round(results.control_rate.value, 4),
            "risk_per_secret": {s: round(r.value, 4) for s, (r, _) in per_secret.items()},
        },
    )
