"""The dbt CLI resource, without the two dbt start-ups dagster-dbt pays before every `dbt build`.

Before it starts `dbt build`, `DbtCliResource.cli` (dagster-dbt 0.29) runs `dbt --version` in a
subprocess (a whole dbt start-up, ~1.8 s of CPU, to tell dbt Core from the Fusion engine) and
builds a dbt Core adapter in the step's own process (profile, project, macros: ~1.3 s of CPU),
which only `fetch_row_counts()` and `fetch_column_metadata()` use. The platform's dbt step calls
neither and runs the dbt Core of its own environment, so:

- the version is read from the installed `dbt-core` package when the executable is this
  environment's `dbt` (any other executable is still asked, as dagster-dbt does);
- no adapter is built: the invocation's `adapter` is None, which dagster-dbt supports (its
  Fusion path has none either); a step that wants row counts or column metadata must use
  `DbtCliResource` itself.

`dbt build` itself, its events, its asset materializations and check results are dagster-dbt's,
unchanged. The two overrides are private methods of dagster-dbt, so
`test_analytics_dbt_cli.py` checks them against the real `dbt --version` and a real build.
"""

from __future__ import annotations

import sys
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version


def _environment_dbt(executable: str) -> bool:
    """Whether `executable` is the `dbt` script of this interpreter's environment (whose dbt-core
    is the package installed here)."""
    try:
        return Path(executable).resolve() == Path(sys.executable).with_name("dbt").resolve()
    except OSError:
        return False


class PlatformDbtCliResource(DbtCliResource):
    """`DbtCliResource` that skips `dbt --version` and the unused in-process adapter (see module)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if _environment_dbt(self.dbt_executable):
            try:
                return version.parse(metadata.version("dbt-core"))
            except metadata.PackageNotFoundError:
                pass
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        """No adapter: only row counts and column metadata use it, and this platform fetches neither."""
        return None
