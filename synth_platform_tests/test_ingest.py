import pandas as pd
import pytest

from synth_platform.lib.ingest import (
    IngestError,
    landing_files,
    latest_landing_file,
    quarantine,
    read_landing_file,
)

HEADER = "customer_id,full_name,email,zip_code,date_of_birth,age,sex,income"
ROW = "C-1,Ann Example,ann@example.com,02139,1980-05-01,45,Female,>50K"


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
    with pytest.raises(IngestError, match=r"people\.csv: malformed CSV: .*line 3"):
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
    assert "line 3" in str(error.value)
    assert secret not in str(error.value)


def test_not_utf8(tmp_path, small_spec):
    path = tmp_path / "people.csv"
    path.write_bytes(HEADER.encode() + b"\n" + b"\xff\xfe\x00garbage\n")
    with pytest.raises(IngestError, match="not UTF-8"):
        read_landing_file(path, small_spec)


def test_quarantine_moves_file_and_keeps_reason(tmp_path):
    path = _csv(tmp_path, "x")
    target = quarantine(path, tmp_path / "q", "people.csv: broken")
    assert not path.exists()
    assert target.exists() and target.read_text() == "x"
    assert (target.parent / f"{target.name}.reason.txt").read_text().strip() == "people.csv: broken"


def test_latest_landing_file_by_mtime(tmp_path):
    import os

    older = _csv(tmp_path, "a", "b.csv")
    newer = _csv(tmp_path, "a", "a.csv")
    os.utime(older, (1, 1))
    assert latest_landing_file(tmp_path, "*.csv") == newer
    assert landing_files(tmp_path / "missing", "*.csv") == []
