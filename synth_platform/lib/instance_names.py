"""One name, one owner: a schema and a dataset may not claim the same ledger name or warehouse table.

Why a rule of its own: a dataset and a schema share the privacy ledger (rows keyed by name), the
run lease (keyed by name), the model space and the warehouse's `raw`, `synthetic` and `release`
schemas. A schema named like a dataset would spend from that dataset's budget and wait on its
lease; a schema table `release.<schema>__<table>` named like a dataset's `release.<dataset>` would
overwrite it. Neither is visible until a run does the damage, so the definitions refuse to load
(`synth_platform.definitions`), naming both definition files.

Plain Python (no Dagster import), like the rest of `lib/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synth_platform.lib.relational.ingest import warehouse_name as table_name
from synth_platform.lib.spec import SpecError


@dataclass(frozen=True)
class Claim:
    """A name one definition file claims, and what it uses it for (in words, for the message)."""

    name: str
    path: Path
    use: str


class NameCollision(SpecError):
    """Two definition files claim one ledger name or warehouse table; the message names both."""


def dataset_claims(name: str, path: Path) -> list[Claim]:
    """A dataset claims its name: its ledger rows, its lease, and `raw`/`release.<name>`."""
    return [Claim(name, Path(path), f"dataset '{name}' (its ledger rows, run lease and release.{name})")]


def schema_claims(name: str, path: Path, tables) -> list[Claim]:
    """A schema claims its name (ledger rows, lease, models) and `<schema>__<table>` per table."""
    own = Claim(name, Path(path), f"schema '{name}' (its ledger rows, run lease and models)")
    return [own] + [
        Claim(
            table_name(name, t), Path(path), f"table '{t}' of schema '{name}' (release.{table_name(name, t)})"
        )
        for t in tables
    ]


def collisions(claims: list[Claim]) -> list[str]:
    """One sentence per name claimed by two different definition files (sorted; none: [])."""
    first: dict[str, Claim] = {}
    found = []
    for claim in claims:
        earlier = first.setdefault(claim.name, claim)
        if earlier is claim or earlier.path == claim.path:
            continue
        found.append(
            f"the name '{claim.name}' is claimed twice: by {earlier.use} in {earlier.path} and by "
            f"{claim.use} in {claim.path}"
        )
    return sorted(found)


def check_unique(datasets: dict[str, Path], schemas: dict[str, tuple[Path, list[str]]]) -> None:
    """Raise `NameCollision` when a schema and a dataset (or two schemas) share a name or table.

    `datasets`: name -> its `defs.yaml`; `schemas`: name -> (its `defs.yaml`, its table names).
    """
    claims = [c for name, path in sorted(datasets.items()) for c in dataset_claims(name, path)]
    for name, (path, tables) in sorted(schemas.items()):
        claims += schema_claims(name, path, tables)
    problems = collisions(claims)
    if problems:
        raise NameCollision(
            "Definitions not loaded: a dataset and a schema share the privacy ledger, the run lease and "
            "the warehouse tables by name, so no two may use one name. "
            + "; ".join(problems)
            + ". Rename one of them (the folder and its `name:`)."
        )
