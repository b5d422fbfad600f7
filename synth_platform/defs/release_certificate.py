"""Write the public release certificate of a release (certificate), from DP outputs and public inputs.

Called by the `release` stage after the publish: it reads the released (synthetic) table, the
gate's public (noisy) figures, the spend recorded in the ledger and the digests of the spec, the
approved plan and the code. It never reads a real row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from synth_platform import __version__
from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.governance import certificate, ledger
from synth_platform.lib.pii import approved_plan
from synth_platform.lib.spec import DatasetSpec, spec_sha256


def _declared(spec: DatasetSpec) -> dict[str, dict]:
    """The spec's declared (public) domains, in the release's (source) shape."""
    out: dict[str, dict] = {}
    for name, column in spec.columns.items():
        if column.categories is not None:
            out[name] = {"categories": list(column.categories)}
        elif column.bounds is not None and not hasattr(column.bounds[0], "year"):
            out[name] = {"bounds": tuple(column.bounds)}
    return out


def _year(values: pd.Series) -> pd.Series:
    """A date column's values as their years (what its picture shows); unreadable dates are missing."""
    return pd.to_datetime(values, errors="coerce").dt.year.astype("Int64")


def _gate_rows(figures: dict) -> list[dict]:
    return [
        {
            "check": name,
            "noisy_figure": f.get("figure"),
            "sigma": f.get("sigma"),
            "sensitivity": f.get("sensitivity"),
            "rho": f.get("rho"),
            "threshold": f.get("threshold"),
            "passed": f.get("passed"),
            "rule": "noisy (charged)" if f.get("private") else "public (synthetic table only)",
        }
        for name, f in figures.items()
    ]


def _spend(warehouse, spec: DatasetSpec, model, released_row: dict) -> tuple[dict, dict]:
    trained = None
    if model.charged_by is not None:
        with warehouse.connect(read_only=True) as con:
            trained = ledger.entry(con, model.charged_by)
    this_release = {
        "training": {
            "epsilon": trained.get("epsilon_spent") if trained else None,
            "delta": trained.get("delta") if trained else None,
            "rho": trained.get("rho_spent") if trained else None,
            "note": trained.get("epsilon_note") if trained else None,
        },
        "gate_rho": spec.checks.gate_rho,
    }
    cumulative = {
        "rho": released_row.get("cumulative_rho"),
        "epsilon": released_row.get("cumulative_epsilon"),
        "at_delta": released_row.get("budget_delta"),
        "epsilon_budget": released_row.get("epsilon_budget"),
        "scope": "every training and gate of the same source (landing folder)",
    }
    return this_release, cumulative


def write_certificate(
    *,
    root: Path,
    warehouse,
    spec: DatasetSpec,
    plan: list[ColumnTreatment],
    model,
    run_id: str,
    released_row: dict,
    released: certificate.TableCounts,
    figures: dict,
) -> certificate.Certificate:
    """Build and write the certificate. Never call it while holding a warehouse connection: it
    opens its own, briefly (the warehouse lock is not re-entrant across connections).

    `released`: the released table's counts (`certificate.read_counts`, taken under the publish's
    lock)."""
    recorded = approved_plan.recorded_plan(warehouse.db_path, spec)
    this_release, cumulative = _spend(warehouse, spec, model, released_row)
    for name, column in spec.columns.items():
        if column.type == "date" and name in released.columns:  # a date is pictured by its year
            released = released.replace(name, released.columns[name].map(_year))
    content = certificate.build(
        dataset=spec.name,
        run_id=run_id,
        decision="released",
        synthetic=released,
        synthesizer=model.kind,
        parameters=model.params,
        differentially_private=spec.synthesizer.differentially_private,
        spend=this_release,
        cumulative=cumulative,
        digests={
            "spec_sha256": spec_sha256(spec),
            "approved_plan_sha256": approved_plan.plan_digest(recorded) if recorded else None,
            "code_version": __version__,
        },
        gate=_gate_rows(figures),
        declared_domains=_declared(spec),
        column_types={name: column.type for name, column in spec.columns.items()},
        pictured=[t.column for t in plan if t.reaches_model],
    )
    return certificate.write(certificate.certificate_dir(root, spec.name, run_id), content)
