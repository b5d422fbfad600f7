"""Unique people: records alone on their quasi-identifiers whose whole profile reappears.

A person who is the only one with their combination of quasi-identifiers (k = 1) is the
easiest to re-identify, so their full record appearing in the output is the worst leak. A
record counts as unique when its quasi-identifier combination occurs once among all real
rows (train and holdout together), so that unique training and unique holdout people are
alike and the holdout gives the honest rate. Its *profile* is every model column except
the generalised ones (a planted person whose ZIP3 or birth year was redrawn is still that
person); if fewer than two columns would remain, all model columns.

Figure: share of unique training people whose profile appears in the synthetic table minus
the same share for unique holdout people (Newcombe's interval). Not applicable when the
table has no quasi-identifier or nobody is unique on them (k-anonymity holds).
"""

from __future__ import annotations

import numpy as np

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.near_match import column_codes
from synth_platform.lib.gate.attacks.result import (
    AttackResult,
    decide,
    not_applicable,
    share_difference,
    wilson,
)
from synth_platform.lib.gate.attacks.space import AttackData

NAME = "unique_people"
MIN_HOLDOUT_UNIQUES = 20


def profile_columns(data: AttackData) -> list[str]:
    kept = [c for c in data.columns if c not in data.generalised]
    return kept if len(kept) >= 2 else list(data.columns)


def run(data: AttackData, config: AttackConfig) -> AttackResult:
    threshold = config.max_unique_people_excess
    if not data.quasi_identifiers:
        return not_applicable(NAME, threshold, config.seed, "no quasi-identifier column in the PII report")
    frames = [data.train, data.holdout, data.synthetic]
    qi_codes = column_codes(frames, data.quasi_identifiers, data.numeric)
    with np.errstate(over="ignore"):
        qi_train, qi_holdout = (c.sum(axis=1, dtype=np.uint64) for c in qi_codes[:2])
    keys, counts = np.unique(np.concatenate([qi_train, qi_holdout]), return_counts=True)
    singletons = keys[counts == 1]
    unique_train, unique_holdout = np.isin(qi_train, singletons), np.isin(qi_holdout, singletons)
    if not unique_train.any():
        return not_applicable(NAME, threshold, config.seed, "nobody is unique on the quasi-identifiers")
    profile = profile_columns(data)
    with np.errstate(over="ignore"):
        train_p, holdout_p, synthetic_p = (
            c.sum(axis=1, dtype=np.uint64) for c in column_codes(frames, profile, data.numeric)
        )
    hits_train = int(np.isin(train_p[unique_train], synthetic_p).sum())
    hits_holdout = int(np.isin(holdout_p[unique_holdout], synthetic_p).sum())
    n_train, n_holdout = int(unique_train.sum()), int(unique_holdout.sum())
    if n_holdout >= MIN_HOLDOUT_UNIQUES:
        excess, ci = share_difference(hits_train, n_train, hits_holdout, n_holdout)
    else:  # too few unique holdout people to estimate their rate: judge against 0 (stricter)
        excess, ci = hits_train / n_train, wilson(hits_train, n_train)
    return decide(
        NAME,
        excess,
        ci,
        threshold,
        n_train,
        config.seed,
        "excess share of quasi-identifier-unique training people whose profile reappears",
        {
            "unique_training_people": n_train,
            "unique_holdout_people": n_holdout,
            "share_train_reappearing": round(hits_train / n_train, 6),
            "share_holdout_reappearing": round(hits_holdout / n_holdout, 6) if n_holdout else None,
            "profile_columns": len(profile),
            "quasi_identifiers": len(data.quasi_identifiers),
        },
    )
