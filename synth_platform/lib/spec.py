"""Dataset specifications: one YAML file per dataset, validated on load.

A spec is the only thing a user writes to add a dataset. Validation is strict
(unknown fields are errors) so that a typo fails loudly, naming the file and the
field, instead of silently falling back to a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PiiClass = Literal["direct_identifier", "quasi_identifier", "sensitive", "other"]
ColumnType = Literal["integer", "float", "string", "category", "date", "boolean"]
MaskAction = Literal["drop", "pseudonymize", "keep"]
SynthesizerKind = Literal["gaussian_copula", "ctgan", "tvae"]

DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
GENERALIZE = re.compile(r"^(zip3|year|month|bin:[1-9][0-9]*)$")


class SpecError(ValueError):
    """A dataset spec that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiHint(_Strict):
    """Overrides discovery for one column: the spec author knows better than a heuristic."""

    pii_class: PiiClass = Field(alias="class")
    type: str | None = None


class ColumnSpec(_Strict):
    type: ColumnType
    pii: PiiHint | None = None
    generalize: str | None = None
    mask: MaskAction | None = None

    @field_validator("generalize")
    @classmethod
    def _known_generalization(cls, value: str | None) -> str | None:
        if value is not None and not GENERALIZE.match(value):
            raise ValueError("must be one of zip3, year, month or bin:<width>")
        return value


class SourceSpec(_Strict):
    landing_dir: str
    format: Literal["csv", "parquet"] = "csv"

    @property
    def pattern(self) -> str:
        return "*.csv" if self.format == "csv" else "*.parquet"


class MaskingSpec(_Strict):
    rare_category_min_count: int = Field(default=10, ge=0)
    outlier_quantiles: tuple[float, float] | None = (0.001, 0.999)

    @field_validator("outlier_quantiles")
    @classmethod
    def _ordered(cls, value):
        if value is not None and not (0.0 <= value[0] < value[1] <= 1.0):
            raise ValueError("must be two quantiles 0 <= low < high <= 1")
        return value


class SplitSpec(_Strict):
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    seed: int = 42


class SynthesizerSpec(_Strict):
    kind: SynthesizerKind = "gaussian_copula"
    params: dict = Field(default_factory=dict)
    max_train_rows: int | None = Field(default=None, gt=0)
    seed: int = 7


class SampleSpec(_Strict):
    rows: int | None = Field(default=None, gt=0)


class CheckSpec(_Strict):
    min_quality_score: float = Field(default=0.75, ge=0.0, le=1.0)
    max_exact_copy_share: float = Field(default=0.001, ge=0.0, le=1.0)
    max_dcr_train_share: float = Field(default=0.6, ge=0.0, le=1.0)
    evaluation_rows: int = Field(default=5000, gt=0)
    seed: int = 11


class PrivacySpec(_Strict):
    epsilon_budget: float | None = Field(default=None, gt=0.0)


class DatasetSpec(_Strict):
    name: str
    description: str = ""
    source: SourceSpec
    key: str | None = None
    columns: dict[str, ColumnSpec]
    masking: MaskingSpec = MaskingSpec()
    split: SplitSpec = SplitSpec()
    synthesizer: SynthesizerSpec = SynthesizerSpec()
    sample: SampleSpec = SampleSpec()
    checks: CheckSpec = CheckSpec()
    privacy: PrivacySpec = PrivacySpec()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not DATASET_NAME.match(value):
            raise ValueError("must be lower-case letters, digits and underscores, starting with a letter")
        return value

    @field_validator("columns")
    @classmethod
    def _non_empty(cls, value: dict) -> dict:
        if not value:
            raise ValueError("must declare at least one column")
        return value

    @model_validator(mode="after")
    def _key_is_declared(self) -> DatasetSpec:
        if self.key is not None and self.key not in self.columns:
            raise ValueError(f"key {self.key!r} is not one of the declared columns")
        return self

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"field '{field}': {item['msg']}")
    return "; ".join(parts)


def load_spec(path: Path) -> DatasetSpec:
    """Load and validate one spec file; raise SpecError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of fields at the top level")
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{path}: {_describe(exc)}") from exc
    if spec.name != path.stem:
        raise SpecError(f"{path}: field 'name' is {spec.name!r} but the file is named {path.stem!r}")
    return spec


def load_specs(directory: Path) -> list[DatasetSpec]:
    """Every `*.yaml` spec in a folder, sorted by name."""
    return [load_spec(p) for p in sorted(directory.glob("*.yaml"))]
