"""Whether schedules and sensors start running or stopped (`SYNTH_AUTOMATION_STATUS`).

Its own module so that `automation` (schedules, landing sensors) and `alerts` (alert sensors) both
read it without importing each other.
"""

import os


def default_status(kind: type) -> object:
    """`kind.RUNNING` unless `SYNTH_AUTOMATION_STATUS=STOPPED` (`dg.DefaultScheduleStatus` or
    `dg.DefaultSensorStatus`)."""
    wanted = os.environ.get("SYNTH_AUTOMATION_STATUS", "RUNNING").upper()
    return kind.RUNNING if wanted == "RUNNING" else kind.STOPPED
