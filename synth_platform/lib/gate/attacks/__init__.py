"""Calibrated privacy attacks on a synthetic table (plain Python, no orchestrator).

One module per attack, one result type (`result.AttackResult`: figure, 95 % CI, threshold,
verdict, rows evaluated, seed), and `suite.run_suite` running them all. See each module's
docstring for what it measures and why it is calibrated the way it is.
"""

from synth_platform.lib.gate.attacks.config import AttackConfig
from synth_platform.lib.gate.attacks.result import AttackResult
from synth_platform.lib.gate.attacks.suite import ATTACKS, run_suite

__all__ = ["ATTACKS", "AttackConfig", "AttackResult", "run_suite"]
