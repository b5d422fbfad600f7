"""The dbt CLI resource without dagster-dbt's `dbt --version` and adapter start-ups (defs/dbt_cli.py).

Both overrides are private methods of dagster-dbt; these tests say what they must keep: the
version dagster-dbt would have asked dbt for, a foreign executable still asked, and no adapter
(the build itself, its materializations and check results: test_analytics_dbt.py, through the
same `dbt_resource()`).
"""

import re
import subprocess

from synth_platform.defs.analytics import DBT_PROJECT, _dbt_executable, dbt_resource
from synth_platform.defs.dbt_cli import PlatformDbtCliResource


def test_version_is_the_one_the_dbt_executable_reports():
    printed = subprocess.run(
        [_dbt_executable(), "--version"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    reported = re.search(r"(\d+\.\d+\.\d+)", printed).group(1)
    assert str(dbt_resource()._cli_version) == reported


def test_an_executable_of_another_environment_is_still_asked(tmp_path):
    fake = tmp_path / "dbt-elsewhere"
    fake.write_text("#!/bin/sh\necho 'Core:\n  - installed: 9.8.7\n  - latest:    9.8.7'\n")
    fake.chmod(0o755)
    resource = PlatformDbtCliResource(project_dir=DBT_PROJECT, dbt_executable=str(fake))
    assert str(resource._cli_version) == "9.8.7"


def test_no_dbt_adapter_is_built_in_the_step_process():
    assert dbt_resource()._initialize_dbt_core_adapter(["build"]) is None
