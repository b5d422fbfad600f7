"""Sampling a referentially intact schema, a chunk of people at a time: fresh keys, children
counts drawn per parent, children matched to parents with the same context, lookups copied,
identifier columns refilled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_platform.lib.relational.synthesis.columns import cond_key

#: People per sampled chunk (`sample_chunks`): memory is one chunk of people and their rows.
SAMPLE_CHUNK_PEOPLE = 50_000


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for a model's sampler, drawn from the schema sample's generator."""
    return int(rng.integers(0, 2**31 - 1))


class SamplingMixin:
    """`sample`, `sample_chunks` and what they draw per table (`RelationalSynthesizer`)."""

    def sample(
        self, seed: int = 0, people: int | None = None, chunk_people: int | None = None
    ) -> dict[str, pd.DataFrame]:
        """A synthetic schema: every table of the spec (lookups copied), fresh keys, no orphans,
        identifier columns refilled (`relational.refill`). In one frame per table: for bounded
        memory use `sample_chunks` (the same rows when the people fit in one chunk)."""
        parts: dict[str, list[pd.DataFrame]] = {name: [] for name in self.spec.tables}
        for chunk in self.sample_chunks(seed, people, chunk_people):
            for name, frame in chunk.items():
                parts[name].append(frame)
        return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}

    def people_to_sample(self, people: int | None = None) -> int:
        """The synthetic people: as asked, else the person model's noisy total (a DP output)."""
        person = self.tables[self.spec.person]
        return (
            people if people is not None else max(1, round(person.model.noisy_total)) if person.model else 1
        )

    def sample_chunks(self, seed: int = 0, people: int | None = None, chunk_people: int | None = None):
        """The synthetic schema in chunks of at most `chunk_people` people (default
        `SAMPLE_CHUNK_PEOPLE`) with every row that belongs to them: memory is one chunk. Keys run on
        across chunks (1..n, ``<table>-0000001``), every foreign key resolves inside its chunk, and
        co-holders of an entity are drawn among the chunk's people (people are drawn independently,
        so this is the same distribution for any chunk larger than the holders per entity).
        Lookups come with the first chunk. Identifier columns are refilled chunk by chunk."""
        from synth_platform.lib.relational.refill import SchemaRefill

        rng = np.random.default_rng(seed)
        n = self.people_to_sample(people)
        size = max(1, int(chunk_people or SAMPLE_CHUNK_PEOPLE))
        chunks = -(-n // size)
        refill = SchemaRefill(self.spec, seed)
        self._key_offsets = {}
        for index, start in enumerate(range(0, n, size)):
            frames = self._sample_people(min(size, n - start), rng)
            if index == 0:
                for name in self.spec.lookups:
                    frames[name] = self.lookup_frames[name].copy()
            yield {
                name: refill.chunk(name, self._output(name, frames[name]), len(frames[name]) * chunks)
                for name in self.spec.tables
                if name in frames
            }
        self.refill_report = refill.report

    def _sample_people(self, n: int, rng) -> dict[str, pd.DataFrame]:
        """n synthetic people and every row that belongs to them (the modelled tables)."""
        person = self.tables[self.spec.person]
        frames: dict[str, pd.DataFrame] = {}
        frames[self.spec.person] = self._keyed(
            self.spec.person,
            person.model.sample(n, seed=draw_seed(rng)) if person.model else pd.DataFrame(index=range(n)),
        )
        contexts = {
            self.spec.person: self._synthetic_context(self.spec.person, frames[self.spec.person], None, None)
        }
        link = self.own.link
        for table in self.own.order[1:]:
            if link is not None and table == link.table:
                continue
            parent = self.own.parent_of(table)
            frames[table] = self._sample_children(table, parent, frames[parent], contexts, rng)
            if link is not None and table == link.entity.parent_table:
                frames[link.table] = self._sample_link(frames, rng)
        return frames

    def _keyed(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Fresh keys, running on from the previous chunk's last key of the table."""
        pk = self.spec.tables[table].primary_key
        frame = frame.reset_index(drop=True)
        offsets = self._key_offsets
        first = offsets.get(table, 0) + 1
        offsets[table] = first - 1 + len(frame)
        if pk is not None:
            if self.spec.tables[table].columns[pk].type == "integer":
                frame[pk] = np.arange(first, first + len(frame), dtype=np.int64)
            else:
                frame[pk] = [f"{table}-{i:07d}" for i in range(first, first + len(frame))]
        return frame

    def _parent_keys(self, table: str, parent: str, ctx: pd.DataFrame) -> list[tuple]:
        cond = self.tables[table].cond
        categories = [self._ctx_categories(c) for c in cond]
        if not cond:
            return [()] * len(ctx)
        return [
            tuple(cond_key(v, cats) for v, cats in zip(row, categories, strict=True))
            for row in ctx[cond].itertuples(index=False, name=None)
        ]

    def _synthetic_context(self, table: str, frame: pd.DataFrame, parent_ctx, owner_index) -> pd.DataFrame:
        """The synthetic rows' context columns, built as `_write_context` builds the real ones."""
        ctx = pd.DataFrame(
            {name: frame[name.split(".", 1)[1]].to_numpy() for name in self._own_context(table)}
        )
        ctx.index = range(len(frame))
        if parent_ctx is not None:
            inherited = parent_ctx.iloc[owner_index].reset_index(drop=True)
            ctx = pd.concat([ctx, inherited], axis=1)
        return ctx

    def _sample_children(self, table: str, parent: str, parents: pd.DataFrame, contexts: dict, rng):
        tm = self.tables[table]
        keys = self._parent_keys(table, parent, contexts[parent])
        counts = tm.counts.draw(keys, rng)
        if self.own.link is not None and table == self.own.link.entity.parent_table:
            counts = self._entities_per_holding(counts, rng)
        owner_index = np.repeat(np.arange(len(parents)), counts)
        wanted = [keys[i] for i in owner_index]
        categories = [self._ctx_categories(c) for c in tm.cond]
        rows = self._matched(tm.model, [f"__p_{c}" for c in tm.cond], categories, wanted, rng)
        rows = rows.drop(columns=[c for c in rows.columns if c.startswith("__p_")])
        ref = self._parent_ref(table)
        rows[ref] = parents[self.spec.tables[parent].primary_key].to_numpy()[owner_index]
        rows = self._keyed(table, rows)
        contexts[table] = self._synthetic_context(table, rows, contexts[parent], owner_index)
        return rows

    def _matched(self, model, cond: list[str], categories: list, wanted: list[tuple], rng) -> pd.DataFrame:
        """Rows from `model` whose condition columns equal `wanted[i]`, in order: drawn in rounds of
        growing samples; a key the model rarely produces falls back to any row."""
        total = len(wanted)
        if model is None:
            return pd.DataFrame(index=range(total))
        if not cond:
            return model.sample(total, seed=draw_seed(rng)) if total else model.sample(1, seed=0).iloc[:0]
        need: dict[tuple, list[int]] = {}
        for i, key in enumerate(wanted):
            need.setdefault(key, []).append(i)
        chunks, positions = [], []
        batch = max(2 * total, 200)
        for _ in range(4):
            if not need:
                break
            drawn = model.sample(batch, seed=draw_seed(rng))
            drawn_keys = [
                tuple(cond_key(v, cats) for v, cats in zip(row, categories, strict=True))
                for row in drawn[cond].itertuples(index=False, name=None)
            ]
            groups: dict[tuple, list[int]] = {}
            for j, key in enumerate(drawn_keys):
                groups.setdefault(key, []).append(j)
            for key in list(need):
                available = groups.get(key, [])
                take = min(len(available), len(need[key]))
                if take:
                    chunks.append(drawn.iloc[available[:take]])
                    positions.extend(need[key][:take])
                    need[key] = need[key][take:]
                if not need[key]:
                    del need[key]
            batch *= 2
        rest = [i for idx in need.values() for i in idx]
        if rest:
            chunks.append(model.sample(len(rest), seed=draw_seed(rng)))
            positions.extend(rest)
        if not chunks:
            return model.sample(1, seed=0).iloc[:0]
        out = pd.concat(chunks, ignore_index=True)
        out.index = positions
        return out.sort_index().reset_index(drop=True)

    def _output(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The table's declared columns that reach the output, in spec order, lookup keys typed."""
        spec_table = self.spec.tables[table]
        if spec_table.lookup:
            return frame
        keys = {spec_table.primary_key} | {fk.child_column for fk in self.spec.fks_of(table)}
        columns = [c for c in spec_table.columns if c in keys or c in self.model_columns(table)]
        frame = frame.reindex(columns=columns)
        for fk in self.own.lookup_fks.get(table, []):
            keys = self.lookup_frames[fk.parent_table][fk.parent_column]
            back = {str(v): v for v in keys}
            frame[fk.child_column] = frame[fk.child_column].map(
                lambda v, b=back: b.get(v) if v is not None else None
            )
        return frame.reset_index(drop=True)
