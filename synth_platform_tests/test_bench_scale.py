"""The scale bench's own parts, small and fast: the streamed landing file, the growth fit, the table.

The bench itself (real Dagster runs at 50k-10M rows) is `make bench`; nothing here times anything.
"""

from __future__ import annotations

import math
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest

from synth_platform.bench import data as bench_data
from synth_platform.bench import scale as bench_scale
from synth_platform.lib.dataset_instances import read_spec_dict
from synth_platform.lib.demo_data import IDENTIFIER_COLUMNS, load_adult
from synth_platform.settings import DATASETS_DIR


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> pd.DataFrame:
    """3,000 rows written in chunks of 700 (five chunks, the last one short)."""
    folder = tmp_path_factory.mktemp("landing")
    path = bench_data.landing_path(3000, 11, folder)
    chunks = list(bench_data.generate_chunks(3000, seed=11, chunk_rows=700))
    assert [len(c) for c in chunks] == [700, 700, 700, 700, 200]
    with path.open("w", newline="") as out:
        for index, chunk in enumerate(chunks):
            chunk.to_csv(out, index=False, header=index == 0)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_streamed_file_has_the_demo_shape_and_file_wide_unique_identifiers(landing):
    assert list(landing.columns) == IDENTIFIER_COLUMNS + list(load_adult(rows=5).columns)
    assert len(landing) == 3000
    # unique over the whole file, not only within a chunk
    assert landing["customer_id"].is_unique and landing["ssn"].is_unique and landing["email"].is_unique
    assert set(landing["customer_id"]) == {f"CUST-{i:07d}" for i in range(1, 3001)}
    assert landing["ssn"].str.fullmatch(r"\d{3}-\d{2}-\d{4}").all()
    area = landing["ssn"].str[:3].astype(int)
    assert area.between(1, 899).all() and not (area == 666).any()
    assert landing["zip_code"].str.fullmatch(r"\d{5}").all()


def test_emails_are_derived_from_the_row_full_name(landing):
    local = landing["email"].str.split("@").str[0].str.replace(r"\d+$", "", regex=True)
    from_name = landing["full_name"].str.replace(" ", ".", n=1).str.lower().str.replace("'", "")
    assert (local == from_name).all()


