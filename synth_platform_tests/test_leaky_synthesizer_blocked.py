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
    project = make_project(tmp_path, rows=1500)
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
