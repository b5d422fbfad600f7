"""Stage `pii_report`: every column classified with evidence in governance.pii_<ds> (lib.pii.discovery),
then checked against the masking plan a person approved (lib.pii.approved_plan). Discovery reads a
seeded sample of raw.<ds> in SQL, with each column's null share and distinct count and the
quasi-identifier groups counted over the whole table in SQL: the table never reaches pandas.

Discovery's verdict depends on the current rows, so it does not shape the model by itself: the
approved plan `<datasets>/<ds>/masking_plan.yaml` does. No approved plan, or a column discovery now calls a
direct identifier that the plan lets reach the model, stops the run here: after discovery, before
anything is masked, trained or charged. The plan that passed is recorded in
governance.approved_plan_<ds>, which the later stages apply (`common.masking_plan`).
"""

import dagster as dg

from synth_platform.defs.chain.common import (
    STAGE_VERSIONS,
    ChainContext,
    approved_plan_table,
    lease_guard,
    spec_hints,
)
from synth_platform.defs.resources import StorageResource, WarehouseResource
from synth_platform.defs.table_metadata import records_table
from synth_platform.lib.pii import approved_plan, discovery
from synth_platform.lib.storage.warehouse import quote_ident, replacing_tables


def _record(con, ds: str, report, plan_frame, guard) -> None:
    """Write the report and the checked plan (or drop the recorded plan: one the latest discovery did
    not confirm is applied by no stage) in one transaction with this run's lease check."""
    tables = {("governance", f"pii_{ds}"): report}
    if plan_frame is not None:
        tables[("governance", approved_plan_table(ds))] = plan_frame
    with replacing_tables(con, tables):
        guard(con)
        if plan_frame is None:
            con.execute(
                f"DROP TABLE IF EXISTS {quote_ident('governance')}.{quote_ident(approved_plan_table(ds))}"
            )


def _checked_plan(spec, specs_dir, findings, report) -> approved_plan.ApprovedPlan:
    """The approved plan, or dg.Failure naming what to do (approve, re-approve, fix the file); the
    failure carries discovery's findings (classes, types, evidence: no value) for the review."""
    ds = spec.name
    path = approved_plan.plan_path(specs_dir, ds)
    command = approved_plan.approve_command(ds)
    shown = {
        "plan_path": str(path),
        "approve_command": command,
        "findings": records_table(report.to_dict(orient="records")),
    }
    try:
        plan = approved_plan.load_plan(specs_dir, spec)
    except approved_plan.PlanError as error:
        raise dg.Failure(
            description=f"the approved masking plan of {ds!r} cannot be used: {error}", metadata=shown
        ) from error
    if plan is None:
        raise dg.Failure(
            description=f"dataset {ds!r} has no approved masking plan ({path}): the run stops after "
            "discovery, before anything is masked, trained or charged. Review discovery's report "
            f"(governance.pii_{ds}; `findings` in this failure's metadata), run `{command}` to write "
            "the plan, review and commit that file, then run the chain again.",
            metadata=shown,
        )
    problems = approved_plan.disagreements(plan, findings, spec)
    if problems:
        columns = ", ".join(repr(c) for c in approved_plan.disagreeing_columns(plan, findings, spec))
        raise dg.Failure(
            description=f"discovery disagrees with the approved masking plan of {ds!r} ({path}) on "
            f"{columns}: the run stops before anything is masked, trained or charged.\n"
            + "\n".join(f"- {p}" for p in problems),
            metadata={**shown, "plan_digest": plan.digest},
        )
    return plan


def build_pii_report_asset(chain: ChainContext):
    spec, ds = chain.spec, chain.ds

    @dg.asset(
        key=chain.key("pii_report"),
        deps=[chain.key("raw")],
        code_version=STAGE_VERSIONS["pii_report"],
        kinds={"duckdb"},
        description="Every column classified (direct identifier / quasi-identifier / sensitive / other) "
        "with its detected type and evidence; holds no raw values. Checked against the approved masking "
        "plan (<datasets>/<dataset>/masking_plan.yaml): no plan, or a disagreement, stops the run here.",
        **chain.common,
    )
    def pii_report(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        generalized = {name: c.generalize for name, c in spec.columns.items() if c.generalize}
        # one locked session: discovery reads (a seeded SQL sample and whole-table counts), then the
        # report and the checked plan are written; the connection is opened once, not twice
        with warehouse.connect() as con:
            findings, _ = discovery.discover_table(con, "raw", ds, hints=spec_hints(spec))
            qi_risk = discovery.quasi_identifier_risk_table(con, "raw", ds, findings, generalized)
            report = discovery.findings_table(findings)
            guard = lease_guard(ds, context)
            try:
                plan = _checked_plan(spec, storage.specs_path, findings, report)
            except dg.Failure:
                _record(con, ds, report, None, guard)
                raise
            _record(con, ds, report, approved_plan.plan_table(plan), guard)
        counts = report["pii_class"].value_counts().to_dict()
        return dg.MaterializeResult(
            metadata={
                "findings": records_table(report.to_dict(orient="records")),
                **{f"{cls}_columns": int(counts.get(cls, 0)) for cls in discovery.PII_CLASSES},
                **qi_risk.as_metadata(),
                "plan_digest": plan.digest,
                "plan_path": str(approved_plan.plan_path(storage.specs_path, ds)),
                "plan_approved_at": plan.approved_at,
                "plan_approved_by": plan.approved_by,
            }
        )

    return pii_report
