"""Shared fixtures: a small spec and frames built in code, so unit tests need no files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from synth_platform.lib.spec import DatasetSpec

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
    }


@pytest.fixture
def small_spec() -> DatasetSpec:
    return DatasetSpec.model_validate(small_spec_dict())
