"""Dataset specifications: one YAML file per dataset, validated on load.

A spec is the only thing a user writes to add a dataset. Validation is strict
(unknown fields are errors) so that a typo fails loudly, naming the file and the
field, instead of silently falling back to a default.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PiiClass = Literal["direct_identifier", "quasi_identifier", "sensitive", "other"]
ColumnType = Literal["integer", "float", "string", "category", "date", "boolean"]
MaskAction = Literal["drop", "pseudonymize", "keep"]
SynthesizerKind = Literal["gaussian_copula", "ctgan", "tvae", "dp_mst"]

DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def valid_name(value: str) -> str:
    """A dataset's or schema's name (a warehouse table and ledger name): the rule, with its message."""
    if not DATASET_NAME.match(value):
        raise ValueError("must be lower-case letters, digits and underscores, starting with a letter")
    return value


GENERALIZE = re.compile(r"^(zip3|year|month|bin:[1-9][0-9]*)$")
#: Dagster's owner format: an email address, or a team name after `team:` (as Dagster checks it).
OWNER_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,7}")
OWNER_TEAM = re.compile(r"team:\S.*")


def owner_problem(owner: str) -> str | None:
    """Why `owner` is not an owner Dagster accepts, or None: checked here, on load, so a typo is
    reported with the spec's file and field instead of as a failure to load the whole code location."""
    if OWNER_EMAIL.fullmatch(owner) or OWNER_TEAM.fullmatch(owner):
        return None
    return (
        f"{owner!r} is not an owner: give an email address (e.g. data-owner@example.com) or a team "
        "name prefixed with 'team:' (e.g. team:customer-analytics)"
    )


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def unusable_column_name(name: str) -> str | None:
    """Why a column name cannot be used, or None. Any name a CSV header or Parquet field can
    carry works (spaces, dashes, dots, leading digits, upper case, non-ASCII, SQL reserved
    words): the warehouse quotes every identifier. Only an empty name, or one holding a NUL or
    another control character, is refused."""
    if not name.strip():
        return "a column name is empty (or only spaces); give every column a name in the file and the spec"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return (
            f"column name {name.encode('unicode_escape').decode()!r} holds a control character "
            "(NUL, tab, newline, ...); rename the column in the file and the spec"
        )
    return None


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
    #: Public domain a data owner knows without looking at the data (a code list, a form's range).
    #: Declared domains cost no privacy budget; undeclared ones are chosen under DP by `dp_mst`.
    categories: list[str] | None = None
    #: [low, high] numbers; for a date column two dates (YAML `1935-01-01`).
    bounds: tuple[float, float] | tuple[date, date] | None = None

    @field_validator("generalize")
    @classmethod
    def _known_generalization(cls, value: str | None) -> str | None:
        if value is not None and not GENERALIZE.match(value):
            raise ValueError("must be one of zip3, year, month or bin:<width>")
        return value

    @field_validator("categories")
    @classmethod
    def _category_list(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("must be a non-empty list of distinct categories")
        return value

    @field_validator("bounds")
    @classmethod
    def _ordered_bounds(cls, value):
        if value is None:
            return value
        dates = all(isinstance(v, date) for v in value)
        if not (dates or (_number(value[0]) and _number(value[1]))) or not value[0] < value[1]:
            raise ValueError("must be two finite numbers (or two dates) [low, high] with low < high")
        return value

    @model_validator(mode="after")
    def _domain_fits_type(self) -> ColumnSpec:
        if self.bounds is not None:
            dates = isinstance(self.bounds[0], date)
            if self.type not in (("date",) if dates else ("integer", "float")):
                kind = "date columns" if dates else "integer or float columns"
                raise ValueError(f"these bounds are for {kind}, not {self.type}")
        if self.categories is not None and self.type not in ("category", "string"):
            raise ValueError(f"categories are for category or string columns, not {self.type}")
        if self.categories is not None and self.generalize is not None:
            raise ValueError("categories cannot be declared for a generalised column")
        return self


class SourceSpec(_Strict):
    landing_dir: str
    format: Literal["csv", "parquet"] = "csv"
    #: An explicit floor: fewer data rows than this and ingest refuses the file (a 2-row file once
    #: replaced a release). It is not the only one: ingest also refuses a table with fewer people than
    #: the release gate needs after the split (`lib.synthesize.split.rows_needed`: checks.min_holdout_rows and
    #: min_evaluation_rows plus the private gate's noise margin, at split.holdout_fraction; about
    #: 2,000 rows at the defaults, more as checks join the gate and share its rho), and the larger
    #: of the two applies. Raise it to refuse tables smaller than the gate would accept.
    min_rows: int = Field(default=200, ge=1)
    #: Size limits, checked before a file is materialised (a 3 KB zstd Parquet file can expand to
    #: 5 million rows): bytes on disk (stat), data rows (Parquet footer; CSV counted while read),
    #: and for Parquet the uncompressed size stated in the footer. Over one, the file is quarantined
    #: with a message naming the field to raise.
    max_bytes: int = Field(default=2 * 1024**3, ge=1)
    max_rows: int = Field(default=20_000_000, ge=1)
    max_uncompressed_bytes: int = Field(default=8 * 1024**3, ge=1)

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
    """The train/holdout split (lib.synthesize.split), keyed with the platform's pseudonym key.

    A row's side is an HMAC of its key value (with `key:`) or of its whole content (without),
    so adding or removing one source row moves no other row between train and holdout, and a
    person stays on one side across refreshes. `seed` is mixed into that HMAC (change it to
    draw another split). **One row per person:** with `key:`, at most one row per key value
    reaches train or holdout (the one with the smallest keyed hash of its content: deterministic
    and independent of other people's rows), so the differential-privacy guarantee, which is per
    row, is per person; the number of rows dropped is a count in the `train` asset's metadata
    only. Without a key the platform cannot tell people apart: the guarantee is per row.

    `holdout_fraction` sets how many people the release gate can judge with: a small table needs a
    larger fraction for its holdout to reach `checks.min_holdout_rows` plus the private gate's noise
    margin (`synthesize.split.rows_needed`; ingest refuses a table too small for its fraction and names the
    fraction that would do, and the split stops before training if a side still falls short).
    """

    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    seed: int = 42


#: dp_mst parameters: name -> (type check, rule shown in the error message).
DP_MST_PARAMS = {
    "epsilon": (lambda v: _number(v) and 0.0 < v <= 100.0, "a number in (0, 100]"),
    "delta": (lambda v: _number(v) and 0.0 < v < 1e-3, "a number in (0, 0.001)"),
    "bins": (lambda v: _integer(v) and 2 <= v <= 256, "an integer in [2, 256]"),
    "iters": (lambda v: _integer(v) and 10 <= v <= 100_000, "an integer in [10, 100000]"),
}


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Kinds with a differential-privacy guarantee. The others must be chosen explicitly, with
#: `privacy: {epsilon_budget: null}`, and are labelled NOT_DP_LABEL wherever they are shown.
DP_SYNTHESIZER_KINDS = frozenset({"dp_mst"})
DEFAULT_SYNTHESIZER_KIND = "dp_mst"
DEFAULT_DP_PARAMS = {"epsilon": 1.0, "delta": 1e-9}
NOT_DP_LABEL = "not differentially private"


def is_differentially_private(kind: str) -> bool:
    return kind in DP_SYNTHESIZER_KINDS


def synthesizer_label(kind: str, params: dict | None = None) -> str:
    """How a synthesizer is shown to people: its kind and whether it is differentially private.

    `dp_mst: differentially private (epsilon 1 at delta 1e-09 per training)` or
    `gaussian_copula: not differentially private (no formal privacy guarantee)`.
    """
    if not is_differentially_private(kind):
        return f"{kind}: {NOT_DP_LABEL} (no formal privacy guarantee)"
    merged = {**DEFAULT_DP_PARAMS, **(params or {})}
    return (
        f"{kind}: differentially private (epsilon {float(merged['epsilon']):g} at delta "
        f"{float(merged['delta']):g} per training)"
    )


class SynthesizerSpec(_Strict):
    """The synthesizer. Default: `dp_mst` (differentially private) at epsilon 1, delta 1e-9 per
    training. `gaussian_copula`, `ctgan` and `tvae` give no privacy guarantee: a spec choosing one
    must also say so with `privacy: {epsilon_budget: null}`, and its output is labelled
    "not differentially private"."""

    kind: SynthesizerKind = DEFAULT_SYNTHESIZER_KIND
    params: dict = Field(default_factory=dict)
    max_train_rows: int | None = Field(default=None, gt=0)
    seed: int = 7

    @model_validator(mode="before")
    @classmethod
    def _default_dp_params(cls, values):
        """dp_mst's epsilon and delta are always explicit in the parameters (and so in the ledger)."""
        if isinstance(values, dict) and values.get("kind", DEFAULT_SYNTHESIZER_KIND) == "dp_mst":
            params = values.get("params")
            if params is None or isinstance(params, dict):
                values = {**values, "params": {**DEFAULT_DP_PARAMS, **(params or {})}}
        return values

    @property
    def differentially_private(self) -> bool:
        return is_differentially_private(self.kind)

    @property
    def label(self) -> str:
        return synthesizer_label(self.kind, self.params)

    @model_validator(mode="after")
    def _dp_mst_params(self) -> SynthesizerSpec:
        if self.kind != "dp_mst":
            return self
        unknown = sorted(set(self.params) - set(DP_MST_PARAMS))
        if unknown:
            raise ValueError(f"unknown dp_mst parameter(s) {unknown}; allowed: {sorted(DP_MST_PARAMS)}")
        for name, (ok, rule) in DP_MST_PARAMS.items():
            if name in self.params and not ok(self.params[name]):
                raise ValueError(f"dp_mst parameter {name!r} must be {rule}")
        return self


class SampleSpec(_Strict):
    """How many synthetic rows to release.

    `rows` null (the default): for `dp_mst`, the model's noisy total (the weighted mean of its noisy
    1-way marginals' totals, post-processing: costs nothing), rounded, at least 1 -- never the exact
    training count, which is not differentially private; for the non-private kinds the training
    split's row count. A number: exactly that many rows (public, declared by the data owner).
    """

    rows: int | None = Field(default=None, gt=0)


class CheckSpec(_Strict):
    """Release-gate thresholds. The privacy attacks (`lib/gate/attacks/`) block when the *lower* bound
    of their 95 % interval exceeds the threshold; the defaults pass honest generators and block
    every table of the planted-leak battery (`lib/gate/leak_battery.py`, `make bench`). Seven attacks
    are relative (training vs holdout people); `max_absolute_exposure_excess` bounds the absolute
    one (real people of the whole source found beyond chance), which holds whatever the generator
    was trained on."""

    min_quality_score: float = Field(default=0.75, ge=0.0, le=1.0)
    max_exact_copy_share: float = Field(default=0.001, ge=0.0, le=1.0)
    evaluation_rows: int = Field(default=5000, gt=0)
    seed: int = 11
    #: excess share of training people within the holdout's `close_copy_quantile` distance of a synthetic row
    max_close_copy_excess: float = Field(default=0.003, ge=0.0, le=1.0)
    close_copy_quantile: float = Field(default=0.01, gt=0.0, lt=0.5)
    #: excess share of training people with a synthetic twin on all but one or two columns
    max_near_copy_excess: float = Field(default=0.002, ge=0.0, le=1.0)
    max_membership_auc: float = Field(default=0.55, ge=0.5, le=1.0)
    max_singling_out_risk: float = Field(default=0.20, ge=0.0, le=1.0)
    max_linkability_risk: float = Field(default=0.10, ge=0.0, le=1.0)
    max_inference_risk: float = Field(default=0.10, ge=0.0, le=1.0)
    #: excess share of quasi-identifier-unique training people whose profile reappears
    max_unique_people_excess: float = Field(default=0.002, ge=0.0, le=1.0)
    #: excess share of rare real people of the whole source found in the table beyond chance
    #: (lib/gate/attacks/exposure.py): valid whatever the generator was trained on
    max_absolute_exposure_excess: float = Field(default=0.002, ge=0.0, le=1.0)
    anonymeter_attacks: int = Field(default=300, ge=10)
    #: no evidence is no pass: a smaller holdout / train / synthetic table blocks every attack
    min_holdout_rows: int = Field(default=200, ge=1)
    min_evaluation_rows: int = Field(default=200, ge=1)
    #: zCDP rho one gate evaluation (a new model + synthetic table pair) spends on its noisy figures;
    #: charged to the dataset's budget before the gate reads real data (lib/gate/private_decision.py)
    gate_rho: float = Field(default=0.01, gt=0.0, le=1.0)
    #: the gate's family-wise false-block rate alpha: an honest release (every true figure at or
    #: inside its threshold) is blocked by the gate's noise with probability at most alpha per
    #: evaluation; each noisy figure is decided at z = Phi^-1(1 - alpha / figures) (Bonferroni over
    #: every figure the gate decides, lib/gate/private_decision.py). Smaller: fewer false blocks, and a
    #: real leak must be larger to be caught (a larger gate_rho buys that power back).
    false_block_rate: float = 0.01

    @field_validator("false_block_rate")
    @classmethod
    def _false_block_rate_is_a_small_probability(cls, value: float) -> float:
        if not (math.isfinite(value) and 0.0 < value < 0.5):
            raise ValueError(
                f"must be a probability strictly between 0 and 0.5 (the chance that an honest release "
                f"is blocked by the gate's noise, e.g. 0.01 = 1 in 100 evaluations), not {value!r}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _replaced_fields(cls, values):
        if isinstance(values, dict) and "max_dcr_train_share" in values:
            raise ValueError(
                "max_dcr_train_share was replaced by calibrated privacy attacks; remove it (thresholds: "
                "max_close_copy_excess, max_near_copy_excess, max_membership_auc, max_singling_out_risk, "
                "max_linkability_risk, max_inference_risk, max_unique_people_excess)"
            )
        return values


#: The total budget a dataset gets when its spec does not state one: about 70 trainings at epsilon 1.
DEFAULT_EPSILON_BUDGET = 10.0


class PrivacySpec(_Strict):
    """The dataset's total privacy budget: epsilon at `delta`, over all its trainings (composed in zCDP).

    Default: epsilon 10 at delta 1e-9. `epsilon_budget: null` says explicitly that the dataset has
    no budget (unbounded): any synthesizer may train, and non-private ones are recorded as an
    unbounded spend. A non-private synthesizer needs that explicit null (a spec that chooses one
    and leaves the default budget is refused on load). With a budget, only differentially private
    kinds train, and a training that would take the total past it is refused before any data is read.
    """

    epsilon_budget: float | None = Field(default=DEFAULT_EPSILON_BUDGET, gt=0.0)
    delta: float = Field(default=1e-9, gt=0.0, lt=1e-3)

    @field_validator("epsilon_budget")
    @classmethod
    def _finite_budget(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite positive number, or omitted for no budget")
        return value


class UtilitySpec(_Strict):
    """Train-synthetic-test-real: target columns an analyst would model, and the score gap allowed."""

    targets: list[str] = Field(default_factory=list)
    #: Largest allowed TRTR - TSTR gap (AUC for binary targets, accuracy multi-class, R² numeric).
    max_gap: float = Field(default=0.1, ge=0.0, le=1.0)
    max_rows: int = Field(default=20_000, gt=0)
    seed: int = 3


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
    utility: UtilitySpec = UtilitySpec()
    #: Who owns the data (an email or `team:<name>`), shown as the owner of every asset of the
    #: dataset's chain. Left out of the spec's digest (`exclude`): a new owner changes who is asked,
    #: not what the chain computes, so it neither re-runs the newest landing file nor changes a
    #: certificate's spec digest.
    owner: str | None = Field(default=None, exclude=True)

    @field_validator("owner")
    @classmethod
    def _owner_format(cls, value: str | None) -> str | None:
        problem = None if value is None else owner_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return valid_name(value)

    @field_validator("columns")
    @classmethod
    def _non_empty(cls, value: dict) -> dict:
        if not value:
            raise ValueError("must declare at least one column")
        problems = [p for p in (unusable_column_name(str(name)) for name in value) if p]
        folded: dict[str, list[str]] = {}
        for name in value:
            folded.setdefault(str(name).casefold(), []).append(str(name))
        clashes = [names for names in folded.values() if len(names) > 1]
        if clashes:
            problems.append(
                f"column names {clashes[0]} differ only in upper/lower case; the warehouse (DuckDB) "
                "treats them as one column: rename one of them in the file and the spec"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("columns", mode="before")
    @classmethod
    def _names_are_text(cls, value: object) -> object:
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str):
                    raise ValueError(
                        f"column name {name!r} was read by YAML as a {type(name).__name__}, not as text: "
                        f"put it in quotes (e.g. '{name}': ...) so it matches the file's header"
                    )
        return value

    @model_validator(mode="after")
    def _non_private_kind_is_explicit(self) -> DatasetSpec:
        """A non-DP synthesizer under the default budget could never train: say so on load."""
        declared = "privacy" in self.model_fields_set and "epsilon_budget" in self.privacy.model_fields_set
        if self.synthesizer.differentially_private or declared:
            return self
        raise ValueError(
            f"synthesizer.kind {self.synthesizer.kind!r} is {NOT_DP_LABEL}, but privacy.epsilon_budget is "
            f"left at its default (epsilon {self.privacy.epsilon_budget:g} at delta {self.privacy.delta:g}), "
            "under which only differentially private synthesizers may train. Either choose kind dp_mst "
            "(the default, differentially private), or state that this dataset has no privacy "
            "guarantee with `privacy: {epsilon_budget: null}`; its synthetic tables are then labelled "
            f"{NOT_DP_LABEL!r}"
        )

    @model_validator(mode="after")
    def _key_is_declared(self) -> DatasetSpec:
        if self.key is not None and self.key not in self.columns:
            raise ValueError(f"key {self.key!r} is not one of the declared columns")
        unknown = [t for t in self.utility.targets if t not in self.columns]
        if unknown:
            raise ValueError(f"utility target(s) {unknown} are not declared columns")
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


def spec_sha256(spec: DatasetSpec) -> str:
    """SHA-256 of the spec as validated (every field): a public digest, the same wherever shown."""
    import hashlib

    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()


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


def spec_location(name: str) -> str:
    """Where a person edits dataset `name`'s spec, for error messages that tell them what to change
    (the GovernedDataset component instance in the project's datasets folder)."""
    return f"synth_platform/defs/datasets/{name}/defs.yaml"
