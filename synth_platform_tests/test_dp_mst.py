"""dp_mst: the differentially private MST synthesizer, on generated tables unlike the demo.

One model is fitted per module (jax compiles on each fit, which is the slow part); the tests read
what a user would check: correlations survive sampling, declared domains hold, a value held by one
person is not released, a seed reproduces a sample, and the privacy spend adds up.
"""

from __future__ import annotations

from pathlib import Path

import cloudpickle
import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify.masking import apply_masking, plan_masking
from synth_platform.lib.gate.marginal_tvd import all_pairs_tvd, independent_baseline
from synth_platform.lib.spec import DatasetSpec, SynthesizerSpec
from synth_platform.lib.synthesize import dp_domain, dp_mst, synthesis
from synth_platform.lib.synthesize.accounting import epsilon_from_rho, rho_from_epsilon_delta
from synth_platform.lib.synthesize.dp_domain import OTHER_LABEL
from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer

ROWS = 6000
ONCE = "only-one-person-has-this"


def _table(rows: int = ROWS, seed: int = 3) -> pd.DataFrame:
    """Sensor-like readings: a site, a temperature tied to it, a status tied to the temperature."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2])
    base = pd.Series(site).map({"north": 5.0, "south": 25.0, "east": 15.0}).to_numpy()
    temperature = np.clip(base + rng.normal(0, 2.5, rows), -20, 45).round().astype(int)
    status = np.where(temperature > 20, "hot", np.where(temperature < 8, "cold", "ok"))
    reading = np.round(temperature * 1.5 + rng.normal(0, 1.0, rows), 2)
    frame = pd.DataFrame(
        {
            "0-5km": site,  # odd names: a leading digit and a dash ...
            'sensor "temp" °C': temperature,  # ... embedded quotes, spaces, non-ASCII
            "order": status,  # a SQL keyword
            "reading kWh": reading,
        }
    )
    frame["0-5km"] = frame["0-5km"].astype(object)
    frame.loc[rng.choice(rows, min(40, rows // 4), replace=False), "order"] = None
    frame.loc[7, "0-5km"] = ONCE
    return frame


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def fitted(table) -> DPMSTSynthesizer:
    domains = {'sensor "temp" °C': {"bounds": (-20, 45)}, "order": {"categories": ["cold", "ok", "hot"]}}
    return DPMSTSynthesizer(epsilon=2.0, delta=1e-9, bins=16, iters=60, domains=domains).fit({"data": table})


@pytest.fixture(scope="module")
def sample(fitted) -> pd.DataFrame:
    return fitted.sample(ROWS, seed=5)


def test_correlations_survive_sampling(table, sample):
    """mbi 1.1's default rounding sampler breaks correlations: the pairs would look independent."""
    tvd = all_pairs_tvd(table, sample)
    baseline = all_pairs_tvd(table, independent_baseline(table))
    assert baseline > 0.2, "the generated table must be strongly correlated for this test to mean anything"
    assert tvd < 0.4 * baseline, f"all-pairs TVD {tvd:.3f} is not well below the independent {baseline:.3f}"


def test_samples_respect_declared_domains_and_types(sample):
    temperature = sample['sensor "temp" °C'].dropna()
    assert str(sample['sensor "temp" °C'].dtype) == "Int64"
    assert temperature.between(-20, 45).all()
    assert set(sample["order"].dropna()) <= {"cold", "ok", "hot"}, "a declared list is the whole domain"
    assert sample["reading kWh"].dtype == np.float64
    assert list(sample.columns) == list(_table(10).columns)


def test_a_category_seen_once_is_not_released(fitted, sample):
    released = fitted.encodings["0-5km"].labels
    assert ONCE not in released
    assert set(released) == {"north", "south", "east"}
    assert ONCE not in set(sample["0-5km"].dropna())
    assert set(sample["0-5km"].dropna()) <= {"north", "south", "east", OTHER_LABEL}


