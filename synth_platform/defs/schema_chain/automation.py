"""A schema's job and its landing sensor: one run per complete set of new files.

The sensor waits for the whole set: it fires only when every table of the schema (modelled and
lookup) has a newest file that differs from the one the last run took (`lib.relational.ingest.
landing_set`); until then it says which tables it is waiting for.
"""

import hashlib
import json

import dagster as dg

from synth_platform.defs.automation_status import default_status
from synth_platform.defs.resources import StorageResource
from synth_platform.defs.schema_chain.common import SchemaChain
from synth_platform.lib.relational import ingest as rel_ingest

SENSOR_INTERVAL_SECONDS = 60


def job_name(schema: str) -> str:
    return f"{schema}_governed_schema"


def schema_job(chain: SchemaChain):
    return dg.define_asset_job(
        job_name(chain.name),
        selection=dg.AssetSelection.groups(chain.name)
        | dg.AssetSelection.assets(dg.AssetKey([chain.name, "release"])).downstream(),
        description=f"Ingest, mask, split, train, sample, check and release schema '{chain.name}' (all "
        "tables or none), then its dbt models.",
        tags={"synth/schema": chain.name},
        # The chain is a line holding the one warehouse pool slot: a process per step would only
        # re-import the code location (see defs.automation.chain_job).
        executor_def=dg.in_process_executor,
    )


def landing_set_sensor(chain: SchemaChain, job) -> dg.SensorDefinition:
    spec = chain.spec

    @dg.sensor(
        name=f"{chain.name}_landing_set_sensor",
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status(dg.DefaultSensorStatus),
        description=f"Runs schema '{chain.name}' once every table has a new file in "
        f"{rel_ingest.schema_landing_dir(chain.name)}/<table>/.",
    )
    def _sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        marks, waiting = rel_ingest.landing_set(storage.root_path, spec, context.cursor)
        if marks is None:
            return dg.SkipReason(
                f"Schema '{chain.name}' waits for a new file of table(s) {waiting} before it runs the set."
            )
        context.update_cursor(json.dumps(marks, sort_keys=True))
        run_key = hashlib.sha256(json.dumps(marks, sort_keys=True).encode()).hexdigest()[:32]
        return dg.RunRequest(run_key=run_key)

    return _sensor
