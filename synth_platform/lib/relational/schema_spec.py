"""A schema spec: several related tables synthesised together, with a budget per person.

Why a spec of its own: a dataset spec (`lib.spec.DatasetSpec`) describes one table, and its
privacy unit is a row. A schema holds a *person* table (the privacy unit), tables that belong to a
person through foreign keys (accounts, orders, transactions), at most one many-to-many *link*
table (people <-> accounts), and public *lookup* tables (regions) that are copied, not modelled.
The synthesizer needs the ownership structure (which person every row belongs to) to bound each
person's contribution and charge the budget per person, so the spec is validated up front with
errors that name the table, the column and what to change.

Format (YAML or a dict)::

    name: bank
    person: people
    tables:
      people:   {primary_key: person_id, columns: {person_id: {type: integer}, ...}}
      regions:  {primary_key: region_id, lookup: true, columns: {...}}
      accounts: {primary_key: account_id, columns: {...}}
      people_accounts: {link: true, columns: {person_id: ..., account_id: ..., role: ...}}
      transactions:    {primary_key: txn_id, columns: {...}}
    foreign_keys:
      - {column: people.region_id, references: regions.region_id}
      - {column: people_accounts.person_id, references: people.person_id, max_children: 4}
      - {column: people_accounts.account_id, references: accounts.account_id, max_children: 3}
      - {column: transactions.account_id, references: accounts.account_id, max_children: 20}

`max_children` (k) bounds the rows a parent may have along that foreign key; rows beyond it are
dropped deterministically and counted (`lib.relational.contribution`). On the link table, k of
its person-side key bounds the holdings of a person (chosen among that person's own holdings, so
no one's rows depend on anyone else's), and k of its entity key sets the public cells of the
holders-per-entity histogram (it drops no row). Left out, k is chosen
under DP from a noisy histogram of children per parent (a small share of the budget). Columns are
`lib.spec.ColumnSpec`, so `categories:`, `bounds:`, `pii:` and `mask:` mean what they mean for a
single table. A single-table dataset is a one-table schema: `SchemaSpec.from_dataset(spec)`.

Supported shapes (checked): every modelled table other than the person and the link table has
exactly one foreign key to a modelled table (its owner edge; any number to lookups); the link
table has exactly two, one towards the person side and one to an *entity* table (accounts) that
is owned through it.

The gate's settings (optional, `SchemaCheckSpec`)::

    checks:
      gate_rho: 0.05          # zCDP rho one gate evaluation spends (default 0.01)
      false_block_rate: 0.01  # chance an honest release is blocked by the gate's noise
      max_children_tvd: 0.25  # ...and any other threshold of `lib.relational.gate.RelationalChecks`

A small schema's noisy cross-table figures are too wide to block at the default rho; raising it
here (rather than in Python) keeps the choice in the spec, its digest and its review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synth_platform.lib.spec import (
    DATASET_NAME,
    ColumnSpec,
    DatasetSpec,
    PrivacySpec,
    SpecError,
    SplitSpec,
    unusable_column_name,
    valid_name,
)

#: zCDP rho one evaluation of a schema's gate spends unless `checks.gate_rho` says otherwise.
DEFAULT_GATE_RHO = 0.01

#: PII classes a public lookup table may not hold: a lookup is copied to the release as it is.
PERSON_PII = ("direct_identifier", "quasi_identifier", "sensitive")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableSpec(_Strict):
    """One table of the schema. `lookup`: public, copied verbatim; `link`: the many-to-many table."""

    columns: dict[str, ColumnSpec]
    primary_key: str | None = None
    lookup: bool = False
    link: bool = False
    #: Parent columns (category or boolean) this table's rows are conditioned on; default: up to
    #: two of the owner parent's category/boolean columns, in declaration order.
    condition_on: list[str] | None = None

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict) -> dict:
        if not value:
            raise ValueError("must declare at least one column")
        problems = [p for p in (unusable_column_name(str(n)) for n in value) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return value


class ForeignKey(_Strict):
    """`column` (child `table.column`) references `references` (parent `table.primary_key`)."""

    column: str
    references: str
    max_children: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("column", "references")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if value.count(".") < 1 or not all(value.split(".", 1)):
            raise ValueError(f"{value!r} must be written table.column (e.g. accounts.account_id)")
        return value

    @property
    def child_table(self) -> str:
        return self.column.split(".", 1)[0]

    @property
    def child_column(self) -> str:
        return self.column.split(".", 1)[1]

    @property
    def parent_table(self) -> str:
        return self.references.split(".", 1)[0]

    @property
    def parent_column(self) -> str:
        return self.references.split(".", 1)[1]


class RelationalSynthesizerSpec(_Strict):
    """Per-training parameters: epsilon/delta of the whole schema's training, dp_mst knobs."""

    epsilon: float = Field(default=1.0, gt=0.0, le=100.0)
    delta: float = Field(default=1e-9, gt=0.0, lt=1e-3)
    iters: int = Field(default=300, ge=10, le=100_000)
    bins: int = Field(default=16, ge=2, le=256)
    seed: int = 7