def test_same_seed_same_sample(fitted, sample):
    pd.testing.assert_frame_equal(fitted.sample(ROWS, seed=5), sample)
    assert not fitted.sample(200, seed=6).equals(sample.head(200))


def test_rho_bookkeeping_adds_up(fitted):
    spend = fitted.privacy_spend()
    assert sum(spend["rho_parts"].values()) == pytest.approx(spend["rho"], rel=1e-12)
    # one categorical list was thresholded, so delta is split between conversion and threshold
    assert spend["delta_conversion"] + spend["delta_threshold"] == pytest.approx(1e-9)
    assert spend["delta_threshold"] > 0
    assert spend["rho"] == pytest.approx(rho_from_epsilon_delta(2.0, spend["delta_conversion"]))
    assert epsilon_from_rho(spend["rho"], spend["delta_conversion"]) <= 2.0 + 1e-9
    one, select, two = (spend["rho_parts"][k] for k in ("one_way", "select", "two_way"))
    assert one == pytest.approx(select) == pytest.approx(two)


def test_saved_model_holds_no_jax_arrays_and_samples_after_loading(fitted, tmp_path):
    path = tmp_path / "model.pkl"
    fitted.save(str(path))
    with open(path, "rb") as handle:
        loaded = cloudpickle.load(handle)
    assert "jax" not in path.read_bytes().decode("latin-1")
    pd.testing.assert_frame_equal(loaded.sample(300, seed=1), fitted.sample(300, seed=1))


def test_fit_through_sql_on_a_read_only_warehouse(tmp_path):
    """The warehouse path: GROUP BY in DuckDB over masked."<ds>_train", a read-only connection,
    only the model columns, all domains chosen under DP (nothing declared), delta all to conversion
    when nothing is thresholded."""
    rng = np.random.default_rng(9)
    rows = 4000
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    amount = np.where(rng.random(rows) < 0.6, 0, rng.integers(100, 5000, rows))
    frame = pd.DataFrame(
        {
            "booked on": days,
            "amount": amount,
            "paid": amount > 0,
            "secret_id": [f"id-{i}" for i in range(rows)],
        }
    )
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA masked")
        con.register("frame", frame)
        con.execute('CREATE TABLE masked."shop_train" AS SELECT * FROM frame')
    spec = DatasetSpec(
        name="shop",
        source={"landing_dir": "x"},
        columns={
            "booked on": {"type": "date"},
            "amount": {"type": "integer"},
            "paid": {"type": "boolean"},
            "secret_id": {"type": "string", "mask": "drop"},
        },
        synthesizer={"kind": "dp_mst", "params": {"epsilon": 3.0, "iters": 60}},
    )
    plan = plan_masking(spec, {})
    with duckdb.connect(str(path), read_only=True) as con:
        fitted = synthesis.fit_dp_from_warehouse(con, spec, plan)
    assert fitted.columns == ["booked on", "amount", "paid"] and fitted.train_rows == rows
    assert fitted.noisy_total == fitted.synth.noisy_total and fitted.noisy_total >= 1
    spend = fitted.synth.privacy_spend()
    assert spend["delta_threshold"] == 0 and spend["delta_conversion"] == pytest.approx(1e-9)
    assert spend["rho_parts"]["domain"] > 0
    out = fitted.synth.sample(3000, seed=2)
    assert "secret_id" not in out.columns
    booked = out["booked on"].dropna()
    assert booked.min() >= pd.Timestamp("2019-01-01") and booked.max() <= pd.Timestamp("2022-06-01")
    assert abs((out["amount"] == 0).mean() - 0.6) < 0.1, "the point mass at zero is kept"
    agree = (out["paid"] == (out["amount"] > 0)).mean()
    assert agree > 0.9, "a boolean tied to an amount stays tied to it"


