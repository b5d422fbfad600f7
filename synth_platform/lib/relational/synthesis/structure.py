"""What conditions what: a table's context columns (its own category/boolean columns, then what
its parent inherited), the condition columns a child is drawn on, category lists, and the
``__ctx_<table>`` relations that carry each row's context for its children's training rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synth_platform.lib.relational.contribution import PARENT, q
from synth_platform.lib.relational.synthesis.columns import CATEGORICAL, model_columns
from synth_platform.lib.relational.synthesis.counts import CountModel
from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer

#: Parent columns a child is conditioned on, at most, and the most condition cells allowed.
MAX_CONDITION_COLUMNS = 2
MAX_CONDITION_CELLS = 64


@dataclass
class TableModel:
    """What was fitted for one table: its noisy children counts, its attribute model (`dp_mst`),
    the link's holders per entity (DP outputs only)."""

    name: str
    role: str  # person | child | entity | link
    columns: list[str]  # the table's own model columns
    #: ancestor context columns ``table.column`` it is conditioned on (model columns ``__p_<name>``)
    cond: list[str] = field(default_factory=list)
    model: DPMSTSynthesizer | None = None
    counts: CountModel | None = None
    holders: np.ndarray | None = None  # link only: P(co-holders = c), c = 0..k_e - 1


class StructureMixin:
    """Columns, context and conditioning of every table (`RelationalSynthesizer`)."""

    def model_columns(self, table: str) -> list[str]:
        """Columns a table's model learns (`model_columns`)."""
        return model_columns(self.spec, table)

    def _lookup_fk(self, table: str, column: str):
        return next((fk for fk in self.own.lookup_fks.get(table, []) if fk.child_column == column), None)

    def _categorical(self, table: str, column: str) -> bool:
        return self.spec.tables[table].columns[column].type in CATEGORICAL or bool(
            self._lookup_fk(table, column)
        )

    def _undeclared(self, table: str) -> list[str]:
        """Categorical model columns whose category list must be chosen under DP."""
        return [
            c
            for c in self.model_columns(table)
            if self._categorical(table, c)
            and self.spec.tables[table].columns[c].categories is None
            and not self._lookup_fk(table, c)
        ]

    def _own_context(self, table: str) -> list[str]:
        """A table's category/boolean model columns as context names ``table.column``."""
        return [
            f"{table}.{c}"
            for c in self.model_columns(table)
            if self._categorical(table, c) or self.spec.tables[table].columns[c].type == "boolean"
        ]

    def _condition(self, table: str, parent: str) -> list[str]:
        """Context columns (``table.column``) a table is conditioned on: the parent's own
        category/boolean columns first, then what the parent inherited (a transaction sees its
        account's type and its holder's segment), within `MAX_CONDITION_COLUMNS` and cells."""
        declared = self.spec.tables[table].condition_on
        if declared is not None:
            unknown = [c for c in declared if f"{parent}.{c}" not in self.context[parent]]
            if unknown:
                raise ValueError(
                    f"table {table!r}: condition_on {unknown} are not category/boolean model columns of "
                    f"{parent!r}"
                )
            return [f"{parent}.{c}" for c in declared]
        chosen, cells = [], 1
        sizes = {name: len(self._ctx_categories(name) or []) + 1 for name in self.context[parent]}
        for name in sorted(self.context[parent], key=lambda n: sizes[n]):  # stable: own columns first
            size = sizes[name]
            if len(chosen) < MAX_CONDITION_COLUMNS and cells * size <= MAX_CONDITION_CELLS:
                chosen.append(name)
                cells *= size
        return chosen

    def _ctx_categories(self, name: str) -> list[str] | None:
        table, column = name.split(".", 1)
        return self._categories(table, column)

    def _categories(self, table: str, column: str) -> list[str] | None:
        domain = self.domains.get(table, {}).get(column, {})
        if "categories" in domain:
            return list(domain["categories"])
        if self.spec.tables[table].columns[column].type == "boolean":
            return ["False", "True"]
        return None

    @staticmethod
    def _ctx_relation(scratch: str, table: str) -> str:
        return f"{q(scratch)}.{q('__ctx_' + table)}"

    def _write_context(self, con, table: str, bounded: dict, scratch: str) -> None:
        """`__ctx_<table>`: each row's key and its context columns (own, then its parent's), so a
        child's training rows and children counts can be conditioned on any ancestor."""
        parent = self.own.parent_of(table)
        self.context[table] = self._own_context(table) + (self.context[parent] if parent else [])
        pk = self.spec.tables[table].primary_key
        if pk is None:
            return
        columns = [f"t.{q(pk)} AS __key"] + [
            f"t.{q(name.split('.', 1)[1])} AS {q(name)}" for name in self._own_context(table)
        ]
        join = ""
        if parent is not None:
            columns += [f"p.{q(name)}" for name in self.context[parent]]
            ref = q(self._parent_ref(table))
            join = f" LEFT JOIN {self._ctx_relation(scratch, parent)} p ON t.{ref} = p.__key"
        con.execute(
            f"CREATE OR REPLACE TABLE {self._ctx_relation(scratch, table)} AS SELECT {', '.join(columns)} "
            f"FROM {bounded[table]} t{join}"
        )

    def _parent_ref(self, table: str) -> str:
        """The column of `table` holding its owner parent's key."""
        link = self.own.link
        if link is not None and table == link.entity.parent_table:
            return PARENT
        if link is not None and table == link.table:
            return link.entity.child_column
        return self.own.owner_fk[table].child_column
