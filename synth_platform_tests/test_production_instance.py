"""The production instance (deploy/dagster.yaml) on a real PostgreSQL server, with the deploy/ processes.

The fixture starts Debian's PostgreSQL (`initdb` + `pg_ctl`, as the `postgres` user when the test runs
as root: the server refuses root) on a free local port in a temporary data folder, with a password
generated for the test, and stops it afterwards. Then the deployment as deploy/ describes it: a
DAGSTER_HOME holding deploy/dagster.yaml, the connection settings in DAGSTER_PG_* variables, a code
location server (`dagster code-server start`, as synth-platform-code-server.service runs it), one
`dagster-daemon` and the webserver, pointed at it through deploy/workspace.yaml (its port changed to a
free one; one more location holds a job that stands in for a hung fit).
First the hung run is submitted with `dagster job launch` and takes the one `duckdb_warehouse` slot;
then a run of a small dataset's chain: it waits in the daemon's run queue until run monitoring ends
the hung run at its maximum run time, and the daemon launches it through the project's run launcher
on the code server. The test then reads the runs back from PostgreSQL (Dagster's API, plain SQL and
the webserver's GraphQL API), and the privacy ledger's rows back from the warehouse, checked against
the ledger head in the PostgreSQL event log (`synth-platform ledger verify`).

Without PostgreSQL's binaries the test is skipped with the reason, except in CI (`CI=true`), where it
must run (.ci/run installs `postgresql`).
"""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from synth_platform_tests.conftest import PROJECT_ROOT
from synth_platform_tests.pipeline_harness import Project, make_project

DEPLOY = PROJECT_ROOT / "deploy"
DATASET = "adult_customers"
ROWS = 1500
PG_ENV = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")
POOL = "duckdb_warehouse"
HUNG_MAX_RUNTIME_S = 10
RUN_DEADLINE_S = 300  # a generous bound for a loaded 2-core machine; the run takes well under a minute


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# --- The configuration, without a server ---------------------------------------------------------


def test_production_config_keeps_the_local_instance_settings():
    """deploy/dagster.yaml differs from config/dagster.yaml only where production needs it: storage in
    PostgreSQL from the environment, a maximum run time, freshness. The run queue, the pool, the run
    launcher and the run-monitoring timings must not drift apart between the two."""
    local, prod = load_yaml(PROJECT_ROOT / "config" / "dagster.yaml"), load_yaml(DEPLOY / "dagster.yaml")
    for section in set(local) - {"run_monitoring"}:
        assert prod.get(section) == local[section], f"deploy/dagster.yaml differs in `{section}`"
    monitoring = prod["run_monitoring"]
    assert monitoring.items() >= local["run_monitoring"].items()
    assert monitoring["enabled"] and monitoring["max_runtime_seconds"] > 0
    # Every connection setting comes from the environment: nothing secret in the file.
    settings = prod["storage"]["postgres"]["postgres_db"]
    assert {key: value for key, value in settings.items() if key != "scheme"} == {
        key: {"env": f"DAGSTER_PG_{name}"}
        for key, name in (
            ("hostname", "HOST"),
            ("port", "PORT"),
            ("username", "USER"),
            ("password", "PASSWORD"),
            ("db_name", "DB"),
        )
    }


def test_deploy_files_point_at_one_code_server():
    """The workspace file, the code server's unit and the webserver's and daemon's units agree."""
    (entry,) = load_yaml(DEPLOY / "workspace.yaml")["load_from"]
    server = entry["grpc_server"]
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    assert f'code_location_name = "{server["location_name"]}"' in pyproject
    units = {p.name: p.read_text() for p in (DEPLOY / "systemd").glob("*.service")}
    code_server = units["synth-platform-code-server.service"]
    assert f"-p {server['port']}" in code_server
    assert f"--location-name {server['location_name']}" in code_server
    for name in ("synth-platform-daemon.service", "synth-platform-webserver.service"):
        assert "-w /opt/synth_platform/deploy/workspace.yaml" in units[name], name
    for text in units.values():
        assert "EnvironmentFile=/etc/synth_platform/synth-platform.env" in text
    example = (DEPLOY / "synth-platform.env.example").read_text()
    assert re.search(r"^DAGSTER_PG_PASSWORD=$", example, re.MULTILINE), "no password is committed"
    assert all(re.search(rf"^{name}=", example, re.MULTILINE) for name in PG_ENV)


