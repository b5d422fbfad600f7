"""Shared fixtures: a small spec and frames built in code, so unit tests need no files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# Generated keys (lib.storage.secrets) go to a throw-away folder, never the tester's home or DAGSTER_HOME.
os.environ.setdefault("SYNTH_SECRETS_DIR", tempfile.mkdtemp(prefix="synth_secrets_"))
# ... holding one fixed test key, so a sample's train/holdout split (a keyed hash) is the same on
# every test run: figures near a threshold must not flip between runs.
_TEST_KEY = Path(os.environ["SYNTH_SECRETS_DIR"]) / "pseudonym.key"
if not _TEST_KEY.exists():
    _TEST_KEY.parent.chmod(0o700)
    _TEST_KEY.write_text("fixed-test-only-pseudonym-key-not-a-secret-0001")
    _TEST_KEY.chmod(0o600)

# ... and dp_mst's DP noise seeded, so an end-to-end figure near a threshold is the same on every
# run. lib.synthesize.dp_mst honours it only while pytest runs a test (its own PYTEST_CURRENT_TEST, which the
# dagster subprocesses a test starts inherit); such a model is labelled "seeded test noise, not private".
os.environ.setdefault("SYNTH_TEST_NOISE_SEED", "19")

from synth_platform.lib.spec import DatasetSpec  # noqa: E402 (after the environment above)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def small_spec_dict(name: str = "people", landing_dir: str = "landing/people") -> dict:
    return {
        "name": name,
        "source": {"landing_dir": landing_dir, "format": "csv"},
        "key": "customer_id",
        "columns": {
            "customer_id": {"type": "string", "pii": {"class": "direct_identifier", "type": "customer_id"}},
            "full_name": {"type": "string"},
            "email": {"type": "string"},
            "zip_code": {"type": "string", "generalize": "zip3"},
            "date_of_birth": {"type": "date", "generalize": "year"},
            "age": {"type": "integer"},
            "sex": {"type": "category"},
            "income": {"type": "category", "pii": {"class": "sensitive", "type": "income"}},
        },
        # unit tests of masking, discovery and budgets, not of the synthesizer: the non-private kind,
        # chosen explicitly as a spec must (the default is dp_mst under a budget)
        "synthesizer": {"kind": "gaussian_copula"},
        "privacy": {"epsilon_budget": None},
    }


def typed_spec(columns: dict[str, str], key: str | None = None) -> DatasetSpec:
    """A minimal spec of named columns and types (for refill and shape tests)."""
    return DatasetSpec.model_validate(
        {
            "name": "t",
            "source": {"landing_dir": "x"},
            "key": key,
            "columns": {c: {"type": t} for c, t in columns.items()},
        }
    )


@pytest.fixture
def small_spec() -> DatasetSpec:
    return DatasetSpec.model_validate(small_spec_dict())


# The costly fault-injected project shared by test_crash.py and test_bad_files.py (one session run).
from synth_platform_tests.chain_under_faults import faulted_chain  # noqa: E402, F401
