"""A synthesizer that replays its training rows must never be released."""

from __future__ import annotations

import cloudpickle
import dagster as dg
import pandas as pd
import pytest

from synth_platform.defs.resources import SynthesizerFactory
from synth_platform_tests.pipeline_harness import DATASET, make_project

pytestmark = pytest.mark.integration


class ReplayingSynthesizer:
    """Memorises the training table and samples it back: the worst possible model."""

    def fit(self, data: dict) -> None:
        (self.rows,) = data.values()

    def save(self, path: str) -> None:
        with open(path, "wb") as handle:
            cloudpickle.dump(self, handle)

    def sample(self, num_rows: int) -> dict:
        return {"data": self.rows.sample(num_rows, replace=num_rows > len(self.rows), random_state=0)}


class LeakyFactory(SynthesizerFactory):
    def build(self, kind: str, metadata: dict, params: dict):
        return ReplayingSynthesizer()


def test_replaying_synthesizer_is_blocked_and_ledgered(tmp_path):
    # 1,500 rows need a 30 % holdout for the gate's size check (lib.synthesize.split.rows_needed)
    project = make_project(tmp_path, rows=1500, spec_overrides={"split": {"holdout_fraction": 0.3}})
    honest = project.run(job_name=f"{DATASET}_governed_chain")
    assert honest.success
    released_before = project.query(f"SELECT * FROM release.{DATASET}")

    leaky = project.run(synthesizers=LeakyFactory())
    assert not leaky.success
    synthetic_key = dg.AssetKey([DATASET, "synthetic"])
    evaluations = {
        e.check_name: e for e in leaky.get_asset_check_evaluations() if e.asset_key == synthetic_key
    }
    assert not evaluations["exact_copies"].passed
    # the released (noisy) figure: the share of training people with an exact copy (a replay of
    # n rows drawn with replacement copies about 1 - 1/e of them)
    assert evaluations["exact_copies"].metadata["figure"].value > 0.4
    for attack in ("close_copies", "near_copies"):
        assert not evaluations[attack].passed, attack
    assert evaluations["no_identifier_leak"].passed  # identifiers were refilled, never modelled

    released_after = project.query(f"SELECT * FROM release.{DATASET}")
    pd.testing.assert_frame_equal(released_after, released_before)
    release_steps = [
        e
        for e in leaky.all_events
        if e.step_key == f"{DATASET}__release" and e.event_type == dg.DagsterEventType.STEP_SUCCESS
    ]
    assert release_steps == []

    ledger = project.query("SELECT * FROM governance.ledger ORDER BY entry_id")
    blocked = ledger[ledger["run_id"] == leaky.run_id]
    assert blocked["event"].tolist() == ["trained", "gate", "blocked"]  # the gate's rho is charged too
    decision = blocked.iloc[-1]["decision"]
    assert decision.startswith("blocked: failed") and "exact_copies" in decision


class SourceReplayingSynthesizer(ReplayingSynthesizer):
    """What a pipeline bug that trains on everything produces: real people of the whole source
    (training *and* holdout), their generalised columns redrawn. Every relative attack sees
    training and holdout people alike in it; only absolute exposure can tell."""

    def __init__(self, source: pd.DataFrame, redraw: list[str]):
        self.source, self.redraw = source, redraw

    def fit(self, data: dict) -> None:
        (train,) = data.values()
        self.columns, self.dtypes = list(train.columns), train.dtypes.to_dict()

    def sample(self, num_rows: int) -> dict:
        rows = self.source[self.columns].sample(num_rows, replace=True, random_state=1).reset_index(drop=True)
        for position, column in enumerate(self.redraw):
            rows[column] = (
                self.source[column].sample(num_rows, replace=True, random_state=2 + position).to_numpy()
            )
        return {"data": rows.astype(self.dtypes)}


def test_a_synthesizer_replaying_the_whole_source_is_blocked_by_absolute_exposure(tmp_path):
    project = make_project(tmp_path, rows=2500)
    assert project.run(job_name=f"{DATASET}_governed_chain").success
    source = pd.concat(
        [project.query(f"SELECT * FROM masked.{DATASET}_{side}") for side in ("train", "holdout")],
        ignore_index=True,
    )

    class SourceFactory(SynthesizerFactory):
        def build(self, kind: str, metadata: dict, params: dict):
            return SourceReplayingSynthesizer(source, ["zip_code", "date_of_birth"])

    leaky = project.run(synthesizers=SourceFactory())
    assert not leaky.success
    evaluations = {
        e.check_name: e
        for e in leaky.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey([DATASET, "synthetic"])
    }
    exposure = evaluations["absolute_exposure"]
    assert not exposure.passed
    assert exposure.metadata["figure"].value > 0.1  # the noisy excess: a public figure
