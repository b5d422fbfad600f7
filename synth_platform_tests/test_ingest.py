import os

import pandas as pd
import pytest

from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.ingest import (
    IngestError,
    LandingPathError,
    landing_files,
    latest_landing_file,
    quarantine,
    read_landing_file,
    resolve_landing_file,
)
from synth_platform_tests.conftest import small_spec_dict

HEADER = "customer_id,full_name,email,zip_code,date_of_birth,age,sex,income"
ROW = "C-1,Ann Example,ann@example.com,02139,1980-05-01,45,Female,>50K"


@pytest.fixture
def small_spec() -> DatasetSpec:
    """The shared small spec, accepting files of any length (min_rows is tested on its own)."""
    spec = small_spec_dict()
    spec["source"]["min_rows"] = 1
    return DatasetSpec.model_validate(spec)


def _csv(tmp_path, text, name="people.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_and_types_a_good_file(tmp_path, small_spec):
    path = _csv(tmp_path, f"{HEADER}\n{ROW}\nC-2,Bob Example,bob@example.com,10001,1990-01-02,,Male,<=50K\n")
    frame = read_landing_file(path, small_spec)
    assert list(frame.columns) == small_spec.column_names
    assert str(frame["age"].dtype) == "Int64"
    assert frame["age"].isna().sum() == 1
    assert frame["zip_code"].tolist() == ["02139", "10001"]  # leading zero kept
    assert pd.api.types.is_datetime64_any_dtype(frame["date_of_birth"])


def test_empty_file(tmp_path, small_spec):
    path = _csv(tmp_path, "")
    with pytest.raises(IngestError, match=r"people\.csv: the file is empty"):
        read_landing_file(path, small_spec)


def test_header_only(tmp_path, small_spec):
    path = _csv(tmp_path, HEADER + "\n")
    with pytest.raises(IngestError, match="no data rows"):
        read_landing_file(path, small_spec)


def test_malformed_csv_names_the_line(tmp_path, small_spec):
    path = _csv(tmp_path, f"{HEADER}\n{ROW}\n{ROW},extra,fields\n")
    with pytest.raises(IngestError, match=r"people\.csv: malformed CSV: data row 2 has 10 fields, more"):
        read_landing_file(path, small_spec)


def test_schema_change_lists_missing_and_unexpected(tmp_path, small_spec):
    header = HEADER.replace("email", "e_mail_address")
    path = _csv(tmp_path, f"{header}\n{ROW}\n")
    with pytest.raises(IngestError) as error:
        read_landing_file(path, small_spec)
    message = str(error.value)
    assert "columns differ from the spec" in message
    assert "missing ['email']" in message
    assert "unexpected ['e_mail_address']" in message


def test_bad_value_error_names_column_and_line_but_not_the_value(tmp_path, small_spec):
    secret = "SECRET-AGE-VALUE"
    path = _csv(tmp_path, f"{HEADER}\n{ROW}\n{ROW.replace(',45,', f',{secret},')}\n")
    with pytest.raises(IngestError) as error:
        read_landing_file(path, small_spec)
    assert "column 'age'" in str(error.value)
    assert "data row 2" in str(error.value)
    assert secret not in str(error.value)


def test_not_utf8(tmp_path, small_spec):
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER.encode() + b"\n" + "Ann,Müller\n".encode("latin-1"))
    with pytest.raises(IngestError, match="not UTF-8"):
        read_landing_file(path, small_spec)


def test_quarantine_moves_file_and_keeps_reason(tmp_path):
    path = _csv(tmp_path, "x")
    target = quarantine(path, tmp_path / "q", "people.csv: broken", landing_dir=tmp_path)
    assert not path.exists()
    assert target.exists() and target.read_text() == "x"
    assert (target.parent / f"{target.name}.reason.txt").read_text().strip() == "people.csv: broken"


def test_latest_landing_file_by_mtime(tmp_path):
    older = _csv(tmp_path, "a", "b.csv")
    newer = _csv(tmp_path, "a", "a.csv")
    os.utime(older, (1, 1))
    assert latest_landing_file(tmp_path, "*.csv") == newer
    assert landing_files(tmp_path / "missing", "*.csv") == []


