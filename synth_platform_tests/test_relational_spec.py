"""Schema specs for related tables: each structural mistake a user can make fails on load with a
message that names the table/column and says what to change; a single-table dataset converts."""

from __future__ import annotations

import copy

import pytest

from synth_platform.lib.relational.demo_schema import demo_schema_dict, demo_schema_spec
from synth_platform.lib.relational.schema_spec import (
    SchemaSpec,
    load_schema_spec,
    ownership,
    parse_schema_spec,
)
from synth_platform.lib.spec import DatasetSpec, SpecError


def _clinic() -> dict:
    """A small schema unlike the demo: text keys, a child of a child, a lookup, no link."""
    return {
        "name": "clinic",
        "person": "patients",
        "tables": {
            "wards": {
                "primary_key": "ward_code",
                "lookup": True,
                "columns": {"ward_code": {"type": "string"}, "floor": {"type": "integer"}},
            },
            "patients": {
                "primary_key": "mrn",
                "columns": {
                    "mrn": {"type": "string"},
                    "ward_code": {"type": "string"},
                    "sex": {"type": "category"},
                },
            },
            "stays": {
                "primary_key": "stay_id",
                "columns": {
                    "stay_id": {"type": "integer"},
                    "mrn": {"type": "string"},
                    "days": {"type": "integer"},
                },
            },
            "doses": {
                "columns": {"stay_id": {"type": "integer"}, "drug": {"type": "category"}},
            },
        },
        "foreign_keys": [
            {"column": "patients.ward_code", "references": "wards.ward_code"},
            {"column": "stays.mrn", "references": "patients.mrn", "max_children": 4},
            {"column": "doses.stay_id", "references": "stays.stay_id", "max_children": 10},
        ],
    }


def _error(raw: dict) -> str:
    with pytest.raises(SpecError) as caught:
        parse_schema_spec(raw, "clinic.yaml")
    return str(caught.value)


def test_valid_schemas_load_and_give_an_ownership_order():
    spec = parse_schema_spec(_clinic())
    assert ownership(spec).order == ["patients", "stays", "doses"]
    assert spec.lookups == ["wards"]
    demo = demo_schema_spec()
    own = ownership(demo)
    assert own.link.table == "people_accounts" and own.link.entity.parent_table == "accounts"
    assert set(own.order) == {"people", "people_accounts", "accounts", "transactions"}


def test_foreign_key_to_an_unknown_table():
    raw = _clinic()
    raw["foreign_keys"][1]["references"] = "patient.mrn"
    message = _error(raw)
    assert "clinic.yaml" in message and "table 'patient'" in message and "not declared" in message
    assert "patients" in message  # the declared names, to spot the typo


def test_foreign_key_to_an_unknown_column():
    raw = _clinic()
    raw["foreign_keys"][2]["column"] = "doses.stay"
    message = _error(raw)
    assert "has no column 'stay'" in message and "stay_id" in message


def test_foreign_key_must_reference_the_primary_key():
    raw = _clinic()
    raw["foreign_keys"][1]["references"] = "patients.sex"
    assert "must reference the parent's primary key" in _error(raw)


def test_a_cycle_is_named():
    raw = _clinic()
    raw["tables"]["patients"]["columns"]["last_dose"] = {"type": "integer"}
    raw["tables"]["doses"]["primary_key"] = "stay_id"
    raw["foreign_keys"].append({"column": "patients.last_dose", "references": "doses.stay_id"})
    message = _error(raw)
    assert "cycle patients -> doses -> stays -> patients" in message  # child -> parent, each a key


def test_a_self_reference_is_a_cycle():
    raw = _clinic()
    raw["tables"]["stays"]["columns"]["previous"] = {"type": "integer"}
    raw["foreign_keys"].append({"column": "stays.previous", "references": "stays.stay_id"})
    assert "cycle stays -> stays" in _error(raw)


def test_person_table_not_reachable_from_a_modelled_table():
    raw = _clinic()
    raw["tables"]["devices"] = {"primary_key": "serial", "columns": {"serial": {"type": "string"}}}
    message = _error(raw)
    assert "not reachable" in message and "devices" in message and "lookup: true" in message


def test_unknown_person_table():
    raw = _clinic()
    raw["person"] = "people"
    assert "person table 'people' is not one of the declared tables" in _error(raw)


def test_lookup_holding_person_data_by_pii_class():
    raw = _clinic()
    raw["tables"]["wards"]["columns"]["nurse_name"] = {
        "type": "string",
        "pii": {"class": "direct_identifier", "type": "name"},
    }
    message = _error(raw)
    assert "lookup table 'wards' holds person data" in message and "nurse_name" in message


def test_lookup_holding_person_data_by_a_key_to_a_modelled_table():
    raw = _clinic()
    raw["tables"]["beds"] = {
        "primary_key": "bed",
        "lookup": True,
        "columns": {"bed": {"type": "string"}, "stay_id": {"type": "integer"}},
    }
    raw["foreign_keys"].append({"column": "beds.stay_id", "references": "stays.stay_id"})
    message = _error(raw)
    assert "lookup table 'beds' holds person data" in message and "beds.stay_id" in message


def test_person_table_marked_lookup():
    raw = _clinic()
    raw["tables"]["patients"]["lookup"] = True
    assert "lookup table 'patients' holds person data" in _error(raw)


def test_duplicate_table_names_in_yaml(tmp_path):
    path = tmp_path / "clinic.yaml"
    path.write_text(
        "name: clinic\nperson: patients\ntables:\n"
        "  patients: {primary_key: mrn, columns: {mrn: {type: string}}}\n"
        "  patients: {primary_key: id, columns: {id: {type: integer}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_schema_spec(path)
    assert "duplicate names ['patients']" in str(caught.value) and str(path) in str(caught.value)


def test_duplicate_foreign_key_and_columns_differing_in_case():
    raw = _clinic()
    raw["foreign_keys"].append(copy.deepcopy(raw["foreign_keys"][1]))
    assert "duplicate foreign key on stays.mrn" in _error(raw)
    raw = _clinic()
    raw["tables"]["stays"]["columns"]["Days"] = {"type": "integer"}
    assert "duplicate column names in table 'stays'" in _error(raw)


def test_two_owner_keys_need_a_link_table():
    raw = demo_schema_dict()
    raw["tables"]["people_accounts"]["link"] = False
    message = _error(raw)
    assert "only the link table may have two" in message and "people_accounts" in message


def test_unknown_field_is_refused():
    raw = _clinic()
    raw["tables"]["stays"]["max_kids"] = 3
    assert "max_kids" in _error(raw)


def test_yaml_file_round_trip(tmp_path):
    import yaml

    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(demo_schema_dict(), allow_unicode=True))
    assert load_schema_spec(path) == demo_schema_spec()


def test_single_table_dataset_is_a_one_table_schema():
    dataset = DatasetSpec.model_validate(
        {
            "name": "sensors",
            "source": {"landing_dir": "x"},
            "key": "device",
            "columns": {"device": {"type": "string"}, "température": {"type": "float"}},
            "synthesizer": {"kind": "dp_mst", "params": {"epsilon": 2.0}},
        }
    )
    schema = SchemaSpec.from_dataset(dataset)
    assert schema.person == "sensors" and list(schema.tables) == ["sensors"]
    assert schema.tables["sensors"].primary_key == "device"
    assert schema.tables["sensors"].columns == dataset.columns
    assert schema.synthesizer.epsilon == 2.0 and schema.privacy == dataset.privacy
    assert ownership(schema).order == ["sensors"]
