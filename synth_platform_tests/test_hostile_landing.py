"""Hostile landing files: symlinks are never followed, oversized files refused before reading.

A symlink in the landing folder (pointing at a file outside it) is refused by every path that
reads landing files: the raw step with an empty `landing_file` (the nightly refresh), the raw
step named at the link, and the sensor, which must skip with a reason rather than error on
every tick. The link itself goes to quarantine; its target is neither read nor moved. A small
zstd Parquet file that expands to millions of rows, and a CSV over `source.max_rows`, are
refused before being materialised, with a message naming the limit and the spec field.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_platform.defs.automation import chain_job_name
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage import ingest
from synth_platform_tests.conftest import small_spec_dict
from synth_platform_tests.pipeline_harness import DATASET, make_project
from synth_platform_tests.test_automation import HEADER, _tick, defs_and_landing  # noqa: F401

SECRET = "OUTSIDE-SECRET-4471"


def _outside_target(tmp_path, header: str) -> tuple:
    """A file outside the landing folder, as a link would point at it (a `.env`, another table)."""
    target = tmp_path / "outside" / "secret.csv"
    target.parent.mkdir(parents=True)
    target.write_text(f"{header}\n{SECRET}\n")
    return target, target.read_bytes()


def _links_in(folder) -> list:
    return [p for p in folder.iterdir() if p.is_symlink()] if folder.is_dir() else []


def _spec(**source) -> DatasetSpec:
    spec = small_spec_dict()
    spec["source"].update({"min_rows": 1, **source})
    return DatasetSpec.model_validate(spec)


def test_latest_landing_file_never_picks_a_symlink(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "real.csv").write_text("a\n")
    target, _ = _outside_target(tmp_path, "a")
    (landing / "zz_newer.csv").symlink_to(target)
    assert ingest.latest_landing_file(landing, "*.csv") == landing / "real.csv"
    assert ingest.landing_symlinks(landing, "*.csv") == [landing / "zz_newer.csv"]


def test_quarantine_moves_the_link_not_its_target(tmp_path):
    landing, quarantine_dir = tmp_path / "landing", tmp_path / "quarantine"
    landing.mkdir()
    target, before = _outside_target(tmp_path, "a")
    (landing / "link.csv").symlink_to(target)
    notes = ingest.quarantine_symlinks(landing, "*.csv", quarantine_dir)
    assert len(notes) == 1 and "symbolic link" in notes[0]
    assert not (landing / "link.csv").is_symlink()
    assert [p.readlink() for p in _links_in(quarantine_dir)] == [target]
    assert target.read_bytes() == before


def test_explicit_landing_file_naming_a_link_is_refused(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "inner.csv").write_text("a\n")
    (landing / "link.csv").symlink_to(landing / "inner.csv")  # even a link pointing inside
    with pytest.raises(ingest.LandingSymlinkError, match="symbolic link"):
        ingest.resolve_landing_file("link.csv", landing, "*.csv")
    with pytest.raises(ingest.LandingSymlinkError, match="symbolic link"):
        ingest.read_landing_file(landing / "link.csv", _spec())


def test_raw_step_with_empty_landing_file_quarantines_the_link_and_ingests_the_real_file(tmp_path):
    project = make_project(tmp_path, rows=3000, approve=False)
    header = ",".join(pd.read_csv(next(project.landing.glob("*.csv")), nrows=0).columns)
    target, before = _outside_target(tmp_path, header)
    (project.landing / "zz_newest.csv").symlink_to(target)
    job = project.definitions().resolve_job_def(chain_job_name(DATASET))
    config = {"ops": {f"{DATASET}__raw": {"config": {"landing_file": ""}}}}
    result = job.execute_in_process(
        run_config=config,
        instance=project.instance,
        asset_selection=[dg.AssetKey([DATASET, "raw"])],
        raise_on_error=False,
    )
    assert result.success
    assert target.read_bytes() == before
    assert not (project.landing / "zz_newest.csv").is_symlink()
    assert [p.readlink() for p in _links_in(project.quarantine)] == [target]
    raw = project.query(f"SELECT * FROM raw.{DATASET}")
    assert len(raw) == 3000 and not raw.astype(str).apply(lambda c: c.str.contains(SECRET)).any().any()

    (project.landing / "link.csv").symlink_to(target)  # named explicitly: refused, link quarantined
    config = {"ops": {f"{DATASET}__raw": {"config": {"landing_file": "link.csv"}}}}
    refused = job.execute_in_process(
        run_config=config,
        instance=project.instance,
        asset_selection=[dg.AssetKey([DATASET, "raw"])],
        raise_on_error=False,
    )
    assert not refused.success
    failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
    assert "symbolic link" in failure.event_specific_data.error.message
    assert SECRET not in failure.event_specific_data.error.message
    assert len(_links_in(project.quarantine)) == 2 and target.read_bytes() == before


def test_sensor_skips_a_link_with_a_reason_and_keeps_working(defs_and_landing, tmp_path):  # noqa: F811
    defs, landing, settings = defs_and_landing
    target, before = _outside_target(tmp_path, HEADER)
    (landing / "link.csv").symlink_to(target)
    first = _tick(defs, f"{DATASET}_landing_sensor")  # must not raise
    assert not first.run_requests and "symbolic link" in first.skip_message
    assert not (landing / "link.csv").is_symlink() and target.read_bytes() == before
    assert [p.readlink() for p in _links_in(settings.root / "data" / "quarantine" / DATASET)] == [target]

    (landing / "real.csv").write_text(f"{HEADER}\n")
    (landing / "link2.csv").symlink_to(target)
    second = _tick(defs, f"{DATASET}_landing_sensor", first.cursor)
    third = _tick(defs, f"{DATASET}_landing_sensor", second.cursor)
    assert [r.tags["synth/source_file"] for r in third.run_requests] == ["real.csv"]
    assert target.read_bytes() == before


def test_a_zstd_parquet_bomb_is_refused_from_its_footer_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "bomb.parquet"
    rows = 3_000_000
    pq.write_table(
        pa.table({"customer_id": pa.array(np.zeros(rows, dtype=np.int64))}), path, compression="zstd"
    )
    assert path.stat().st_size < 200_000  # small on disk

    def _no_read(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(pd, "read_parquet", _no_read)
    with pytest.raises(ingest.TooLargeError, match=r"source\.max_rows 1000000") as error:
        ingest.read_landing_file(path, _spec(format="parquet", max_rows=1_000_000))
    assert "synth_platform/defs/datasets/people/defs.yaml" in str(error.value)
    with pytest.raises(
        ingest.TooLargeError,
        match=r"24000000 bytes once decompressed.*source\.max_uncompressed_bytes 1000000",
    ):
        ingest.read_landing_file(path, _spec(format="parquet", max_uncompressed_bytes=1_000_000))


def test_a_csv_over_max_rows_is_refused_without_quoting_a_cell(tmp_path):
    header = "customer_id,full_name,email,zip_code,date_of_birth,age,sex,income"
    row = f"C-1,{SECRET},ann@example.com,02139,1980-05-01,45,Female,>50K"
    path = tmp_path / "people.csv"
    path.write_text("\n".join([header] + [row] * 6) + "\n")
    with pytest.raises(ingest.TooLargeError, match=r"more than 5 data rows.*source\.max_rows 5") as error:
        ingest.read_landing_file(path, _spec(max_rows=5))
    assert SECRET not in str(error.value)
    assert len(ingest.read_landing_file(path, _spec(max_rows=6))) == 6


def test_a_file_over_max_bytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("x" * 2000)
    with pytest.raises(ingest.TooLargeError, match=r"2000 bytes on disk.*source\.max_bytes 1000"):
        ingest.read_landing_file(path, _spec(max_bytes=1000))
