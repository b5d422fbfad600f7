"""The Dagster UI, looked at in a real browser (Playwright driving Debian's Chromium).

A demo-like run on a small sample goes into a persistent Dagster instance (a temporary
DAGSTER_HOME); `dagster-webserver` serves that instance and the code location on a free local
port. The test then looks where a person would: the lineage, the release gate's checks on the
synthetic table with their figures, the ledger's table of recent rows, the release with its
evidence link (and the evidence pack itself), and Automation. Screenshots go to the test's
temporary folder, or to $SYNTH_UI_SCREENSHOT_DIR when set (printed with -s).

Playwright's bundled browser download cannot reach the network here, so the system Chromium is
used (`apt-get install chromium`; `.ci/run` installs it). Without Chromium the test is skipped
with the reason, except in CI (`CI=true`), where it must run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from synth_platform.defs.automation import chain_job_name
from synth_platform.lib.governance import evidence
from synth_platform_tests.conftest import PROJECT_ROOT
from synth_platform_tests.pipeline_harness import DATASET, Project, make_project

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ROWS = 1500
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SENSORS_AND_SCHEDULES = [
    "nightly_refresh",
    f"{DATASET}_landing_sensor",
    "run_failure_alert",
    "release_lease_of_failed_run",
    "privacy_budget_alert",
    "stale_release_alert",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "chromium is not installed; CI must install it (.ci/run: apt-get install -y chromium)"
            )
        pytest.skip("chromium is not installed (apt-get install -y chromium); the UI test needs a browser")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"dagster-webserver did not answer on {url} within {timeout:.0f} s")


def run_chain_without_dbt(project: Project):
    """The dataset's chain up to the release, as `make demo` runs it, minus the dbt models (the
    lineage still shows them; building them would only add half a minute)."""
    definitions = project.definitions()
    job = definitions.resolve_job_def(chain_job_name(DATASET))
    keys = dg.AssetSelection.groups(DATASET).resolve(definitions.resolve_asset_graph())
    config = {"ops": {f"{DATASET}__raw": {"config": {"landing_file": ""}}}}
    return job.execute_in_process(
        run_config=config, instance=project.instance, asset_selection=list(keys), raise_on_error=False
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A released run in a persistent instance, and the UI serving it: (base URL, project, run id)."""
    executable = chromium()
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    # The UI is under test, not the synthesizer: the Gaussian copula (not private, so no budget) fits a
    # 1,500-row sample in a second, where the demo's dp_mst takes half a minute and, at epsilon 1 on so
    # few rows, loses the income relationship and blocks.
    copula = {"kind": "gaussian_copula", "params": {"default_distribution": "truncnorm"}}
    overrides = {"synthesizer": copula, "privacy": {"epsilon_budget": None}}
    overrides["split"] = {"holdout_fraction": 0.3}  # what 1,500 rows need (lib.synthesize.split.rows_needed)
    sample = make_project(tmp, rows=ROWS, spec_overrides=overrides)
    project = Project(sample.root, sample.settings, dg.DagsterInstance.from_config(str(home)))

    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SYNTH_PROJECT_ROOT": str(project.root),
        "SYNTH_SPECS_DIR": str(project.settings.specs_dir),
        "SYNTH_WAREHOUSE_PATH": str(project.settings.warehouse_path),
        "SYNTH_AUTOMATION_STATUS": "STOPPED",  # no daemon here: nothing should look like it runs
    }
    command = [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port)]
    command += ["-m", "synth_platform.definitions", "-a", "defs"]
    log = open(tmp / "webserver.log", "w")  # noqa: SIM115 (closed at teardown)
    # Started first: it loads the code location while the chain runs (it reads the instance per request).
    server = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        result = run_chain_without_dbt(project)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        wait_for(f"{base}/server_info", server)
        shots = Path(os.environ.get("SYNTH_UI_SCREENSHOT_DIR") or tmp / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        yield base, project, result.run_id, executable, shots
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the code server it started
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(served):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, _, _, executable, tmp = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(60_000)
        tab.goto(f"{base}/")
        # Dagster's first-visit dialog ("Skip" / "Next") covers the page on a fresh profile.
        skip = tab.get_by_role("button", name="Skip")
        with contextlib.suppress(PlaywrightTimeout):  # not shown (already seen): nothing to dismiss
            skip.click(timeout=20_000)
        print(f"UI screenshots: {tmp}")
        yield tab
        browser.close()


def shot(page, served, name: str) -> None:
    page.screenshot(path=str(served[4] / f"{name}.png"), full_page=True)


def test_lineage_shows_the_groups_and_the_chain(page, served):
    page.goto(f"{served[0]}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    for group in (DATASET, "governance", "analytics"):
        page.get_by_text(group, exact=True).first.wait_for()
    shot(page, served, "lineage")
    page.goto(f"{served[0]}/locations/synth_platform.definitions:defs/asset-groups/{DATASET}")
    for stage in ("raw", "pii_report", "masked", "train", "holdout", "synthesizer", "synthetic", "release"):
        page.get_by_text(stage, exact=True).first.wait_for()
    shot(page, served, "lineage_chain")


def test_synthetic_asset_shows_every_gate_check_with_its_figure(page, served):
    page.goto(f"{served[0]}/assets/{DATASET}/synthetic?view=checks")
    checks = ["schema_expectations", "quality_score", "exact_copies", "no_identifier_leak", "utility_tstr"]
    for name in checks:
        page.get_by_text(name, exact=True).first.wait_for()
    page.get_by_text("utility_tstr", exact=True).first.click()
    metadata = page.locator("table", has_text="threshold")
    metadata.get_by_text("figure", exact=True).wait_for()
    text = metadata.first.inner_text()
    assert "evidence_report" in text and "0.3" in text  # the demo spec's max_gap
    shot(page, served, "synthetic_checks")


def test_ledger_shows_recent_rows_as_a_table(page, served):
    page.goto(f"{served[0]}/assets/governance/ledger")
    row = page.locator("tr", has_text="recent_ledger").first
    row.wait_for()
    table = row.inner_text()
    for column in ("entry_id", "event", "decision", "cumulative_epsilon", "row_hash"):
        assert column in table
    assert "trained" in table and "released" in table
    page.get_by_text(f"{DATASET}.quality_score").first.wait_for()  # a plotted per-dataset figure
    shot(page, served, "ledger")


def test_release_links_its_evidence_pack(page, served):
    base, project, run_id, _, _ = served
    page.goto(f"{base}/assets/{DATASET}/release")
    link = page.locator("tr", has_text="evidence_report").first
    link.wait_for()
    expected = evidence.find_pack(project.root, DATASET, run_id).html
    assert str(expected) in link.inner_text()
    shot(page, served, "release")
    page.goto(expected.as_uri())  # the pack itself, as a reviewer opens it
    page.get_by_text("Release gate", exact=True).wait_for()
    assert page.locator(".badge").inner_text() == "released"
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
    assert len(widths) == 3 and all(w > 0 for w in widths)  # the pictures render
    shot(page, served, "evidence_pack")


def test_automation_lists_the_schedule_and_every_sensor(page, served):
    page.goto(f"{served[0]}/automation")
    for name in SENSORS_AND_SCHEDULES:
        page.get_by_text(name, exact=True).first.wait_for()
    shot(page, served, "automation")
