"""Stage `pii_report`: every column classified with evidence in governance.pii_<ds> (lib.discovery)."""

import dagster as dg

from synth_platform.defs.chain.common import STAGE_VERSIONS, ChainContext, spec_hints
from synth_platform.defs.resources import WarehouseResource
from synth_platform.defs.table_metadata import records_table
from synth_platform.lib import discovery


def build_pii_report_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("pii_report"),
        deps=[chain.key("raw")],
        code_version=STAGE_VERSIONS["pii_report"],
        kinds={"duckdb"},
        description="Every column classified (direct identifier / quasi-identifier / sensitive / other) "
        "with its detected type and evidence; holds no raw values.",
        **chain.common,
    )
    def pii_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
        frame = warehouse.read_table("raw", ds)
        findings = discovery.discover(frame, hints=spec_hints(spec))
        report = discovery.findings_table(findings)
        warehouse.write_table("governance", f"pii_{ds}", report)
        counts = report["pii_class"].value_counts().to_dict()
        generalized = {name: c.generalize for name, c in spec.columns.items() if c.generalize}
        qi_risk = discovery.quasi_identifier_risk(frame, findings, generalized)
        return dg.MaterializeResult(
            metadata={
                "findings": records_table(report.to_dict(orient="records")),
                **{f"{cls}_columns": int(counts.get(cls, 0)) for cls in discovery.PII_CLASSES},
                **qi_risk.as_metadata(),
            }
        )

    return pii_report