def test_spec_validates_dp_mst_params_and_domains():
    with pytest.raises(ValueError, match="epsilon"):
        SynthesizerSpec(kind="dp_mst", params={"epsilon": -1})
    with pytest.raises(ValueError, match="unknown dp_mst parameter"):
        SynthesizerSpec(kind="dp_mst", params={"epsilonn": 1})
    with pytest.raises(ValueError, match="bins"):
        SynthesizerSpec(kind="dp_mst", params={"bins": 1})
    assert SynthesizerSpec(kind="dp_mst", params={"epsilon": 1.0, "delta": 1e-9, "bins": 32}).kind == "dp_mst"
    base = {"name": "t", "source": {"landing_dir": "x"}}
    with pytest.raises(ValueError, match="low < high"):
        DatasetSpec(**base, columns={"a": {"type": "integer", "bounds": [5, 1]}})
    with pytest.raises(ValueError, match="bounds are for integer or float"):
        DatasetSpec(**base, columns={"a": {"type": "category", "bounds": [0, 1]}})
    with pytest.raises(ValueError, match="distinct"):
        DatasetSpec(**base, columns={"a": {"type": "category", "categories": ["x", "x"]}})


def test_masking_does_no_data_dependent_suppression_for_dp_mst():
    frame = pd.DataFrame({"kind": ["a"] * 50 + ["rare"], "value": [*range(50), 10_000]})
    columns = {"kind": {"type": "category"}, "value": {"type": "integer", "bounds": [0, 1000]}}
    base = {"name": "t", "source": {"landing_dir": "x"}, "columns": columns}
    private = DatasetSpec(**base, synthesizer={"kind": "dp_mst"})
    masked, report = apply_masking(frame, plan_masking(private, {}), private, b"k")
    assert "rare" in set(masked["kind"]), "rare values are left to the DP domain compression"
    assert masked["value"].max() == 1000 and masked["value"].iloc[:50].tolist() == list(range(50))
    assert report.outliers_clipped["value"] == 1
    plain = DatasetSpec(**base, synthesizer={"kind": "gaussian_copula"}, privacy={"epsilon_budget": None})
    masked, _ = apply_masking(frame, plan_masking(plain, {}), plain, b"k")
    assert "rare" not in set(masked["kind"])


def test_noise_is_not_seeded(monkeypatch):
    """DP noise must not be reproducible from the (public) seed or numpy's global state."""
    monkeypatch.delenv(dp_mst.TEST_NOISE_SEED_ENV, raising=False)
    np.random.seed(0)
    first, source = dp_mst._noise_rng()
    np.random.seed(0)
    assert not np.allclose(first.normal(size=4), dp_mst._noise_rng()[0].normal(size=4))
    assert source == dp_mst.ENTROPY_NOISE


def test_declared_domains_are_mapped_into_model_space():
    """Declared domains follow the masking plan: bins floor bounds, a ZIP3 column's domain is every
    prefix (public by construction, so no ZIP3 is thresholded away), dates generalised to a year
    keep their bounds; and the ZIP3 codes are computed in SQL."""
    import datetime

    spec = DatasetSpec(
        name="t",
        source={"landing_dir": "x"},
        columns={
            "postcode": {"type": "string", "generalize": "zip3"},
            "born": {"type": "date", "generalize": "year", "bounds": ["1935-01-01", "2009-12-31"]},
            "income": {"type": "integer", "generalize": "bin:1000", "bounds": [500, 99_999]},
            "tier": {"type": "category", "categories": ["a", "b"]},
        },
        synthesizer={"kind": "dp_mst"},
    )
    domains = dp_mst.declared_domains(spec, plan_masking(spec, {}))
    assert domains["income"] == {"bounds": (0, 99_000)}
    assert domains["tier"] == {"categories": ["a", "b"]}
    assert len(domains["postcode"]["categories"]) == 1000
    assert domains["born"]["date_bounds"] == (datetime.date(1935, 1, 1), datetime.date(2009, 12, 31))
    info = dp_domain.column_info_from_type("born", "BIGINT", domains["born"])
    assert info.bounds == (1935.0, 2009.0)
    zip_info = dp_domain.column_info_from_type("postcode", "VARCHAR", domains["postcode"])
    encoding = dp_domain.CategoricalEncoding(zip_info, list(zip_info.categories))
    with duckdb.connect() as con:
        con.register("postcodes", pd.DataFrame({"postcode": ["021", "999", None, "AB1"]}))
        codes = con.execute(f"SELECT {encoding.code_sql()} AS c FROM postcodes").fetchnumpy()["c"].tolist()
    assert codes == [21, 999, encoding.null_code, encoding.null_code]