# --- A real PostgreSQL server ----------------------------------------------------------------------


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: Debian's newest /usr/lib/postgresql/<n>/bin, else the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    on_path = shutil.which("pg_ctl")
    candidates = [Path(p).parent for p in found] + ([Path(on_path).parent] if on_path else [])
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists():
            return bindir
    if os.environ.get("CI") == "true":
        pytest.fail(
            "PostgreSQL is not installed; CI must install it (.ci/run: apt-get install -y postgresql)"
        )
    pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql); the production test needs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Postgres:
    port: int
    password: str
    user: str = "dagster"
    db: str = "dagster"
    host: str = "127.0.0.1"

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.yaml reads."""
        values = (self.host, str(self.port), self.user, self.password, self.db)
        return dict(zip(PG_ENV, values, strict=True))

    def connect(self, db: str | None = None):
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=db or self.db
        )


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of its own for this module: password login over TCP on 127.0.0.1 only."""
    bindir = postgres_bindir()
    # Not under pytest's tmp_path: its parents are root-only, and the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="synth_pg_"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = Postgres(port=free_port(), password=secrets.token_urlsafe(16))
    data, log, password_file = folder / "data", folder / "server.log", folder / "password"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log)]
    try:
        password_file.write_text(server.password)
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", server.user, f"--pwfile={password_file}"]
        initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-instructions"]
        made = subprocess.run(_as_server_user(initdb), capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, f"initdb failed: {made.stderr[-2000:]}"
        password_file.unlink()
        options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = _as_server_user([*pg_ctl, "-w", "-t", "60", "-o", options, "start"])
        started = subprocess.run(start, capture_output=True, text=True, timeout=90)
        assert started.returncode == 0, log.read_text()[-2000:] if log.exists() else started.stderr
        con = server.connect("postgres")
        con.autocommit = True  # CREATE DATABASE cannot run in a transaction
        con.cursor().execute(f"CREATE DATABASE {server.db}")
        con.close()
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            stop = _as_server_user([*pg_ctl, "-m", "fast", "-w", "stop"])
            subprocess.run(stop, capture_output=True, timeout=90)
        shutil.rmtree(folder, ignore_errors=True)


# --- The deployment on it ----------------------------------------------------------------------------


class Service:
    """One long-running process of the deployment, in its own process group, logging to a file."""

    def __init__(self, name: str, command: list[str], env: dict, folder: Path):
        self.name, self.log_path = name, folder / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return f"--- {self.name} (last lines) ---\n" + "\n".join(self.log_path.read_text().splitlines()[-25:])

    def terminate(self) -> None:
        """SIGTERM to the group: the server and what it started (a code server's runs)."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        """Wait for the group after `terminate`; SIGKILL if it lingers."""
        self.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


def dagster_tool(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def wait_until(what: str, condition, services: list[Service], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [s for s in services if not s.alive()]
        if dead or time.monotonic() > deadline:
            why = f"{', '.join(s.name for s in dead)} exited" if dead else f"timed out after {timeout:.0f} s"
            logs = "\n".join(s.tail() for s in services)
            raise AssertionError(f"{why} waiting for {what}\n{logs}")
        time.sleep(1)


#: A code location of one job standing in for a fit that never returns: it takes the one slot of the
#: warehouse pool and sleeps. Its tag asks run monitoring to end it after 10 s (the instance's
#: `max_runtime_seconds`, 2 hours, applies to every run without the tag).
HUNG_FIT_LOCATION = f"""
import time

import dagster as dg


@dg.op(pool="{POOL}")
def fit_that_never_returns() -> None:
    time.sleep(600)


@dg.job(tags={{"dagster/max_runtime": "{HUNG_MAX_RUNTIME_S}"}})
def hung_fit():
    fit_that_never_returns()


defs = dg.Definitions(jobs=[hung_fit])
"""


@dataclass
class Deployment:
    project: Project
    instance: dg.DagsterInstance  # the test's own view of the PostgreSQL-backed DAGSTER_HOME
    run_id: str  # the chain's run
    hung_run_id: str
    hung_run_held_the_slot: bool
    env: dict
    webserver: str  # its base URL


def _grpc_location(name: str, port: int) -> dict:
    return {"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": name}}


def _code_server(location: dict, target: list[str], env: dict, tmp: Path) -> Service:
    """`dagster code-server start`, as synth-platform-code-server.service runs it."""
    server = location["grpc_server"]
    command = [dagster_tool("dagster"), "code-server", "start", *target]
    command += ["--location-name", server["location_name"], "-h", server["host"], "-p", str(server["port"])]
    return Service(server["location_name"], command, env, tmp)


@pytest.fixture(scope="module")
def deployment(postgres, tmp_path_factory, monkeypatch_module) -> Iterator[Deployment]:
    """A deploy/-shaped deployment on `postgres`: a hung run holding the warehouse slot, then the chain.

    Both runs are submitted with `dagster job launch` and launched by the daemon. The chain's steps
    need the slot the hung run holds, so the chain gets through only because run monitoring ends
    the hung run at its maximum run time.
    """
    tmp = tmp_path_factory.mktemp("production")
    # 1,500 rows need a 30 % holdout for the gate's size check (lib.synthesize.split.rows_needed)
    project = make_project(tmp, rows=ROWS, spec_overrides={"split": {"holdout_fraction": 0.3}})
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    # deploy/workspace.yaml on a free port, plus the hung job's location
    workspace = load_yaml(DEPLOY / "workspace.yaml")
    (chain_location,) = workspace["load_from"]
    chain_location["grpc_server"]["port"] = free_port()
    hung_location = _grpc_location("hung_fit", free_port())
    workspace["load_from"].append(hung_location)
    (tmp / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    (tmp / "hung_fit.py").write_text(HUNG_FIT_LOCATION)
    landing_file = next(project.landing.glob("*.csv"))
    run_config = {
        "ops": {f"{DATASET}__raw": {"config": {"landing_file": str(landing_file)}}},
        # no executor config: the chain job runs its steps in the run's own process (defs.automation)
    }
    (tmp / "run.yaml").write_text(yaml.safe_dump(run_config))

    env = {
        **os.environ,
        **postgres.env(),
        "DAGSTER_HOME": str(home),
        "SYNTH_PROJECT_ROOT": str(project.root),
        "SYNTH_SPECS_DIR": str(project.settings.specs_dir),
        "SYNTH_WAREHOUSE_PATH": str(project.settings.warehouse_path),
        # The sensors would launch a second run of the landing file; the launched run is the subject.
        "SYNTH_AUTOMATION_STATUS": "STOPPED",
    }
    for name, value in postgres.env().items():  # the test's own instance reads the same settings
        monkeypatch_module.setenv(name, value)
    monkeypatch_module.setenv("DAGSTER_HOME", str(home))

    instance = dg.DagsterInstance.from_config(str(home))
    services = [
        _code_server(chain_location, ["-m", "synth_platform.definitions"], env, tmp),
        _code_server(hung_location, ["-f", str(tmp / "hung_fit.py")], env, tmp),
        Service(
            "daemon", [dagster_tool("dagster-daemon"), "run", "-w", str(tmp / "workspace.yaml")], env, tmp
        ),
    ]
    webserver_port = free_port()
    webserver = [dagster_tool("dagster-webserver"), "-w", str(tmp / "workspace.yaml"), "-h", "127.0.0.1"]
    services.append(Service("webserver", [*webserver, "-p", str(webserver_port)], env, tmp))
    try:

        def launch(location: str, job: str, *config: str) -> str:
            """Submit a run (retrying while the code server still loads); its id."""
            known = {run.run_id for run in instance.get_runs()}
            command = [dagster_tool("dagster"), "job", "launch", "-w", str(tmp / "workspace.yaml")]
            command += ["-l", location, "-j", job, *config]

            def submitted() -> bool:
                done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, timeout=120)
                return done.returncode == 0

            wait_until(f"`dagster job launch -j {job}` to reach its code server", submitted, services, 120)
            (run_id,) = {run.run_id for run in instance.get_runs()} - known
            return run_id

        hung = launch("hung_fit", "hung_fit")

        def holds_slot() -> bool:
            return hung in instance.event_log_storage.get_concurrency_info(POOL).active_run_ids

        def slot_taken_or_run_over() -> bool:
            return holds_slot() or instance.get_run_by_id(hung).is_finished

        wait_until("the hung run to take the warehouse slot", slot_taken_or_run_over, services, 120)
        held = holds_slot()  # asserted by the test: without it the chain's success proves less
        chain = launch("synth_platform", f"{DATASET}_governed_chain", "-c", str(tmp / "run.yaml"))

        def chain_finished() -> bool:
            return instance.get_run_by_id(chain).is_finished

        wait_until("the chain's run to finish", chain_finished, services, RUN_DEADLINE_S)
        yield Deployment(project, instance, chain, hung, held, env, f"http://127.0.0.1:{webserver_port}")
    finally:
        for service in services:  # all at once: each takes a few seconds to shut down
            service.terminate()
        for service in services:
            service.stop()
        instance.dispose()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.integration
def test_daemon_runs_the_chain_with_runs_and_events_in_postgres(deployment, postgres):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from synth_platform_tests.chain_under_faults import _failures

    project, instance, run_id = deployment.project, deployment.instance, deployment.run_id
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS, _failures(instance)
    assert run.tags["synth/dataset"] == DATASET  # the tag the per-dataset run queue limits on

    # It went through the daemon: `job launch` put it in the queue, and with the queued run coordinator
    # only the daemon's run queue launches a queued run. The daemon's heartbeats are in PostgreSQL too.
    assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
    records = instance.get_records_for_run(run_id, limit=100_000).records
    kind = dg.DagsterEventType
    run_kinds = {kind.RUN_ENQUEUED, kind.RUN_STARTING, kind.RUN_START, kind.RUN_SUCCESS, kind.RUN_FAILURE}
    kinds = [r.event_log_entry.dagster_event_type for r in records]
    assert [k for k in kinds if k in run_kinds] == [
        kind.RUN_ENQUEUED,
        kind.RUN_STARTING,
        kind.RUN_START,
        kind.RUN_SUCCESS,
    ]
    assert {"QUEUED_RUN_COORDINATOR", "MONITORING"} <= set(instance.get_daemon_heartbeats())

    # The same run, read with plain SQL from the server: the storage really is PostgreSQL ...
    with postgres.connect() as con, con.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone()[0] > 20
        cursor.execute(
            "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
            "AND asset_key LIKE %s",
            (f'%"{DATASET}", "release"%',),
        )
        assert cursor.fetchone()[0] == 1
    con.close()
    # ... and nothing went to the SQLite databases of a default instance.
    home = Path(os.environ["DAGSTER_HOME"])
    assert not [p.name for p in home.rglob("*.db")]
    released = project.query(f"SELECT count(*) AS n FROM release.{DATASET}")["n"][0]
    assert released > 0.7 * ROWS


@pytest.mark.integration
def test_ledger_rows_of_the_run_match_the_head_in_the_postgres_event_log(deployment):
    import duckdb

    from synth_platform.lib.governance import ledger

    project, run_id, env = deployment.project, deployment.run_id, deployment.env
    con = duckdb.connect(str(project.settings.warehouse_path), read_only=True)
    try:
        rows = ledger.read_ledger(con)
        assert ledger.verify_chain(con) == []
    finally:
        con.close()
    events = [event for rid, event in zip(rows["run_id"], rows["event"], strict=True) if rid == run_id]
    assert "released" in events
    # The operator's check compares the ledger with the head recorded in Dagster's event log, which
    # the command reads from the PostgreSQL instance at DAGSTER_HOME.
    verify = subprocess.run(
        [dagster_tool("synth-platform"), "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr[-2000:]
    assert "in Dagster's event log matches" in verify.stdout


@pytest.mark.integration
def test_max_run_time_ends_a_hung_run_and_frees_the_warehouse_slot(deployment):
    """The hung run held the one `duckdb_warehouse` slot; run monitoring ended it at its maximum run
    time, so the chain's run (which needs that slot) got through."""
    instance = deployment.instance
    assert deployment.hung_run_held_the_slot
    hung = instance.get_run_by_id(deployment.hung_run_id)
    messages = [r.event_log_entry.message for r in instance.get_records_for_run(hung.run_id).records]
    # Terminated (its step interrupted) and marked failed, so the run-failure sensors see it too.
    assert hung.status == dg.DagsterRunStatus.FAILURE
    assert f"Exceeded maximum runtime of {HUNG_MAX_RUNTIME_S} seconds." in messages
    assert 'Execution of step "fit_that_never_returns" failed.' in messages
    assert instance.get_run_by_id(deployment.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert instance.event_log_storage.get_concurrency_info(POOL).active_run_ids == set()


@pytest.mark.integration
def test_webserver_shows_the_run_from_postgres(deployment):
    """The UI's GraphQL API, served by the webserver of the same deployment, reads the run's status
    from PostgreSQL."""
    query = "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status jobName } } }"
    body = json.dumps({"query": query, "variables": {"id": deployment.run_id}}).encode()
    request = urllib.request.Request(
        f"{deployment.webserver}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    deadline = time.monotonic() + 120
    while True:  # the webserver may still be loading the workspace
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            break
        except OSError:
            assert time.monotonic() < deadline, "the webserver never answered"
            time.sleep(1)
    assert answer["data"]["runOrError"] == {
        "__typename": "Run",
        "status": "SUCCESS",
        "jobName": f"{DATASET}_governed_chain",
    }


def test_postgres_missing_skips_locally_and_fails_in_ci(monkeypatch):
    """No binaries: a developer's run is skipped with the reason, CI's fails (it must install them)."""
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not installed"):
        postgres_bindir()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        postgres_bindir()
