"""The current model, as the steps after `synthesizer` use it: authenticated, and the one it recorded.

`synthetic`, the release gate and `release` all act on the dataset's current model. Its pointer
and file are authenticated under the platform key (lib.synthesize.synthesis), which shows the key holder
wrote them but not that they are the newest: whoever can write the models folder can put back an
older, validly signed pointer of the same dataset. So the model is also compared with the one
the synthesizer step last recorded in Dagster's event log (outside that folder). Any mismatch
stops the step with a message that says how to recover; it never reads data or writes a table.
"""

import dagster as dg

from synth_platform.lib.synthesize import synthesis


def recorded_model(instance: dg.DagsterInstance, synthesizer_key: dg.AssetKey) -> tuple[str | None, object]:
    """(model sha256, charging ledger entry) of the synthesizer's latest materialisation, if any."""
    event = instance.get_latest_materialization_event(synthesizer_key)
    materialization = event.asset_materialization if event else None
    metadata = materialization.metadata if materialization else {}
    sha = metadata.get("model_sha256")
    charged = metadata.get("charged_by_entry")
    return (sha.value if sha else None), (charged.value if charged else None)


def authenticated_current_model(
    instance: dg.DagsterInstance, synthesizer_key: dg.AssetKey, model_dir, key
) -> synthesis.FittedModel:
    """The current model after its pointer and file verified and it matched the recorded one."""
    try:
        model = synthesis.current_model(model_dir, key)
    except synthesis.ModelAuthenticationError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    problem = synthesis.stale_pointer_problem(model, *recorded_model(instance, synthesizer_key))
    if problem:
        raise dg.Failure(description=f"{problem} of '{model_dir.name}'.", allow_retries=False)
    return model
