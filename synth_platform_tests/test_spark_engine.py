"""The warehouse SQL on a distributed engine: Spark (pyspark, local mode) counts what DuckDB counts.

When one machine is not enough, a team runs the chain's set-based SQL on Spark instead of DuckDB.
These tests load one table, unlike the demo (unicode and odd column names, NULLs, NaN and
infinities, empty strings, a quote and a backslash in values, values outside declared bounds and
lists, dates and timestamps with microseconds), identically into DuckDB and into Spark (DuckDB
writes Parquet, Spark reads it, as a lakehouse would), and check what a user relies on:

- dp_mst's counting: every query `fit_relation` runs on DuckDB is the DuckDB rendering of
  `lib.synthesize.dp_counting_sql`, and the Spark rendering of the same queries returns the same rows, to the
  last count, so a fit's noisy measurements would be the same on either engine;
- masking and the split (`deidentify.masking_sql`, `synthesize.split_sql`) rendered with `sql_dialect.SPARK`:
  the same pseudonyms and generalised values, the same rows in train and in holdout.

One local Spark session (two cores, 1 GB driver, no UI, no Hive, no network) serves the module.
"""

from __future__ import annotations

import math
import os
import shutil
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from synth_platform.lib.deidentify import masking_sql
from synth_platform.lib.deidentify.masking import plan_masking
from synth_platform.lib.spec import DatasetSpec
from synth_platform.lib.storage.sql_dialect import DUCKDB, SPARK, bind_duckdb
from synth_platform.lib.synthesize import dp_counting_sql, dp_domain, split_sql
from synth_platform.lib.synthesize.dp_domain import NumericEncoding
from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer

