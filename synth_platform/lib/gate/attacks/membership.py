"""Membership inference: can someone holding the synthetic table tell who was trained on?

The attacker scores an equal number of training records (members) and holdout records
(non-members) and we measure how well the score separates them (ROC AUC; 0.5 = no better
than a coin). Two scores, and the attacker keeps the better one:

* distance: minus the distance to the nearest synthetic row — a memorised record has a
  synthetic twin;
* density ratio, in the spirit of DOMIAS (van Breugel et al., 2023): how much more likely
  the record is under the synthetic data than under the population, from k-nearest-
  neighbour densities, log r_k(x, reference) - log r_k(x, synthetic). The reference is the
  part of the holdout not used as non-member queries. This catches a generator that
  over-represents the training people's neighbourhoods without copying them. (The kNN
  density ratio is monotone in this difference for any intrinsic dimension, and AUC is
  rank-based, so the dimension never has to be guessed.)

The AUC's 95 % interval is Hanley-McNeil's. Taking the better of two correlated scores
inflates the null AUC a little; the threshold (0.55 by default on the lower bound) leaves
room for that.
"""

from __future__ import annotations

import numpy as np

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.result import AttackResult, auc_with_ci, decide, insufficient
from synth_platform.lib.gate.attacks.space import AttackData, nearest, sample_rows

NAME = "membership_inference"
NEIGHBOURS = 5
MIN_REFERENCE = 50


def run(data: AttackData, config: AttackConfig) -> AttackResult:
    rng = np.random.default_rng(config.seed + 1)
    per_side = min(len(data.train), len(data.holdout) // 2, config.distance_rows // 5)
    if per_side < config.min_evaluation_rows // 2 or len(data.holdout) - per_side < MIN_REFERENCE:
        return insufficient(
            NAME,
            config.max_membership_auc,
            config.seed,
            f"holdout of {len(data.holdout)} rows is too small for non-member queries and a reference",
        )
    members = sample_rows(len(data.train), per_side, rng)
    shuffled = rng.permutation(len(data.holdout))
    non_members, reference = np.sort(shuffled[:per_side]), np.sort(shuffled[per_side:])
    synthetic = data.encoded("synthetic")[sample_rows(len(data.synthetic), config.distance_rows, rng)]
    queries = np.vstack([data.encoded("train")[members], data.encoded("holdout")[non_members]])
    k = min(NEIGHBOURS, len(reference), len(synthetic))
    to_synthetic = np.sqrt(nearest(queries, synthetic, k=k))
    to_reference = np.sqrt(nearest(queries, data.encoded("holdout")[reference], k=k))
    distance_score = -to_synthetic[:, 0]
    density_score = np.log(to_reference[:, -1] + 1e-6) - np.log(to_synthetic[:, -1] + 1e-6)
    aucs = {}
    for label, score in (("distance", distance_score), ("density_ratio", density_score)):
        aucs[label] = auc_with_ci(score[:per_side], score[per_side:])
    best = max(aucs, key=lambda label: aucs[label][0])
    auc, ci = aucs[best]
    return decide(
        NAME,
        auc,
        ci,
        config.max_membership_auc,
        2 * per_side,
        config.seed,
        f"membership-inference AUC ({best.replace('_', ' ')} attack; 0.5 = coin toss)",
        {
            "auc_distance": round(aucs["distance"][0], 4),
            "auc_density_ratio": round(aucs["density_ratio"][0], 4),
            "members_scored": per_side,
            "non_members_scored": per_side,
            "synthetic_rows_used": len(synthetic),
        },
    )