def test_dates_of_birth_agree_with_age(landing):
    born = pd.to_datetime(landing["date_of_birth"])
    as_of = pd.Timestamp(bench_data.AS_OF)
    years = (
        as_of.year
        - born.dt.year
        - (
            (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
        ).astype(int)
    )
    assert (years == landing["age"].astype(int)).all()


def test_same_seed_same_bytes_and_reuse_of_the_cached_file(tmp_path):
    first = bench_data.write_landing_file(1500, seed=3, dest_dir=tmp_path / "a")
    second = bench_data.write_landing_file(1500, seed=3, dest_dir=tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert stat.S_IMODE(first.stat().st_mode) == 0o600  # it plays the part of real customer data
    assert not list((tmp_path / "a").glob(".*partial"))
    mtime = first.stat().st_mtime_ns
    assert bench_data.write_landing_file(1500, seed=3, dest_dir=tmp_path / "a") == first
    assert first.stat().st_mtime_ns == mtime  # cached, not rebuilt


def test_email_suffixes_number_every_repeated_local_part_in_row_order():
    codes = np.array([5, 3, 5, 7, 5, 3])
    assert bench_data.email_suffixes(codes).tolist() == [0, 0, 1, -1, 2, 1]


def test_ssns_are_distinct_and_the_index_mapping_covers_the_valid_space():
    numbers = bench_data.unique_ssn_numbers(np.random.default_rng(0), 200_000)
    assert len(np.unique(numbers)) == 200_000
    last = bench_data._SSN_SPACE - 1
    assert bench_data.format_ssns(np.array([0, last])) == ["001-01-0001", "899-99-9999"]
    around_666 = bench_data.format_ssns(np.array([664 * 99 * 9999, 665 * 99 * 9999]))
    assert around_666 == ["665-01-0001", "667-01-0001"]


@pytest.mark.parametrize("exponent", [0.0, 1.0, 1.5, 2.0])
def test_growth_exponent_recovers_a_power_law(exponent):
    sizes = [50_000, 1_000_000, 10_000_000]
    assert bench_scale.growth_exponent(sizes, [3 * n**exponent for n in sizes]) == pytest.approx(exponent)


def test_growth_exponent_needs_two_sizes_and_survives_a_zero_time():
    assert bench_scale.growth_exponent([1000], [2.0]) is None
    assert bench_scale.growth_exponent([1000, 1000], [2.0, 3.0]) is None
    assert math.isfinite(bench_scale.growth_exponent([1000, 10_000], [0.0, 1.0]))


def test_overhead_ratio():
    assert bench_scale.overhead_ratio(10.0, 3.0, 1.0) == pytest.approx(1.5)
    assert bench_scale.overhead_ratio(5.0, 0.0, 0.0) is None


def test_outside_steps_is_the_run_minus_its_steps():
    stages = {"raw": {"seconds": 1.25}, "dbt": {"seconds": 6.5}}
    assert bench_scale.outside_steps(10.0, stages) == pytest.approx(2.2, abs=0.05)
    assert bench_scale.outside_steps(None, stages) is None  # killed: no run total to compare
    assert bench_scale.outside_steps(10.0, {}) is None


def test_cpu_between_reads_the_samples_around_a_stage():
    samples = [(100.0, 1.0), (100.1, 1.05), (100.2, 1.15), (100.3, 1.3)]
    assert bench_scale.cpu_between(samples, 100.05, 100.25) == pytest.approx(0.25)
    assert bench_scale.cpu_between(samples, 100.1, 100.2) == pytest.approx(0.1)
    assert bench_scale.cpu_between(samples, 99.0, 100.0) == pytest.approx(0.0)
    assert bench_scale.cpu_between(samples, 100.1, 101.0) is None  # ended after the last sample


def test_stage_names_drop_the_dataset_prefix():
    assert bench_scale.stage_name("adult_customers__release_gate") == "release_gate"
    assert bench_scale.stage_name("analytics_dbt_assets") == "dbt"
    # No freshness-check step any more (a release's freshness is its FreshnessPolicy): any other
    # step keeps its own name, so the bench never reports a stage the run did not have.
    assert bench_scale.stage_name("other_datasets__raw") == "other_datasets__raw"


def _result(rows, stages, **extra):
    return {
        "rows": rows,
        "stages": {
            name: {"start": start, "seconds": s, "status": "SUCCESS"} for name, (start, s) in stages.items()
        },
        **extra,
    }


def test_table_lists_stages_in_run_order_with_exponents_and_gaps():
    results = [
        _result(
            1000,
            {"raw": (1, 1.0), "synthesizer": (2, 4.0)},
            run_seconds=10.0,
            overhead_ratio=1.5,
            outcome="success",
        ),
        _result(100_000, {"raw": (1, 100.0)}, run_seconds=None, outcome="killed:RSS 15.0 GB"),
    ]
    table = bench_scale.format_table(results)
    lines = {line.split()[0]: line for line in table.splitlines()}
    assert table.splitlines()[1].startswith("raw") and table.splitlines()[2].startswith("synthesizer")
    assert re.search(r"raw\s+1\.0\s+100\.0\s+1\.00$", lines["raw"])  # exponent: 100x rows, 100x seconds
    assert re.search(r"synthesizer\s+4\.0\s+-\s+-$", lines["synthesizer"])
    assert "1.50" in lines["governance"] and "killed:RSS" in lines["outcome"]


def _repeat(run, fit, sample, raw_seconds, outcome="success"):
    ratio = bench_scale.overhead_ratio(run, fit, sample) if outcome == "success" else None
    return _result(
        50_000,
        {"raw": (1, raw_seconds)},
        run_seconds=run,
        bare_fit_seconds=fit,
        bare_sample_seconds=sample,
        overhead_ratio=ratio,
        outcome=outcome,
    )


def test_repeats_give_the_median_run_and_bare_mechanism_and_the_spread_of_ratios():
    """`--repeat`: a noisy bare fit no longer decides the ratio alone; the stages are one real run's."""
    repeats = [
        _repeat(24.0, 9.3, 0.1, 0.6),  # a slow bare fit: alone it gives 1.55
        _repeat(26.0, 8.0, 0.1, 0.9),
        _repeat(25.0, 8.1, 0.1, 0.7),
        _repeat(99.0, 8.0, 0.1, 9.9, outcome="failed"),  # a failed run is left out of the medians
    ]
    combined = bench_scale.combine_repeats(repeats)
    assert combined["run_seconds"] == 25.0 and combined["stages"]["raw"]["seconds"] == 0.7  # that run's
    assert (combined["bare_fit_seconds"], combined["bare_sample_seconds"]) == (8.1, 0.1)
    assert combined["overhead_ratio"] == pytest.approx((25.0 - 8.2) / 8.2)
    low, high = combined["overhead_ratio_range"]
    assert low == pytest.approx((24.0 - 9.4) / 9.4) and high == pytest.approx((26.0 - 8.1) / 8.1)
    assert [r["run_seconds"] for r in combined["repeats"]] == [24.0, 26.0, 25.0, 99.0]
    table = bench_scale.format_table([combined])
    spread = next(line for line in table.splitlines() if "lowest-highest of 4 repeats" in line)
    assert spread.endswith(f" {low:.2f}-{high:.2f}")
    assert bench_scale.combine_repeats(repeats[:1]) is repeats[0]  # measured once: as it was
    assert "lowest-highest" not in bench_scale.format_table([repeats[0]])


def test_columns_table_prints_the_exponent_in_columns():
    results = [{"columns": c, "synthesizer": c**2 / 10, "release_gate": c * 1.0} for c in (10, 20, 40)]
    table = bench_scale.format_columns_table(results)
    assert re.search(r"synthesizer\s+10\.0\s+40\.0\s+160\.0\s+2\.00$", table, flags=re.MULTILINE)
    assert re.search(r"release_gate\s+10\.0\s+20\.0\s+40\.0\s+1\.00$", table, flags=re.MULTILINE)


@pytest.mark.parametrize("count", [10, 20, 40])
def test_widen_spec_gives_the_asked_model_columns_and_keeps_identifiers(landing, count):
    spec = read_spec_dict(DATASETS_DIR / "adult_customers")
    widened, frame = bench_scale.widen_spec(spec, landing, count)
    identifiers = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]
    assert len([c for c in widened["columns"] if c not in identifiers]) == count
    assert set(identifiers) <= set(widened["columns"])
    assert "income" in widened["columns"]  # the spec's utility target stays declared
    assert list(frame.columns) == list(widened["columns"])
    for name in widened["columns"]:
        if re.search(r"_d\d+$", name):
            base = re.sub(r"_d\d+$", "", name)
            assert "pii" not in widened["columns"][name]
            assert sorted(frame[name]) == sorted(frame[base]) and not frame[name].equals(frame[base])


def test_project_is_isolated_with_its_own_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_TEST_NOISE_SEED", "19")
    source = tmp_path / "customers.csv"
    source.write_text("customer_id\nCUST-1\n")
    env, placed = bench_scale.make_project(tmp_path / "p", source)
    assert env["DAGSTER_HOME"] == str(tmp_path / "p" / "dagster_home")
    assert (tmp_path / "p" / "dagster_home" / "dagster.yaml").is_file()
    assert "SYNTH_TEST_NOISE_SEED" not in env  # real DP noise in the bench
    key = tmp_path / "p" / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text()) == 64
    assert placed.read_text() == source.read_text()
    assert placed.parent == tmp_path / "p" / "project" / "data" / "landing" / "adult_customers"
    assert (
        placed.parent.parent.parent.parent / "datasets" / "adult_customers" / "masking_plan.yaml"
    ).is_file()


def test_process_tree_rss_counts_this_process():
    assert bench_scale._tree_rss_bytes(os.getpid()) > 10 * 1024**2


def test_outputs_are_written(tmp_path):
    results = [
        _result(1000, {"raw": (1, 1.0)}, run_seconds=3.0, bare_fit_seconds=1.0, outcome="success"),
        _result(10_000, {"raw": (1, 8.0)}, run_seconds=20.0, bare_fit_seconds=4.0, outcome="success"),
    ]
    bench_scale.write_outputs(results, [], out_dir=tmp_path)
    payload = __import__("json").loads((tmp_path / "scale.json").read_text())
    assert payload["exponents_in_rows"]["raw"] == pytest.approx(math.log10(8))
    assert (tmp_path / "scale.png").read_bytes()[:4] == b"\x89PNG"
    assert "raw" in (tmp_path / "scale.csv").read_text()