class SchemaCheckSpec(_Strict):
    """The schema gate's settings: its rho per evaluation and the thresholds of
    `lib.relational.gate.RelationalChecks` (same names). A threshold left out keeps its
    `RelationalChecks` default, so the defaults live in one place."""

    #: zCDP rho one gate evaluation (a new model + synthetic tables pair) spends on its noisy
    #: figures, charged to the schema's budget before the gate reads real data. Larger: narrower
    #: figures (a small schema's cross-table figures can block at all), more budget per release.
    gate_rho: float = Field(default=DEFAULT_GATE_RHO, gt=0.0, le=1.0)
    false_block_rate: float | None = None
    max_children_tvd: float | None = Field(default=None, ge=0.0, le=1.0)
    max_pair_trend_tvd: float | None = Field(default=None, ge=0.0, le=1.0)
    max_profile_exact_copy_excess: float | None = Field(default=None, ge=0.0, le=1.0)
    max_profile_close_copy_excess: float | None = Field(default=None, ge=0.0, le=1.0)
    min_holdout_people: int | None = Field(default=None, ge=1)
    min_table_quality: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("false_block_rate")
    @classmethod
    def _false_block_rate_is_a_small_probability(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and 0.0 < value < 0.5):
            raise ValueError(
                f"must be a probability strictly between 0 and 0.5 (the chance that an honest release "
                f"is blocked by the gate's noise, e.g. 0.01 = 1 in 100 evaluations), not {value!r}"
            )
        return value

    def relational_checks(self):
        """The `RelationalChecks` these settings give (imported here: the gate imports this module)."""
        from synth_platform.lib.relational.gate import RelationalChecks

        return RelationalChecks(**self.model_dump(exclude_none=True, exclude={"gate_rho"}))


