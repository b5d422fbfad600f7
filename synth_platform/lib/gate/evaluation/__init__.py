"""The release gate: every figure a release decision rests on, computed in one place.

The synthetic table is brought back into the masked (model) space — generalised
columns generalised again — so that it is compared with the training data like for
like. Each check has a figure, a threshold from the spec, and a verdict.

Checks: the GX suite, the SDMetrics quality score, exact copies, one check per privacy
attack of `lib/gate/attacks/` (close copies, near copies, membership inference, singling out,
linkability, attribute inference, unique people — each with a 95 % interval, blocking only
when the interval lies above its threshold, and blocking when there is too little data to
judge), and identifier leaks. The attacks replaced the old distance-to-closest-record train
share, which passed tables of planted real people up to 100 % of the rows. `evaluate` is
the one function both the gate asset and `synth-platform check` call.

A private decision: the GX suite is public (built from warehouse types, declared domains and
the plan, run on the synthetic table). With a `GateNoise` (the gate asset, after its charge),
every real-data check decides on a noisy bounded figure (`private_figures`: `lib/bounded_figures`
for the figures, `lib/private_decision` for the noise, the rho split and the rule); its exact
figure, interval and verdict stay on the outcome for the restricted evidence pack, and
`GateReport.figures()` — what the assessment and the ledger store — holds the noisy ones.

The package's modules: `outcomes` (CheckOutcome, GateReport), `model_space` (the synthetic table
seen like the training data), `inputs` (the warehouse samples and whole-table SQL figures),
`checks` (the GX suite, the attacks, TSTR), `private` (the noisy bounded figures), `decide`
(`evaluate`) and `sample_sizes` (rows used per check). Every public name the single module had
is exported here (and `_privatised`, which the tests use), so callers keep
`from synth_platform.lib.gate import evaluation`.
"""

from synth_platform.lib.gate.evaluation.checks import (
    ATTACK_CHECKS,
    attack_config,
    attack_outcome,
    privacy_attacks,
    public_expectations,
    utility_check,
)
from synth_platform.lib.gate.evaluation.decide import HOLDOUT_RELATIVE, TRAINED_ON, evaluate
from synth_platform.lib.gate.evaluation.inputs import (
    GATE_SAMPLE_ROWS,
    WholeTables,
    read_gate_inputs,
    sample_query,
)
from synth_platform.lib.gate.evaluation.model_space import (
    FORMAT_PATTERNS,
    MAX_SCORED_CATEGORIES,
    format_patterns,
    published_domains,
    scored_columns,
    to_model_space,
    withhold_rare_generalized,
)
from synth_platform.lib.gate.evaluation.outcomes import (
    HOLDOUT_CHECK,
    UTILITY_CHECK,
    CheckOutcome,
    GateReport,
)
from synth_platform.lib.gate.evaluation.private import (
    _privatised as _privatised,  # the tests build privatised outcomes
)
from synth_platform.lib.gate.evaluation.private import (
    decided_figures,
    gate_decision_rule,
    private_figures,
    real_data_checks,
)
from synth_platform.lib.gate.evaluation.sample_sizes import (
    WHOLE_TABLE_CHECKS,
    Z95,
    with_sample_sizes,
)

__all__ = [
    "ATTACK_CHECKS",
    "FORMAT_PATTERNS",
    "GATE_SAMPLE_ROWS",
    "HOLDOUT_CHECK",
    "HOLDOUT_RELATIVE",
    "MAX_SCORED_CATEGORIES",
    "TRAINED_ON",
    "UTILITY_CHECK",
    "WHOLE_TABLE_CHECKS",
    "Z95",
    "CheckOutcome",
    "GateReport",
    "WholeTables",
    "attack_config",
    "attack_outcome",
    "decided_figures",
    "evaluate",
    "format_patterns",
    "gate_decision_rule",
    "privacy_attacks",
    "private_figures",
    "public_expectations",
    "published_domains",
    "read_gate_inputs",
    "real_data_checks",
    "sample_query",
    "scored_columns",
    "to_model_space",
    "utility_check",
    "with_sample_sizes",
    "withhold_rare_generalized",
]
