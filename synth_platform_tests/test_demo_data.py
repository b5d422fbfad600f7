import pandas as pd

from synth_platform.lib.dataset_instances import read_spec_dict
from synth_platform.lib.demo_data import AS_OF, enrich_with_identifiers, load_adult, write_demo_landing_file
from synth_platform.settings import DATASETS_DIR


def test_enrichment_is_seeded_and_consistent():
    adult = load_adult(rows=400)
    first = enrich_with_identifiers(adult, seed=5)
    assert first.equals(enrich_with_identifiers(adult, seed=5))
    assert not first["ssn"].equals(enrich_with_identifiers(adult, seed=6)["ssn"])
    assert len(first) == 400

    spec = read_spec_dict(DATASETS_DIR / "adult_customers")
    assert list(first.columns) == list(spec["columns"])

    dob = pd.to_datetime(first["date_of_birth"])
    before_birthday = (dob.dt.month * 100 + dob.dt.day) > (AS_OF.month * 100 + AS_OF.day)
    assert ((AS_OF.year - dob.dt.year - before_birthday.astype(int)) == first["age"]).all()

    ssn = first["ssn"].str.extract(r"^(\d{3})-(\d{2})-(\d{4})$").astype(int)
    assert ssn.notna().all().all()
    assert ((ssn[0] > 0) & (ssn[0] < 900) & (ssn[0] != 666) & (ssn[1] > 0) & (ssn[2] > 0)).all()
    assert first["ssn"].is_unique and first["email"].is_unique and first["customer_id"].is_unique
    assert first["email"].str.fullmatch(r"[a-z.\-]+\d*@[a-z]+\.com").all()
    assert first["zip_code"].str.fullmatch(r"\d{5}").all()
    assert not first["street_address"].str.contains("\n").any()


def test_landing_file_round_trips_and_is_reused(tmp_path):
    path = write_demo_landing_file(tmp_path, rows=200, seed=3)
    written = path.read_bytes()
    back = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    expected = enrich_with_identifiers(load_adult(rows=200), seed=3)
    assert back["zip_code"].tolist() == expected["zip_code"].tolist()  # leading zeros survive
    assert back["ssn"].tolist() == expected["ssn"].tolist()
    assert write_demo_landing_file(tmp_path, rows=200, seed=3) == path and path.read_bytes() == written