class SchemaSpec(_Strict):
    name: str
    description: str = ""
    person: str
    tables: dict[str, TableSpec]
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    synthesizer: RelationalSynthesizerSpec = RelationalSynthesizerSpec()
    split: SplitSpec = SplitSpec()
    privacy: PrivacySpec = PrivacySpec()
    checks: SchemaCheckSpec = SchemaCheckSpec()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return valid_name(value)

    @field_validator("tables")
    @classmethod
    def _table_names(cls, value: dict) -> dict:
        if not value:
            raise ValueError("must declare at least one table")
        bad = [n for n in value if not DATASET_NAME.match(str(n))]
        if bad:
            raise ValueError(
                f"table name(s) {bad} must be lower-case letters, digits and underscores, "
                "starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _structure(self) -> SchemaSpec:
        """Every structural rule, in the order a user would fix them; the first problem is raised."""
        for check in (_check_person, _check_keys, _check_foreign_keys, _check_cycles, _check_lookups):
            check(self)
        ownership(self)  # raises on an unsupported shape or an unreachable table
        _check_gate_rho(self)
        return self

    # ------------------------------------------------------------------ conversions

    @classmethod
    def from_dataset(cls, spec: DatasetSpec) -> SchemaSpec:
        """A single-table dataset as a one-table schema: the table is the person table, its key
        (if any) the primary key; nothing else changes, so the single-table chain keeps its spec."""
        params = spec.synthesizer.params if spec.synthesizer.kind == "dp_mst" else {}
        synthesizer = {k: params[k] for k in ("epsilon", "delta", "iters", "bins") if k in params}
        return cls(
            name=spec.name,
            description=spec.description,
            person=spec.name,
            tables={spec.name: TableSpec(columns=dict(spec.columns), primary_key=spec.key)},
            synthesizer=RelationalSynthesizerSpec(**synthesizer, seed=spec.synthesizer.seed),
            split=spec.split,
            privacy=spec.privacy,
        )

    # ------------------------------------------------------------------ helpers

    def fks_of(self, table: str) -> list[ForeignKey]:
        return [fk for fk in self.foreign_keys if fk.child_table == table]

    @property
    def lookups(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.lookup]

    @property
    def modelled(self) -> list[str]:
        return ownership(self).order


# ---------------------------------------------------------------------- checks


def _check_person(spec: SchemaSpec) -> None:
    if spec.person not in spec.tables:
        raise ValueError(
            f"person table {spec.person!r} is not one of the declared tables {sorted(spec.tables)}; "
            "set `person:` to the table with one row per person (the privacy unit)"
        )
    if spec.tables[spec.person].lookup:
        raise ValueError(
            f"lookup table {spec.person!r} holds person data: it is the person table; "
            "a lookup is public and copied as it is -- remove `lookup: true` from it"
        )
    if spec.tables[spec.person].link:
        raise ValueError(f"the person table {spec.person!r} cannot be the link table; remove `link: true`")
    links = [n for n, t in spec.tables.items() if t.link]
    if len(links) > 1:
        raise ValueError(f"only one many-to-many link table is supported, found {links}")


def _check_keys(spec: SchemaSpec) -> None:
    for name, table in spec.tables.items():
        if table.primary_key is not None and table.primary_key not in table.columns:
            raise ValueError(
                f"table {name!r}: primary_key {table.primary_key!r} is not one of its columns "
                f"{list(table.columns)}"
            )
        columns: dict[str, list[str]] = {}
        for column in table.columns:
            columns.setdefault(column.casefold(), []).append(column)
        clash = [c for c in columns.values() if len(c) > 1]
        if clash:
            raise ValueError(
                f"duplicate column names in table {name!r}: {clash[0]} differ only in upper/lower case, "
                "and the warehouse treats them as one; rename one"
            )
    seen: set[str] = set()
    for fk in spec.foreign_keys:
        if fk.column in seen:
            raise ValueError(
                f"duplicate foreign key on {fk.column}: a column references one parent; remove one entry"
            )
        seen.add(fk.column)


def _check_foreign_keys(spec: SchemaSpec) -> None:
    for fk in spec.foreign_keys:
        for table, column, what in (
            (fk.child_table, fk.child_column, "column"),
            (fk.parent_table, fk.parent_column, "references"),
        ):
            if table not in spec.tables:
                raise ValueError(
                    f"foreign key {fk.column} -> {fk.references}: table {table!r} ({what}) is not "
                    f"declared; declared tables: {sorted(spec.tables)}"
                )
            if column not in spec.tables[table].columns:
                raise ValueError(
                    f"foreign key {fk.column} -> {fk.references}: table {table!r} has no column "
                    f"{column!r}; its columns: {list(spec.tables[table].columns)}"
                )
        parent = spec.tables[fk.parent_table]
        if parent.primary_key != fk.parent_column:
            raise ValueError(
                f"foreign key {fk.column} -> {fk.references}: a foreign key must reference the "
                f"parent's primary key; set `primary_key: {fk.parent_column}` on table "
                f"{fk.parent_table!r} or reference {fk.parent_table}.{parent.primary_key}"
            )


def _check_cycles(spec: SchemaSpec) -> None:
    """Foreign keys must form a DAG: a cycle (a table referencing itself, or A -> B -> A) has no
    table to synthesise first and no person every row belongs to."""
    parents: dict[str, list[str]] = {n: [] for n in spec.tables}
    for fk in spec.foreign_keys:
        parents[fk.child_table].append(fk.parent_table)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for parent in parents[node]:
            if state.get(parent) == 1:
                cycle = [*path[path.index(parent) :], parent]
                raise ValueError(
                    "foreign keys form a cycle " + " -> ".join(cycle) + " (child -> referenced parent): "
                    "remove one of these foreign "
                    "keys (a hierarchy inside one table, e.g. a manager id, is not supported yet)"
                )
            if state.get(parent) is None:
                visit(parent)
        path.pop()
        state[node] = 2

    for name in spec.tables:
        if state.get(name) is None:
            visit(name)


def _check_lookups(spec: SchemaSpec) -> None:
    for name, table in spec.tables.items():
        if not table.lookup:
            continue
        if table.link:
            raise ValueError(f"table {name!r} cannot be both a lookup and the link table")
        personal = [
            c for c, col in table.columns.items() if col.pii is not None and col.pii.pii_class in PERSON_PII
        ]
        if personal:
            raise ValueError(
                f"lookup table {name!r} holds person data: column(s) {personal} are declared "
                f"{sorted({table.columns[c].pii.pii_class for c in personal})}; a lookup is public and "
                "copied to the release as it is -- remove `lookup: true` to model it instead"
            )
        for fk in spec.fks_of(name):
            if not spec.tables[fk.parent_table].lookup:
                raise ValueError(
                    f"lookup table {name!r} holds person data: its foreign key {fk.column} -> "
                    f"{fk.references} points at the modelled table {fk.parent_table!r}; a public lookup "
                    "may reference only other lookups -- remove `lookup: true` to model it instead"
                )


def _check_gate_rho(spec: SchemaSpec) -> None:
    """A gate rho the whole budget could never pay would block every release without reading a
    row (the charge is refused at run time): refuse it on load instead. Only a rho the spec sets
    is checked, so a spec that leaves the default keeps loading as before."""
    budget = spec.privacy.epsilon_budget
    if budget is None or "gate_rho" not in spec.checks.model_fields_set:
        return
    from synth_platform.lib.synthesize.accounting import rho_from_epsilon_delta

    allowed = rho_from_epsilon_delta(budget, spec.privacy.delta)
    if spec.checks.gate_rho > allowed:
        raise ValueError(
            f"checks.gate_rho {spec.checks.gate_rho:g} is more than the schema's whole budget could ever "
            f"pay: privacy.epsilon_budget {budget:g} at delta {spec.privacy.delta:g} is rho "
            f"{allowed:.4g} in all, and every training (synthesizer.epsilon "
            f"{spec.synthesizer.epsilon:g}) spends from it too, so every gate would block without "
            f"judging; lower checks.gate_rho well below {allowed:.4g} or raise privacy.epsilon_budget"
        )


# ---------------------------------------------------------------------- ownership


@dataclass(frozen=True)
class Link:
    """The many-to-many table: `side` references the person side, `entity` the owned entity table."""

    table: str
    side: ForeignKey
    entity: ForeignKey


@dataclass(frozen=True)
class Ownership:
    """Which person every row belongs to, as a structure: the synthesis and bounding order.

    `order`: modelled tables, person first, each after the table it is owned through.
    `owner_fk[t]`: for a child table, its foreign key to its (modelled) owner parent; for the
    entity of the link, the link's entity key (the entity is owned through the link's side key).
    `lookup_fks[t]`: foreign keys from a modelled table to lookups (modelled as public categories).
    """

    order: list[str]
    owner_fk: dict[str, ForeignKey] = field(default_factory=dict)
    link: Link | None = None
    lookup_fks: dict[str, list[ForeignKey]] = field(default_factory=dict)

    def parent_of(self, table: str) -> str | None:
        """The table whose rows own `table`'s rows (for the entity: the link's person side)."""
        if table in self.owner_fk and self.link is not None and table == self.link.entity.parent_table:
            return self.link.side.parent_table
        fk = self.owner_fk.get(table)
        return fk.parent_table if fk is not None else None


def ownership(spec: SchemaSpec) -> Ownership:
    """Walk out from the person table along foreign keys (and through the link table) and say,
    for every modelled table, through which key it belongs to a person. Raises on a table with two
    owner keys, a malformed link table, or a modelled table no person is reachable from."""
    lookups = set(spec.lookups)
    modelled_fks = {
        name: [fk for fk in spec.fks_of(name) if fk.parent_table not in lookups] for name in spec.tables
    }
    lookup_fks = {
        name: [fk for fk in spec.fks_of(name) if fk.parent_table in lookups]
        for name in spec.tables
        if name not in lookups
    }
    if modelled_fks[spec.person]:
        fk = modelled_fks[spec.person][0]
        raise ValueError(
            f"the person table {spec.person!r} has a foreign key {fk.column} -> {fk.references} to a "
            "modelled table; the person table is the root every row belongs to -- reference only lookups"
        )
    link = None
    for name, table in spec.tables.items():
        if table.link:
            fks = modelled_fks[name]
            if len(fks) != 2:
                raise ValueError(
                    f"link table {name!r} must have exactly two foreign keys to modelled tables "
                    f"(e.g. person_id and account_id), it has {len(fks)}"
                )
            link = (name, fks)
        elif name not in lookups and name != spec.person and len(modelled_fks[name]) > 1:
            keys = [fk.column for fk in modelled_fks[name]]
            raise ValueError(
                f"table {name!r} has {len(keys)} foreign keys to modelled tables {keys}: only the "
                "link table may have two -- mark it `link: true` or keep one owner key"
            )
    order = [spec.person]
    owner_fk: dict[str, ForeignKey] = {}
    resolved_link: Link | None = None
    changed = True
    while changed:
        changed = False
        for name in spec.tables:
            if name in order or name in lookups:
                continue
            if link is not None and name == link[0]:
                fks = link[1]
                side = next((fk for fk in fks if fk.parent_table in order), None)
                if side is None:
                    continue
                entity = next(fk for fk in fks if fk is not side)
                if entity.parent_table in order:
                    raise ValueError(
                        f"link table {name!r}: both its keys point at tables already owned by a person "
                        f"({side.parent_table!r}, {entity.parent_table!r}); one side must be an entity "
                        "table owned only through the link"
                    )
                resolved_link = Link(name, side, entity)
                order.append(name)
                order.append(entity.parent_table)
                owner_fk[name] = side
                owner_fk[entity.parent_table] = entity
                changed = True
                continue
            fks = modelled_fks[name]
            if fks and fks[0].parent_table in order:
                order.append(name)
                owner_fk[name] = fks[0]
                changed = True
    missing = [n for n in spec.tables if n not in order and n not in lookups]
    if missing:
        raise ValueError(
            f"the person table {spec.person!r} is not reachable from table(s) {missing}: every "
            "modelled table must belong to a person through foreign keys (child -> parent, or through "
            "the link table); add a foreign key from each towards the person table, or mark a public "
            "table `lookup: true`"
        )
    if resolved_link is not None:
        for fk in spec.foreign_keys:
            if fk.parent_table == resolved_link.table:
                raise ValueError(
                    f"foreign key {fk.column} -> {fk.references}: the link table cannot be a parent "
                    "(not supported yet); reference the entity table instead"
                )
        for fk in modelled_fks[resolved_link.entity.parent_table]:
            raise ValueError(
                f"entity table {resolved_link.entity.parent_table!r} (owned through link "
                f"{resolved_link.table!r}) cannot also have the foreign key {fk.column}; remove it"
            )
    return Ownership(order=order, owner_fk=owner_fk, link=resolved_link, lookup_fks=lookup_fks)


# ---------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except a mapping may not repeat a key (YAML keeps the last silently,
    which would let two tables called `accounts` become one)."""


def _no_duplicates(loader: _UniqueKeyLoader, node, deep: bool = False):
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    dupes = sorted({str(k) for k in keys if keys.count(k) > 1})
    if dupes:
        raise SpecError(f"duplicate names {dupes} (line {node.start_mark.line + 1}): each name once")
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"field '{where}': {item['msg']}")
    return "; ".join(parts)


def parse_schema_spec(raw: dict, where: str = "schema spec") -> SchemaSpec:
    """Validate a mapping; raise SpecError naming `where` and the field."""
    try:
        return SchemaSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{where}: {_describe(exc)}") from exc


def load_schema_spec(path: Path) -> SchemaSpec:
    """Load a schema YAML file (duplicate names refused), validated; errors name the file."""
    try:
        raw = yaml.load(Path(path).read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of fields at the top level")
    return parse_schema_spec(raw, str(path))
