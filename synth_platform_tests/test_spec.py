from pathlib import Path

import pytest
import yaml

from synth_platform.lib.spec import SpecError, load_spec, load_specs
from synth_platform_tests.conftest import PROJECT_ROOT, small_spec_dict


def _write(tmp_path: Path, data: dict, name: str = "people") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_specs_load():
    specs = load_specs(PROJECT_ROOT / "config" / "datasets")
    assert [s.name for s in specs] == ["adult_customers"]
    adult = specs[0]
    assert adult.key == "customer_id"
    assert adult.columns["zip_code"].generalize == "zip3"
    assert len(adult.columns) == 23


def test_defaults_apply(tmp_path):
    spec = load_spec(_write(tmp_path, small_spec_dict()))
    assert spec.synthesizer.kind == "gaussian_copula"
    assert spec.split.holdout_fraction == 0.2
    assert spec.checks.min_quality_score == 0.75


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["columns"]["age"].update(type="int"), "columns.age.type"),
        (lambda d: d.update(synthesizer={"kind": "magic"}), "synthesizer.kind"),
        (lambda d: d.update(unknown_field=1), "unknown_field"),
        (lambda d: d["columns"]["zip_code"].update(generalize="zip9"), "columns.zip_code.generalize"),
        (lambda d: d.update(split={"holdout_fraction": 1.5}), "split.holdout_fraction"),
        (lambda d: d.pop("source"), "source"),
    ],
)
def test_malformed_spec_names_file_and_field(tmp_path, mutate, field):
    data = small_spec_dict()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert str(path) in str(error.value)
    assert f"'{field}" in str(error.value)


def test_key_must_be_a_declared_column(tmp_path):
    data = small_spec_dict()
    data["key"] = "nope"
    with pytest.raises(SpecError, match="key 'nope'"):
        load_spec(_write(tmp_path, data))


def test_file_name_must_match_dataset_name(tmp_path):
    with pytest.raises(SpecError, match="field 'name'"):
        load_spec(_write(tmp_path, small_spec_dict(), name="other"))


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "people.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)