# ---------------------------------------------------------------- the sample size is a DP quantity

_CATEGORIES = {"colour": ["red", "green", "blue"], "size": ["s", "m", "l", "xl"], "member": ["yes", "no"]}


def _categorical_table(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.choice(values, rows) for c, values in _CATEGORIES.items()})


def _fit_with_noise(frame: pd.DataFrame, noise_seed: int | None, monkeypatch) -> DPMSTSynthesizer:
    """A fit whose DP noise comes from `noise_seed` (the test-only seed; None: fresh OS entropy)."""
    if noise_seed is None:
        monkeypatch.delenv(dp_mst.TEST_NOISE_SEED_ENV, raising=False)
    else:
        monkeypatch.setenv(dp_mst.TEST_NOISE_SEED_ENV, str(noise_seed))
    domains = {c: {"categories": values} for c, values in _CATEGORIES.items()}  # no DP domain choice
    return DPMSTSynthesizer(epsilon=1.0, delta=1e-9, iters=10, domains=domains).fit(frame)


def _rows_released(synth: DPMSTSynthesizer, n: int) -> int:
    model = synthesis.FittedModel(
        Path("m.pkl"), "", "dp_mst", {}, 0.0, n, list(_CATEGORIES), "", noisy_total=synth.noisy_total
    )
    return synthesis.release_rows(model, None)


def test_the_released_row_count_is_the_noisy_total_not_the_training_count(monkeypatch):
    """Neighbouring training tables (one row removed) under the same noise give noisy totals exactly
    one apart -- a sensitivity-1 count with Gaussian noise -- and the released row count is that noisy
    total, rounded; it is not the exact training count."""
    table = _categorical_table()
    neighbour = table.drop(index=123).reset_index(drop=True)
    shifts, off_by = [], []
    for noise_seed in (1, 2, 3):
        full = _fit_with_noise(table, noise_seed, monkeypatch)
        less = _fit_with_noise(neighbour, noise_seed, monkeypatch)
        assert full.noisy_total - less.noisy_total == pytest.approx(1.0, abs=1e-6)
        released, released_less = _rows_released(full, len(table)), _rows_released(less, len(neighbour))
        assert released - released_less in (0, 1)
        assert released == max(1, round(full.noisy_total))
        shifts.append(released - len(table))
        off_by.append(abs(full.noisy_total - len(table)))
    assert any(shift != 0 for shift in shifts), "the released count must not be the exact training count"
    assert max(off_by) < 1000, "the noise is that of a count at epsilon 1, not more"


def test_the_noisy_total_travels_with_the_model_and_sizes_the_sample(tmp_path):
    table = _categorical_table(rows=800, seed=2)
    domains = {c: {"categories": values} for c, values in _CATEGORIES.items()}
    synth = DPMSTSynthesizer(epsilon=1.0, delta=1e-9, iters=10, domains=domains)
    fitted = synthesis.fit_frame(table, "dp_mst", {}, 0, synthesizer=synth)
    assert fitted.noisy_total == synth.noisy_total and fitted.noisy_total is not None
    model = synthesis.save_and_promote(fitted, tmp_path, "k" * 64, charged_by=1, provenance={})
    current = synthesis.current_model(tmp_path, "k" * 64)
    assert current.noisy_total == pytest.approx(synth.noisy_total) == model.noisy_total
    rows = synthesis.release_rows(current, None, "k" * 64)
    assert rows == max(1, round(synth.noisy_total))
    assert synthesis.release_rows(current, 250, "k" * 64) == 250, "a declared sample.rows is used as is"
    assert len(synthesis.load_and_sample(current, rows, seed=1, key="k" * 64)) == rows