ROWS = 2500
QUIET_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %p %c: %m%n
"""


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """A local Spark session: no cluster, no Hadoop install, no network (loopback only), its
    warehouse, scratch and Derby folders under the test's temporary directory, logs at ERROR."""
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.access(f"{java_home}/bin/java", os.X_OK)):
        pytest.skip("Spark needs a Java runtime (17 or newer): no `java` on PATH or in JAVA_HOME")
    from pyspark.sql import SparkSession

    base = tmp_path_factory.mktemp("spark")
    log4j = base / "log4j2.properties"
    log4j.write_text(QUIET_LOG4J)
    # the quick JIT only: halves the JVM's CPU time on a short run of small queries
    java_options = (
        f"-XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile={log4j} -Dderby.system.home={base / 'derby'}"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # never resolve the host name to a network address
        session = (
            SparkSession.builder.master("local[2]")
            .appName("synth_platform_tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "1g")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.session.timeZone", "UTC")  # timestamps without a zone count as DuckDB's
            .config("spark.sql.warehouse.dir", str(base / "warehouse"))
            .config("spark.local.dir", str(base / "scratch"))
            .config("spark.driver.extraJavaOptions", java_options)
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


# ------------------------------------------------------------------------------------- the table

QUOTED = "O'Brien \\ Straße"  # a quote and a backslash: Spark and DuckDB read literals differently
DECLARED_GRADES = ["A", "B's", "C\\d", "Ünïcode ✓"]


def _table(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    """A lab-visit table: nothing like the demo's census columns."""
    rng = np.random.default_rng(seed)
    city = rng.choice(
        ["Zürich", "Malmö", QUOTED, "", "東京", "rare-a", "rare-b"],
        rows,
        p=[0.3, 0.25, 0.2, 0.1, 0.14, 0.005, 0.005],
    )
    city = city.astype(object)
    city[rng.random(rows) < 0.05] = None
    city[3] = "held-by-one"
    prefix = rng.choice(
        ["802", "007", "999", "12", "1234", "abc", "123\n", "\uff11\uff12\uff13"],
        rows,
        p=[0.4, 0.2, 0.2, 0.05, 0.05, 0.04, 0.03, 0.03],
    ).astype(object)
    prefix[rng.random(rows) < 0.03] = None
    amount = np.round(rng.lognormal(3, 2, rows) * rng.choice([-1, 1], rows, p=[0.1, 0.9]), 3)
    amount[rng.random(rows) < 0.1] = 0.0
    amount[:6] = [np.nan, np.inf, -np.inf, 1024.0, 0.5, -(2.0**20)]  # NaN, infinities, powers of two
    amount_null = rng.random(rows) < 0.05
    amount_null[:6] = False
    age = rng.integers(-5, 131, rows).astype(float)  # beyond the declared (0, 120) on both sides
    age[rng.random(rows) < 0.04] = np.nan
    fasting = pd.array(rng.random(rows) < 0.3, dtype="boolean")
    fasting[rng.random(rows) < 0.1] = pd.NA
    grade = rng.choice([*DECLARED_GRADES, "D (undeclared)"], rows, p=[0.3, 0.2, 0.2, 0.2, 0.1]).astype(object)
    grade[rng.random(rows) < 0.05] = None
    visit = np.array([date(2019, 1, 1) + timedelta(days=int(d)) for d in rng.integers(-400, 2500, rows)])
    visit[rng.random(rows) < 0.03] = None
    taken = [
        datetime(2021, 6, 1) + timedelta(seconds=int(s), microseconds=int(u))
        for s, u in zip(rng.integers(-(10**8), 10**8, rows), rng.integers(0, 10**6, rows), strict=True)
    ]
    patient = rng.choice([f"P-{i:04d}" for i in range(rows // 3)] + ["Jöns ✓", "", "o'neil\\x"], rows).astype(
        object
    )
    patient[rng.random(rows) < 0.04] = None
    frame = pd.DataFrame(
        {
            "visit id": [f"V-{i:06d}" for i in rng.permutation(rows)],
            "patient nr": patient,
            "kontakt": [f"person{i}@example.org" for i in range(rows)],
            "Straße/Ort": city,
            "plz.3": prefix,
            "betrag €": amount,
            'alter "jahre"': age,
            "nüchtern?": fasting,
            "grade": grade,
            "visit_day": visit,
            "taken at": taken,
        }
    )
    frame.loc[amount_null, "betrag €"] = None
    return frame


#: DuckDB types of the table (integers as INTEGER, text as VARCHAR; NaN kept apart from NULL).
TYPES = {
    "visit id": "VARCHAR",
    "patient nr": "VARCHAR",
    "kontakt": "VARCHAR",
    "Straße/Ort": "VARCHAR",
    "plz.3": "VARCHAR",
    "betrag €": "DOUBLE",
    'alter "jahre"': "INTEGER",
    "nüchtern?": "BOOLEAN",
    "grade": "VARCHAR",
    "visit_day": "DATE",
    "taken at": "TIMESTAMP",
}
#: What dp_mst models (identifiers are pseudonymised or dropped before a fit).
MODEL_COLUMNS = [c for c in TYPES if c not in ("visit id", "patient nr", "kontakt")]
DOMAINS = {
    "plz.3": {"categories": list(dp_domain.ZIP3_LABELS)},
    'alter "jahre"': {"bounds": (0, 120)},
    "grade": {"categories": DECLARED_GRADES},
}


@pytest.fixture(scope="module")
def engines(spark, tmp_path_factory):
    """The table in an in-memory DuckDB (`lab`) and as a Spark view (`lab`), from the same Parquet file."""
    frame = _table()
    con = duckdb.connect()
    con.register("frame", frame)
    casts = ", ".join(f"CAST({dp_domain.quote(c)} AS {t}) AS {dp_domain.quote(c)}" for c, t in TYPES.items())
    con.execute(f"CREATE TABLE lab AS SELECT {casts} FROM frame")
    # pandas stores NaN and NULL alike in a float column: put the planted NaN back as a double NaN
    con.execute("""UPDATE lab SET "betrag €" = 'NaN'::DOUBLE WHERE "visit id" = ?""", [frame["visit id"][0]])
    con.unregister("frame")
    path = tmp_path_factory.mktemp("lakehouse") / "lab.parquet"
    con.execute(f"COPY lab TO '{path}' (FORMAT parquet)")
    spark.read.parquet(str(path)).createOrReplaceTempView("lab")
    yield con, spark
    con.close()


def _rows(result_rows) -> list[tuple]:
    """Rows as sorted tuples of plain values (NaN and None made comparable)."""

    def plain(value):
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return sorted((tuple(plain(v) for v in row) for row in result_rows), key=repr)


def _spark_rows(spark, sql: str) -> list[tuple]:
    return _rows(tuple(row) for row in spark.sql(sql).collect())


class _Recording:
    """A DuckDB connection that remembers every SQL text it is asked to run."""

    def __init__(self, con):
        self.con = con
        self.queries: list[str] = []

    def execute(self, sql, *args):
        self.queries.append(sql)
        return self.con.execute(sql, *args)


@pytest.fixture(scope="module")
def fit(engines):
    """dp_mst's fit on DuckDB with every query recorded; the model fitting itself (jax) is replaced
    by keeping the exact marginals it would be given: counting is what this module checks."""
    con, _ = engines
    recording = _Recording(con)
    kept = {}

    def keep_marginals(self, one_way, two_way, rho, rng):
        kept["one_way"], kept["two_way"] = one_way, two_way

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DPMSTSynthesizer, "_fit_mst", keep_marginals)
        model = DPMSTSynthesizer(epsilon=4.0, delta=1e-9, bins=8, domains=DOMAINS)
        model.fit_relation(recording, "lab", columns=MODEL_COLUMNS)
    return model, recording.queries, kept


def _counting_queries(model: DPMSTSynthesizer, relation: str, dialect) -> list[str]:
    """The counting queries of a fit, in the order `fit_relation` runs them, for `dialect`."""
    queries = []
    for column in model.columns:
        encoding = model.encodings[column]
        info = encoding.info
        if info.kind == "categorical" and info.categories is None:
            queries.append(dp_counting_sql.category_counts_sql(info, relation, dialect))
        if isinstance(encoding, NumericEncoding):
            if info.bounds is None:
                queries.append(dp_counting_sql.coarse_counts_sql(info, relation, dialect))
            queries.append(dp_counting_sql.fine_counts_sql(encoding, relation, dialect))
    encodings = [model.encodings[c] for c in model.columns]
    queries.append(dp_counting_sql.marginals_sql(encodings, relation, dialect))
    return queries


def test_the_fit_runs_exactly_the_duckdb_rendering(fit):
    """What dp_mst sends to DuckDB is this module's DuckDB rendering: so checking the Spark rendering
    against DuckDB below checks the fit's own SQL, not a copy of it."""
    model, queries, _ = fit
    counting = [q for q in queries if not q.startswith(("SELECT * FROM lab LIMIT 0", "DESCRIBE"))]
    assert counting == _counting_queries(model, "lab", "duckdb")
    kinds = {type(model.encodings[c]).__name__ for c in model.columns}
    assert kinds == {"CategoricalEncoding", "NumericEncoding"}
    assert any(
        len(model.encodings[c].labels) > 1
        for c in model.columns
        if not isinstance(model.encodings[c], NumericEncoding)
    ), "a released category list makes the list-position SQL run"


def test_every_count_is_the_same_on_spark(fit, engines):
    """Domain counts (categories, power-of-two cells, fine grid) and every 1- and 2-way marginal:
    the same rows on Spark as on DuckDB, to the last count."""
    model, _, _ = fit
    con, spark = engines
    duck, spark_sql = _counting_queries(model, "lab", "duckdb"), _counting_queries(model, "`lab`", "spark")
    assert len(duck) >= 8
    for duckdb_query, spark_query in zip(duck, spark_sql, strict=True):
        expected = _rows(con.execute(duckdb_query).fetchall())
        assert expected, "every counting query counts something on this table"
        assert _spark_rows(spark, spark_query) == expected, spark_query[:200]


def test_spark_marginals_are_the_arrays_the_fit_used(fit, engines):
    """The Spark result, read into arrays, equals the marginals dp_mst's fit received on DuckDB."""
    model, _, kept = fit
    _, spark = engines
    encodings = [model.encodings[c] for c in model.columns]
    rows = spark.sql(dp_counting_sql.marginals_sql(encodings, "`lab`", "spark")).collect()
    columns = {
        name: [row[name] for row in rows] for name in ["g", "n", *(f"c{i}" for i in range(len(encodings)))]
    }
    one_way, two_way = dp_counting_sql.marginals_from_columns(columns, [e.size for e in encodings])
    assert set(one_way) == set(kept["one_way"]) and set(two_way) == set(kept["two_way"])
    for i, counts in kept["one_way"].items():
        np.testing.assert_array_equal(one_way[i], counts)
        assert counts.sum() == ROWS
    for pair, counts in kept["two_way"].items():
        np.testing.assert_array_equal(two_way[pair], counts)


def test_the_edge_values_land_in_the_same_cells(fit, engines):
    """NaN, infinities, exact powers of two, values outside declared bounds, a 3-digit prefix with a
    trailing newline or in full-width digits: the same code on both engines, row by row."""
    model, _, _ = fit
    con, spark = engines
    for column in ["betrag €", "plz.3", 'alter "jahre"', "taken at"]:
        encoding = model.encodings[column]
        duck_code, spark_code = (
            dp_counting_sql.code_sql(encoding, "duckdb"),
            dp_counting_sql.code_sql(encoding, "spark"),
        )
        expected = _rows(con.execute(f'SELECT "visit id", {duck_code} FROM lab').fetchall())
        assert _spark_rows(spark, f"SELECT `visit id`, {spark_code} FROM `lab`") == expected, column
        if column == "betrag €":
            codes = dict(expected)
            nan, inf, minus_inf = (codes[v] for v in _table()["visit id"][:3])
            top = len(encoding.bin_starts) - 1
            assert (nan, inf, minus_inf) == (top, top, 0), (
                "NaN and +inf in the top bin, -inf in the bottom one"
            )


# ------------------------------------------------------------------------- masking and the split

KEY = b"spark-test-only-pseudonym-key"
CLASSES = {"kontakt": ("direct_identifier", "email")}


def _lab_spec(kind: str) -> DatasetSpec:
    """The lab table's spec: a key to pseudonymise, an e-mail to drop, generalisations of every kind,
    declared bounds (clipped for dp_mst) or rare categories and quantiles (merged and winsorised)."""
    columns = {
        "visit id": {"type": "string"},
        "patient nr": {"type": "string"},
        "kontakt": {"type": "string"},
        "Straße/Ort": {"type": "category"},
        "plz.3": {"type": "string", "generalize": "zip3"},
        "betrag €": {"type": "float", "bounds": [-500.0, 2000.0]},
        'alter "jahre"': {"type": "integer", "bounds": [0, 120]},
        "nüchtern?": {"type": "boolean"},
        "grade": {"type": "category"},
        "visit_day": {"type": "date", "generalize": "month"},
        "taken at": {"type": "date", "generalize": "year"},
    }
    return DatasetSpec.model_validate(
        {
            "name": "lab",
            "source": {"landing_dir": "landing/lab", "format": "csv"},
            "key": "patient nr",
            "columns": columns,
            "masking": {"rare_category_min_count": 30, "outlier_quantiles": [0.02, 0.97]},
            "synthesizer": {"kind": kind},
            "privacy": {"epsilon_budget": None} if kind != "dp_mst" else {},
        }
    )


def _spark_kinds(spark, relation: str) -> dict[str, str]:
    """Column kinds from Spark's own schema, as a Spark deployment would read them."""
    return {f.name: masking_sql.kind_of_type(f.dataType.simpleString()) for f in spark.table(relation).schema}


def _duckdb_rows(con, sql: str, params: dict[str, str]) -> list[tuple]:
    with bind_duckdb(con, params):
        return [tuple(_plain(v) for v in row) for row in con.execute(sql).fetchall()]


def _spark_ordered(spark, sql: str, params: dict[str, str]) -> list[tuple]:
    return [tuple(_plain(v) for v in row) for row in spark.sql(sql, args=params).collect()]


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def test_spark_reads_the_same_column_kinds(engines):
    """Kinds decide pseudonym text and clipping: Spark's schema must give DuckDB's."""
    con, spark = engines
    assert _spark_kinds(spark, "lab") == masking_sql.duckdb_column_kinds(con, "lab")


@pytest.mark.parametrize("kind", ["dp_mst", "gaussian_copula"])
def test_masking_gives_the_same_table_on_spark(engines, kind):
    """The same pseudonyms, generalised months/years/prefixes, clipped bounds (dp_mst) or merged rare
    values and winsorised quantiles (otherwise), row by row in source order, and the same report."""
    con, spark = engines
    spec = _lab_spec(kind)
    plan = plan_masking(spec, CLASSES)
    kinds = masking_sql.duckdb_column_kinds(con, "lab")
    sql, params = masking_sql.masking_select(plan, spec, DUCKDB.quote("lab"), kinds, KEY, DUCKDB)
    expected = _duckdb_rows(con, sql, params)
    spark_sql, spark_params = masking_sql.masking_select(plan, spec, SPARK.quote("lab"), kinds, KEY, SPARK)
    assert spark_params == params
    assert KEY.hex() not in spark_sql and params["ps_ipad"] not in spark_sql, "the key stays out of the SQL"
    assert _spark_ordered(spark, spark_sql, spark_params) == expected
    assert len(expected) == ROWS and len(expected[0]) == len(TYPES) - 1  # the e-mail is dropped
    pseudonyms = {row[1] for row in expected if row[1] is not None}
    assert all(p.startswith("ps_") and len(p) == 27 for p in pseudonyms) and len(pseudonyms) > ROWS // 4
    counts_sql, _ = masking_sql.masking_counts_select(plan, spec, DUCKDB.quote("lab"), kinds, DUCKDB)
    spark_counts, _fields = masking_sql.masking_counts_select(plan, spec, SPARK.quote("lab"), kinds, SPARK)
    row = con.execute(counts_sql).fetchone()
    assert tuple(spark.sql(spark_counts).collect()[0]) == tuple(row)
    assert any(row), "something was clipped or merged, so the report is exercised"


@pytest.mark.parametrize("key", ["patient nr", None])
def test_split_puts_the_same_rows_on_each_side_on_spark(engines, key):
    """With a key (repeated values, NULLs, an empty string, a quote and a backslash) one row per person
    is kept and each person falls on one side; without one each row's content decides. Spark gives
    the same train and the same holdout, in source order."""
    con, spark = engines
    columns = list(masking_sql.duckdb_column_kinds(con, "lab").items())
    duck = split_sql.split_selects(DUCKDB.quote("lab"), key, 0.3, 7, KEY, DUCKDB, columns)
    on_spark = split_sql.split_selects(SPARK.quote("lab"), key, 0.3, 7, KEY, SPARK, columns)
    train, holdout = (
        _duckdb_rows(con, duck.train_sql, duck.params),
        _duckdb_rows(con, duck.holdout_sql, duck.params),
    )
    assert _spark_ordered(spark, on_spark.train_sql, on_spark.params) == train
    assert _spark_ordered(spark, on_spark.holdout_sql, on_spark.params) == holdout
    assert 0.2 < len(holdout) / (len(train) + len(holdout)) < 0.4
    people = con.execute('SELECT count(DISTINCT "patient nr") FROM lab').fetchone()[0]
    if key is None:
        assert len(train) + len(holdout) == ROWS
    else:
        nulls = con.execute('SELECT count(*) FROM lab WHERE "patient nr" IS NULL').fetchone()[0]
        assert len(train) + len(holdout) == people + nulls, "one row per person (rows without a key stay)"
