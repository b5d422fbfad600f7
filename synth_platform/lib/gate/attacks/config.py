"""Thresholds and sample sizes of the attack suite (filled from the dataset spec's `checks`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttackConfig:
    """Every knob of the suite. Defaults pass honest generators and block the planted-leak
    battery (`lib/gate/leak_battery.py`); `make bench` prints both sides on the demo data."""

    seed: int = 11
    #: rows sampled for nearest-neighbour attacks (synthetic and holdout queries each)
    distance_rows: int = 5000
    #: holdout quantile of the distance to train under which a row counts as "too close"
    close_quantile: float = 0.01
    max_close_copy_excess: float = 0.003
    max_near_copy_excess: float = 0.002
    max_membership_auc: float = 0.55
    max_singling_out_risk: float = 0.20
    max_linkability_risk: float = 0.10
    max_inference_risk: float = 0.10
    max_unique_people_excess: float = 0.002
    #: excess share of rare real people (whole source) found beyond chance (lib/gate/attacks/exposure.py)
    max_absolute_exposure_excess: float = 0.002
    #: targets per anonymeter attack (anonymeter's default 500, on all rows, takes minutes)
    anonymeter_attacks: int = 300
    #: no evidence is no pass: fewer real or synthetic rows than this and the gate blocks
    min_holdout_rows: int = 200
    min_evaluation_rows: int = 200