# ---------------------------------------------------------------- seeded noise is for tests only


def _sample_of(synth: DPMSTSynthesizer) -> pd.DataFrame:
    return synth.sample(300, seed=5)


def test_the_test_seed_makes_two_fits_identical_and_says_so(monkeypatch, tmp_path):
    """Under pytest with SYNTH_TEST_NOISE_SEED, two fits on the same data measure the same noisy
    marginals (same noisy total, same model, same seeded sample), and the model says its noise was
    seeded and is not private; without the seed two fits differ and the noise is OS entropy."""
    table = _categorical_table(rows=600, seed=4)
    first, second = (_fit_with_noise(table, 7, monkeypatch) for _ in range(2))
    assert first.noisy_total == second.noisy_total
    marginals = first._model["marginals"], second._model["marginals"]
    assert list(marginals[0]) == list(marginals[1])  # the same tree
    for clique, values in marginals[0].items():
        assert np.array_equal(values, marginals[1][clique])
    pd.testing.assert_frame_equal(_sample_of(first), _sample_of(second))
    # the stored bytes too (the wall-clock fit time is not pickled): the model's SHA-256 keys the
    # gate's noise, so the same seeded fit gives the same gate figures on every test run
    files = [tmp_path / f"model_{i}.pkl" for i in (1, 2)]
    for fit, path in zip((first, second), files, strict=True):
        fit.save(str(path))
    assert files[0].read_bytes() == files[1].read_bytes()
    for fit in (first, second):
        assert "seeded test noise" in fit.noise_source and "not private" in fit.noise_source
        assert fit.privacy_spend()["noise"] == fit.noise_source

    fresh = [_fit_with_noise(table, None, monkeypatch) for _ in range(2)]
    assert fresh[0].noisy_total != fresh[1].noisy_total
    assert not _sample_of(fresh[0]).equals(_sample_of(fresh[1]))
    assert [f.privacy_spend()["noise"] for f in fresh] == [dp_mst.ENTROPY_NOISE] * 2


def test_outside_pytest_the_seed_is_never_read(monkeypatch):
    """A deployment with a stray SYNTH_TEST_NOISE_SEED (here not even a number, so any read of it
    would raise) but without pytest's own PYTEST_CURRENT_TEST draws OS entropy; under pytest the
    same malformed seed is refused loudly, and the epsilon audit's fits ignore a valid one."""
    table = _categorical_table(rows=600, seed=4)
    domains = {c: {"categories": values} for c, values in _CATEGORIES.items()}
    monkeypatch.setenv(dp_mst.TEST_NOISE_SEED_ENV, "not-a-number")
    with pytest.raises(ValueError):
        DPMSTSynthesizer(iters=10, domains=domains).fit(table)

    monkeypatch.delenv(dp_mst.TEST_GUARD_ENV)  # what a production process looks like
    fits = [DPMSTSynthesizer(iters=10, domains=domains).fit(table) for _ in range(2)]
    assert fits[0].noisy_total != fits[1].noisy_total
    assert [f.noise_source for f in fits] == [dp_mst.ENTROPY_NOISE] * 2

    monkeypatch.setenv(dp_mst.TEST_GUARD_ENV, "under test")
    monkeypatch.setenv(dp_mst.TEST_NOISE_SEED_ENV, "7")
    audit = [DPMSTSynthesizer(iters=10, domains=domains, fresh_noise=True).fit(table) for _ in range(2)]
    assert audit[0].noisy_total != audit[1].noisy_total
    assert [f.noise_source for f in audit] == [dp_mst.ENTROPY_NOISE] * 2
