"""Run every privacy attack on one synthetic table; no evidence is no pass.

`run_suite` returns one `AttackResult` per attack, in a fixed order, each blocking on its own.
Before any attack runs, the inputs are checked: an empty or tiny holdout (nothing to
calibrate against), too few training or synthetic rows, or missing model columns block
*every* attack with the reason — a copy of the training table must not pass because the
yardstick was missing. An attack that raises blocks too, with the error's class (never its
message, which could quote a value).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

import pandas as pd

from synth_platform.lib.gate.attacks import (
    anonymeter_attacks,
    closest_record,
    exposure,
    membership,
    near_match,
    unique_people,
)
from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.result import AttackResult, insufficient
from synth_platform.lib.gate.attacks.space import AttackData

Attack = Callable[[AttackData, AttackConfig], AttackResult]

#: name -> (attack, threshold field of AttackConfig, what it measures)
ATTACKS: dict[str, tuple[Attack, str, str]] = {
    closest_record.NAME: (
        closest_record.run,
        "max_close_copy_excess",
        "Copies and close copies: share of training people with a synthetic row as close as only 1% "
        "(close_copy_quantile) of unseen holdout people have one, minus the holdout people's own share "
        "(about 1%).",
    ),
    near_match.NAME: (
        near_match.run,
        "max_near_copy_excess",
        "Near copies: share of training people with a synthetic twin on all columns but one or two, minus "
        "the holdout people's own share.",
    ),
    membership.NAME: (
        membership.run,
        "max_membership_auc",
        "Membership inference: AUC of telling training from holdout records using the synthetic table "
        "(distance and DOMIAS-style density ratio; 0.5 ideal).",
    ),
    anonymeter_attacks.SINGLING_OUT: (
        anonymeter_attacks.singling_out,
        "max_singling_out_risk",
        "anonymeter singling-out risk: predicates built on the synthetic table that isolate one training "
        "person, beyond the holdout control.",
    ),
    anonymeter_attacks.LINKABILITY: (
        anonymeter_attacks.linkability,
        "max_linkability_risk",
        "anonymeter linkability risk: two halves of the quasi-identifiers re-linked through the synthetic "
        "table, beyond the holdout control.",
    ),
    anonymeter_attacks.INFERENCE: (
        anonymeter_attacks.attribute_inference,
        "max_inference_risk",
        "anonymeter attribute-inference risk: sensitive columns guessed from the synthetic table, beyond "
        "the holdout control.",
    ),
    unique_people.NAME: (
        unique_people.run,
        "max_unique_people_excess",
        "Unique people: quasi-identifier-unique training people whose profile reappears in the synthetic "
        "table, beyond the holdout's rate.",
    ),
    exposure.NAME: (
        exposure.run,
        "max_absolute_exposure_excess",
        "Absolute exposure: rare real people of the whole source (training and holdout) found in the "
        "table (copies, a few columns changed, numbers nudged), beyond the rate at which other real "
        "people find them by chance. Valid whatever the generator was trained on.",
    ),
}

#: attacks that compare training people with holdout people: meaningless for a generator that saw
#: the holdout (`synth-platform check --trained-on all`)
RELATIVE_ATTACKS = tuple(name for name in ATTACKS if name != exposure.NAME)


def missing_evidence(data_sizes: dict[str, int], config: AttackConfig) -> str | None:
    """Why the suite cannot judge, or None."""
    if data_sizes["holdout"] < config.min_holdout_rows:
        return (
            f"the holdout has {data_sizes['holdout']} rows, fewer than the {config.min_holdout_rows} needed "
            "to calibrate privacy attacks; no evidence is no pass"
        )
    for which in ("train", "synthetic"):
        if data_sizes[which] < config.min_evaluation_rows:
            return (
                f"the {which} table has {data_sizes[which]} rows, fewer than the "
                f"{config.min_evaluation_rows} needed to evaluate privacy attacks; no evidence is no pass"
            )
    return None


def run_suite(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str],
    quasi_identifiers: list[str],
    sensitive: list[str],
    generalised: list[str],
    config: AttackConfig,
    timings: dict | None = None,
    only: Collection[str] | None = None,
) -> list[AttackResult]:
    """All attacks on model-space tables; `timings`, if given, receives seconds per attack.

    `only`: the names of the attacks to run (the others are left out), in `ATTACKS` order: the
    private gate splits the suite between its process and its evidence worker. Each attack
    seeds its own draws, so which of them run beside it changes none of its figures."""
    chosen = {name: entry for name, entry in ATTACKS.items() if only is None or name in only}
    sizes = {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)}
    reason = missing_evidence(sizes, config)
    absent = [c for c in columns if c not in synthetic.columns or c not in holdout.columns]
    if reason is None and (not columns or absent):
        reason = f"{len(absent)} model column(s) missing from the compared tables" if absent else "no column"
    if reason is not None:
        return [
            insufficient(name, getattr(config, field), config.seed, reason)
            for name, (_, field, _) in chosen.items()
        ]
    data = AttackData(
        train,
        holdout,
        synthetic,
        list(columns),
        [c for c in quasi_identifiers if c in columns],
        [c for c in sensitive if c in columns],
        [c for c in generalised if c in columns],
    )
    results = []
    for name, (attack, field, _) in chosen.items():
        started = time.perf_counter()
        try:
            results.append(attack(data, config))
        except Exception as exc:
            results.append(
                insufficient(
                    name,
                    getattr(config, field),
                    config.seed,
                    f"the attack could not be computed ({type(exc).__name__}); no evidence is no pass",
                )
            )
        if timings is not None:
            timings[name] = round(time.perf_counter() - started, 3)
    return results
