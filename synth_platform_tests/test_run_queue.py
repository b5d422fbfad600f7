"""The run queue of the shipped config/dagster.yaml: one run per dataset at a time.

The README promises that daemon-launched runs queue per dataset (`tag_concurrency_limits` on
`synth/dataset`). Here the daemon's own dequeue step (`QueuedRunCoordinatorDaemon.run_iteration`,
called the way Dagster's tests call it) runs against an instance built from that file, with
queued runs of two datasets.

The one change to the shipped config is the run launcher: the project's `LocalRunLauncher` would
start a code server and a run worker process per launched run, so the test instance uses
Dagster's `MockedRunLauncher`, which only records the launch (the run stays STARTING, i.e. in
progress). Everything the queue decides on (`concurrency.runs`, the run coordinator) is read
unchanged from config/dagster.yaml.
"""

from __future__ import annotations

import dagster as dg
import yaml
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.test_utils import MockedRunLauncher, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from synth_platform_tests.conftest import PROJECT_ROOT

SHIPPED_CONFIG = PROJECT_ROOT / "config" / "dagster.yaml"
DATASET_TAG = "synth/dataset"
QUEUED = dg.DagsterRunStatus.QUEUED
LAUNCHED = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED}


@dg.op
def _noop() -> None:
    pass


@dg.job
def _chain_stand_in():
    _noop()


#: Where a queued run's job comes from (Dagster requires one for queued runs); never loaded here,
#: since the mocked launcher starts nothing.
_ORIGIN = RemoteJobOrigin(
    repository_origin=RemoteRepositoryOrigin(
        code_location_origin=InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name=__name__, attribute="_chain_stand_in"),
            location_name="synth_platform",
        ),
        repository_name="__repository__",
    ),
    job_name=_chain_stand_in.name,
)


def _dataset_limit(config: dict) -> list[dict]:
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    return [limit for limit in limits if limit["key"] == DATASET_TAG]


def test_second_run_of_a_dataset_waits_while_another_dataset_runs(tmp_path):
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    # What this test relies on: one run per value of `synth/dataset`, and room for more than one run.
    assert _dataset_limit(shipped) == [
        {"key": DATASET_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert shipped["concurrency"]["runs"]["max_concurrent_runs"] >= 2

    config = {
        **shipped,
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
    }
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        assert isinstance(instance.run_launcher, MockedRunLauncher)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [
            (DATASET_TAG, 1)
        ]

        def queued_run(dataset: str) -> str:
            run = instance.create_run_for_job(
                _chain_stand_in, status=QUEUED, tags={DATASET_TAG: dataset}, remote_job_origin=_ORIGIN
            )
            return run.run_id

        x_first, x_second, y = queued_run("x"), queued_run("x"), queued_run("y")

        def status(run_id: str) -> dg.DagsterRunStatus:
            run = instance.get_run_by_id(run_id)
            assert run is not None
            return run.status

        with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as workspace:
            daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)

            def dequeue_once() -> None:
                list(daemon.run_iteration(workspace))

            dequeue_once()
            # One run of dataset x leaves the queue, the other waits; dataset y is not held up by x.
            launched_x = [run_id for run_id in (x_first, x_second) if status(run_id) in LAUNCHED]
            assert launched_x == [x_first]  # exactly one, the first in
            assert status(x_second) == QUEUED
            assert status(y) in LAUNCHED

            dequeue_once()  # nothing changed: the second run of x still waits
            assert status(x_second) == QUEUED
            assert instance.run_launcher.did_run_launch(x_first)
            assert not instance.run_launcher.did_run_launch(x_second)

            # Once the first run of x has ended, the next pass launches the waiting one.
            instance.report_run_failed(instance.get_run_by_id(x_first), "ended for the test")
            dequeue_once()
            assert status(x_second) in LAUNCHED
            assert instance.run_launcher.did_run_launch(x_second)
