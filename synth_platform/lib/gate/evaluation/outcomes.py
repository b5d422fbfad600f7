"""What a gate check says: its outcome (exact figure, interval, verdict, and under a private
gate the noisy figure that decides) and the report of every check, with the views that may leave
the governed side (`GateReport.figures`) and the restricted one (`exact_figures`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from synth_platform.lib.gate import private_decision
from synth_platform.lib.gate.private_decision import NoisyFigure

#: the check names other modules of the gate refer to
HOLDOUT_CHECK = "holdout_size"
UTILITY_CHECK = "utility_tstr"


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    figure: float
    threshold: float
    description: str
    details: dict = field(default_factory=dict)
    #: 95 % interval of the figure, for the privacy attacks (None for checks without one)
    ci: tuple[float, float] | None = None
    #: one line a person understands: what was measured and why it passed or blocked
    verdict: str = ""
    #: under a private gate, the released (noisy) figure of a real-data check, which decides;
    #: `figure`, `ci` and `details` then stay exact, for the restricted evidence pack only
    noisy: NoisyFigure | None = None
    #: computed from public inputs only (the synthetic table, spec, declared domains, plan): free
    public: bool = False

    def as_dict(self) -> dict:
        """JSON-safe figures that may leave the governed side: under a private gate a real-data
        check shows its noisy figure only (a figure that could not be computed is None, never NaN)."""
        if self.noisy is not None:
            out = {
                "figure": _json_number(self.noisy.value),
                "threshold": self.threshold,
                "passed": self.passed,
                "private": True,
                **self.noisy.as_dict(),
            }
            if self.verdict:
                out["verdict"] = self.verdict
            return out
        return self.exact_dict()

    def exact_dict(self) -> dict:
        """The exact figure, interval and verdict (restricted: the evidence pack, an operator)."""
        out = {"figure": _json_number(self.figure), "threshold": self.threshold, "passed": self.passed}
        if self.ci is not None:
            out["ci_low"], out["ci_high"] = _json_number(self.ci[0]), _json_number(self.ci[1])
        if self.verdict:
            out["verdict"] = self.verdict
        if self.noisy is not None:
            out["exact_passed"] = self.details.get("exact_passed")
            out["exact_verdict"] = self.details.get("exact_verdict")
            out.update(self.noisy.as_dict())
        return out


def _json_number(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class GateReport:
    outcomes: list[CheckOutcome]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failed_checks(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.passed]

    def figure(self, name: str) -> float | None:
        return next((o.figure for o in self.outcomes if o.name == name), None)

    def figures(self) -> dict:
        """Every check's public figure, threshold and verdict, JSON-safe: under a private gate the
        noisy figures of the real-data checks (with sigma, sensitivity, rho), exact ones otherwise.
        This is what the assessment and the ledger's decision row store."""
        return {o.name: o.as_dict() for o in self.outcomes}

    def exact_figures(self) -> dict:
        """Every check's exact figure, interval and verdict: restricted (evidence pack)."""
        return {o.name: o.exact_dict() for o in self.outcomes}

    @property
    def private(self) -> bool:
        """Was the decision taken from noisy figures (a charged, private gate)?"""
        return any(o.noisy is not None for o in self.outcomes)

    def decision_rule(self) -> dict | None:
        """How sure a noisy check had to be to block (public): the spec's family-wise false-block
        rate, the figures it is shared over and the z each was decided at; None when no noisy
        figure decided (an exact report, or a gate refused before it read data)."""
        for o in self.outcomes:
            if o.noisy is not None and o.noisy.false_block_rate is not None:
                return {
                    "false_block_rate": o.noisy.false_block_rate,
                    "figures": o.noisy.family_figures,
                    "z": o.noisy.z,
                    "z_minimum": private_decision.Z,
                }
        return None