def test_too_few_rows_is_refused_with_the_spec_field_to_change(tmp_path):
    spec = DatasetSpec.model_validate(small_spec_dict())  # default min_rows
    assert spec.source.min_rows == 200
    path = _csv(tmp_path, f"{HEADER}\n{ROW}\n{ROW.replace('C-1', 'C-2')}\n")
    with pytest.raises(IngestError, match=r"2 data rows, fewer than the 200 .*source\.min_rows"):
        read_landing_file(path, spec)


def test_header_missing_says_so_without_quoting_the_first_row(tmp_path, small_spec):
    path = _csv(tmp_path, f"{ROW}\n{ROW.replace('C-1', 'C-2')}\n")
    with pytest.raises(IngestError) as error:
        read_landing_file(path, small_spec)
    message = str(error.value)
    assert "the first row looks like data, not a header" in message
    for cell in ROW.split(","):
        if cell not in small_spec.column_names:
            assert cell not in message


def test_unexpected_header_names_are_quoted_only_when_plain(tmp_path, small_spec):
    header = HEADER.replace("email", "ann@example.com").replace("income", "salary_band")
    path = _csv(tmp_path, f"{header}\n{ROW}\n")
    with pytest.raises(IngestError) as error:
        read_landing_file(path, small_spec)
    message = str(error.value)
    assert "'salary_band'" in message and "1 more whose names are not plain identifiers" in message
    assert "ann@example.com" not in message


def test_landing_file_outside_the_landing_folder_is_refused_before_reading(tmp_path):
    landing = tmp_path / "data" / "landing" / "people"
    landing.mkdir(parents=True)
    secret = tmp_path / "secret.csv"
    secret.write_text("SYNTH_PSEUDONYM_KEY=do-not-print\n")
    (landing / "link.csv").symlink_to(secret)
    for requested in (str(secret), "../../../secret.csv"):
        with pytest.raises(LandingPathError, match="outside the landing folder") as error:
            resolve_landing_file(requested, landing, "*.csv")
        assert "do-not-print" not in str(error.value)
    with pytest.raises(LandingPathError, match="a symbolic link, not a file") as error:
        resolve_landing_file(str(landing / "link.csv"), landing, "*.csv")  # never followed
    assert "do-not-print" not in str(error.value) and str(secret) not in str(error.value)
    with pytest.raises(LandingPathError, match="not in the landing folder"):
        quarantine(secret, tmp_path / "q", "reason", landing_dir=landing)
    assert secret.exists()
    (landing / "ok.csv").write_text("x")
    assert resolve_landing_file("ok.csv", landing, "*.csv") == (landing / "ok.csv").resolve()
    with pytest.raises(LandingPathError, match=r"expects files matching \*\.csv"):
        (landing / "notes.txt").write_text("x")
        resolve_landing_file("notes.txt", landing, "*.csv")


def test_bom_and_quoted_newlines_are_read(tmp_path, small_spec):
    row = ROW.replace("Ann Example", '"Ann\nExample"')
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\r\n{row}\r\n".encode())
    frame = read_landing_file(path, small_spec)
    assert frame["full_name"].tolist() == ["Ann\nExample"]
    assert os.path.getsize(path) > 0


def test_large_integers_are_kept_exactly_and_out_of_range_ones_refused(tmp_path, small_spec):
    rows = [ROW.replace(",45,", f",{age},") for age in ("9007199254740993", "9223372036854775807", "45")]
    frame = read_landing_file(_csv(tmp_path, "\n".join([HEADER, *rows]) + "\n"), small_spec)
    assert frame["age"].tolist() == [9007199254740993, 9223372036854775807, 45]
    too_big = ROW.replace(",45,", ",9223372036854775808,")
    with pytest.raises(IngestError, match="not within the 64-bit integer range") as error:
        read_landing_file(_csv(tmp_path, f"{HEADER}\n{too_big}\n", "big.csv"), small_spec)
    assert "9223372036854775808" not in str(error.value)
