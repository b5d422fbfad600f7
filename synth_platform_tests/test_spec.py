from pathlib import Path

import pytest
import yaml

from synth_platform.lib.dataset_instances import load_datasets
from synth_platform.lib.spec import SpecError, load_spec
from synth_platform.settings import DATASETS_DIR
from synth_platform_tests.conftest import small_spec_dict


def _write(tmp_path: Path, data: dict, name: str = "people") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _bare() -> dict:
    """A spec with no synthesizer and no privacy section: what the defaults are about."""
    data = small_spec_dict()
    data.pop("synthesizer", None)
    data.pop("privacy", None)
    return data


def test_shipped_specs_load():
    specs = load_datasets(DATASETS_DIR)
    assert [s.name for s in specs] == ["adult_customers"]
    adult = specs[0]
    assert adult.key == "customer_id"
    assert adult.columns["zip_code"].generalize == "zip3"
    assert len(adult.columns) == 23


def test_defaults_apply(tmp_path):
    spec = load_spec(_write(tmp_path, small_spec_dict()))
    assert spec.split.holdout_fraction == 0.2
    assert spec.checks.min_quality_score == 0.75


def test_dp_is_the_default(tmp_path):
    """A spec with no synthesizer section trains dp_mst at epsilon 1, delta 1e-9, under a total budget
    of epsilon 10 at delta 1e-9, and is labelled differentially private."""
    spec = load_spec(_write(tmp_path, _bare()))
    assert spec.synthesizer.kind == "dp_mst"
    assert spec.synthesizer.params == {"epsilon": 1.0, "delta": 1e-9}
    assert (spec.privacy.epsilon_budget, spec.privacy.delta) == (10.0, 1e-9)
    assert spec.synthesizer.differentially_private
    assert spec.synthesizer.label == "dp_mst: differentially private (epsilon 1 at delta 1e-09 per training)"
    assert spec.sample.rows is None  # the DP noisy total, not the training count


def test_dp_mst_params_fill_in_only_what_is_not_declared(tmp_path):
    data = {**_bare(), "synthesizer": {"kind": "dp_mst", "params": {"epsilon": 2.5, "bins": 8}}}
    spec = load_spec(_write(tmp_path, data))
    assert spec.synthesizer.params == {"epsilon": 2.5, "delta": 1e-9, "bins": 8}
    data = {**_bare(), "synthesizer": {"params": {"delta": 1e-10}}}
    assert load_spec(_write(tmp_path, data)).synthesizer.params == {"epsilon": 1.0, "delta": 1e-10}


@pytest.mark.parametrize("kind", ["gaussian_copula", "ctgan", "tvae"])
def test_a_non_private_kind_under_the_default_budget_is_refused_with_the_way_out(tmp_path, kind):
    for privacy in (None, {}, {"delta": 1e-8}):  # the budget left at its default
        data = {**_bare(), "synthesizer": {"kind": kind}}
        if privacy is not None:
            data["privacy"] = privacy
        path = _write(tmp_path, data)
        with pytest.raises(SpecError) as error:
            load_spec(path)
        message = str(error.value)
        assert str(path) in message
        assert f"synthesizer.kind '{kind}' is not differentially private" in message
        assert "`privacy: {epsilon_budget: null}`" in message and "dp_mst" in message


def test_a_non_private_kind_must_say_so_and_is_labelled(tmp_path):
    data = {
        **_bare(),
        "synthesizer": {"kind": "gaussian_copula"},
        "privacy": {"epsilon_budget": None},
    }
    spec = load_spec(_write(tmp_path, data))
    assert spec.privacy.epsilon_budget is None and spec.synthesizer.params == {}
    assert not spec.synthesizer.differentially_private
    assert (
        spec.synthesizer.label == "gaussian_copula: not differentially private (no formal privacy guarantee)"
    )


def test_a_non_private_kind_with_a_declared_budget_loads_and_is_refused_at_training(tmp_path):
    """A budget the author wrote down is theirs: the spec loads, and the training is refused before it
    reads any data, with a message that says why and what to do (lib.governance.budget)."""
    from synth_platform.lib.governance import budget

    data = {**_bare(), "synthesizer": {"kind": "ctgan"}, "privacy": {"epsilon_budget": 3}}
    spec = load_spec(_write(tmp_path, data))
    spend = budget.spend_for(spec.synthesizer.kind, spec.synthesizer.params)
    reason = budget.refusal_reason(spend, spec.privacy.epsilon_budget, spec.privacy.delta, (0.0, 0.0))
    assert reason is not None
    assert "privacy budget (epsilon 3 at delta 1e-09)" in reason and "not differentially private" in reason
    assert "dp_mst" in reason


def test_sample_rows_are_public_when_declared(tmp_path):
    data = {**_bare(), "sample": {"rows": 500}}
    assert load_spec(_write(tmp_path, data)).sample.rows == 500
    with pytest.raises(SpecError, match=r"sample\.rows"):
        load_spec(_write(tmp_path, {**_bare(), "sample": {"rows": 0}}))


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
