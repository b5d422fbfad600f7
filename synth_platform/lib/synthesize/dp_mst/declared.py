"""The public domains a spec declares, turned into the model's space (after generalisation).

Separate from fitting because it reads the spec and the masking plan, never data: what it
returns costs no budget, and the synthesizer's fit only consumes it.
"""

from __future__ import annotations

import math
from datetime import date

from synth_platform.lib.synthesize import dp_domain


def declared_domains(spec, plan) -> dict[str, dict]:
    """The public domains a spec declares, in the model's space (after generalisation).

    A `bin:<width>` generalisation floors values to multiples of the width, so declared bounds
    are floored the same way; a `zip3` column's domain is every 3-digit prefix (public by
    construction); a date generalised to its year keeps declared date bounds (as `date_bounds`,
    turned into years by `dp_domain`); a `month` column has none.
    """
    out: dict[str, dict] = {}
    for treatment in plan:
        if not treatment.reaches_model:
            continue
        column = spec.columns[treatment.column]
        declared: dict = {}
        if column.categories is not None and treatment.action != "generalize":
            declared["categories"] = list(column.categories)
        if treatment.action == "generalize" and treatment.generalize == "zip3":
            declared["categories"] = list(dp_domain.ZIP3_LABELS)  # every prefix: public by construction
        if column.bounds is not None and isinstance(column.bounds[0], date):
            if treatment.generalize in (None, "year"):  # a year, a DATE or a TIMESTAMP: see dp_domain
                declared["date_bounds"] = tuple(column.bounds)
        elif column.bounds is not None:
            low, high = column.bounds
            rule = treatment.generalize or ""
            if treatment.action == "generalize" and rule.startswith("bin:"):
                width = int(rule.split(":", 1)[1])
                declared["bounds"] = (math.floor(low / width) * width, math.floor(high / width) * width)
            elif treatment.action != "generalize":
                declared["bounds"] = (low, high)
        if declared:
            out[treatment.column] = declared
    return out
