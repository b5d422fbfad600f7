"""A schema's gate is set in its `defs.yaml` (`checks:`), not only from Python.

What a user checks: a `checks:` block with a bad rho, a rho the budget could never pay, a bad
false-block rate or a misspelt key is refused on load naming the file and the field; the block
written in a component's `defs.yaml` (loaded as Dagster loads it) reaches the gate, which shows the
rho and thresholds it judges with on its check; the scaffolded template's commented block,
uncommented, is the defaults; and Python arguments to `schema_definitions` still win.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from synth_platform.components.governed_schema import GovernedSchema, schema_definitions
from synth_platform.lib.relational import store
from synth_platform.lib.relational.demo_schema import demo_schema_dict
from synth_platform.lib.relational.gate import RelationalChecks
from synth_platform.lib.relational.schema_spec import SchemaCheckSpec, load_schema_spec, parse_schema_spec
from synth_platform.lib.spec import SpecError

SCHEMA = "shop_rel"


def _raw(checks: dict | None = None, budget: float = 10.0) -> dict:
    raw = demo_schema_dict()
    raw["name"] = SCHEMA
    raw["privacy"] = {"epsilon_budget": budget, "delta": 1e-9}
    if checks is not None:
        raw["checks"] = checks
    return raw


def _load_error(tmp_path: Path, checks: dict, budget: float = 10.0) -> tuple[Path, str]:
    path = tmp_path / f"{SCHEMA}.yaml"
    path.write_text(yaml.safe_dump(_raw(checks, budget)))
    with pytest.raises(SpecError) as caught:
        load_schema_spec(path)
    return path, str(caught.value)


def _gate_settings(defs) -> tuple[float, dict]:
    """The rho and thresholds the schema's gate shows on its check (what the UI shows)."""
    definitions = [*(defs.assets or []), *(defs.asset_checks or [])]
    specs = {s.key: s for d in definitions for s in getattr(d, "check_specs", [])}
    (spec,) = [s for k, s in specs.items() if k.asset_key.path == [SCHEMA, "synthetic"] and s.blocking]
    return spec.metadata["gate_rho"], spec.metadata["gate_checks"].value


@pytest.mark.parametrize(
    ("checks", "field"),
    [
        ({"gate_rho": 0}, "checks.gate_rho"),
        ({"gate_rho": -0.05}, "checks.gate_rho"),
        ({"false_block_rate": 0.7}, "checks.false_block_rate"),
        ({"max_children_tvd": 1.5}, "checks.max_children_tvd"),
        ({"gate_rhoo": 0.05}, "checks.gate_rhoo"),
        ({"max_dcr_train_share": 0.5}, "checks.max_dcr_train_share"),
    ],
)
def test_bad_or_unknown_setting_is_refused_naming_file_and_field(tmp_path, checks, field):
    path, message = _load_error(tmp_path, checks)
    assert str(path) in message and f"field '{field}'" in message, message


def test_a_gate_rho_the_budget_could_never_pay_is_refused(tmp_path):
    # epsilon 1 at delta 1e-9 is about rho 0.015 in all: one evaluation at rho 0.05 could never be paid
    path, message = _load_error(tmp_path, {"gate_rho": 0.05}, budget=1.0)
    assert str(path) in message and "checks.gate_rho 0.05" in message, message
    assert "privacy.epsilon_budget 1 " in message and "raise privacy.epsilon_budget" in message, message
    # the same rho under a budget that can pay it loads; the default rho is not re-judged
    assert parse_schema_spec(_raw({"gate_rho": 0.05}, budget=10.0)).checks.gate_rho == 0.05
    assert parse_schema_spec(_raw(None, budget=0.1)).checks.gate_rho == store.GATE_RHO


def test_settings_are_relational_checks_and_default_to_them():
    fields = {f.name for f in dataclasses.fields(RelationalChecks)}
    assert set(SchemaCheckSpec.model_fields) == fields | {"gate_rho"}
    default = parse_schema_spec(_raw())
    assert default.checks.relational_checks() == RelationalChecks()
    assert default.checks.gate_rho == store.GATE_RHO


def test_checks_in_defs_yaml_reach_the_gate_and_python_wins():
    checks = {"gate_rho": 0.05, "max_children_tvd": 0.2, "false_block_rate": 0.05}
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            GovernedSchema,
            defs_path=SCHEMA,
            defs_yaml_contents={
                "type": "synth_platform.components.GovernedSchema",
                "attributes": _raw(checks),
            },
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            rho, shown = _gate_settings(defs)
    assert rho == 0.05
    assert shown == dataclasses.asdict(RelationalChecks(max_children_tvd=0.2, false_block_rate=0.05))
    # Python arguments win over the spec's block (rho and every threshold given)
    rho, shown = _gate_settings(
        schema_definitions(component.spec, checks=RelationalChecks(min_holdout_people=50), gate_rho=0.02)
    )
    assert rho == 0.02 and shown == dataclasses.asdict(RelationalChecks(min_holdout_people=50))


def test_scaffolded_template_block_uncommented_is_the_defaults():
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(GovernedSchema, defs_path=SCHEMA)
        text = (path / "defs.yaml").read_text()
        assert "  # checks:\n" in text and "#   gate_rho:" in text
        lines = text.splitlines()
        start = lines.index("  # checks:")
        block = [line.replace("# ", "", 1) for line in lines[start:] if line.startswith("  #")]
        (path / "defs.yaml").write_text("\n".join(lines[:start] + block) + "\n")
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            rho, shown = _gate_settings(defs)
    assert "checks" in component.spec.model_fields_set
    assert rho == store.GATE_RHO and shown == dataclasses.asdict(RelationalChecks())
