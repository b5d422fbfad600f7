"""Fit, persist and sample synthesizers on the masked training split.

SDV's own metadata detection types columns by name, and types name/phone/address
columns as categorical, which makes a synthesizer replay real values. We never let
it guess: the metadata is built from the masked frame's dtypes, after direct
identifiers are gone.

One package, one job per module, in the order a model lives: `fitting` (metadata, fit, the
records of a fit), `authentication` (HMACs of model files and pointers), `store` (write a model
and make it current), `pointer` (read the current model back, authenticated), `sampling` (sample
from it in chunks) and `unpickling` (load model files whose classes have since moved). Callers use
the names below, as they did when this was one module.
"""

from synth_platform.lib.synthesize.synthesis.authentication import (
    MAC_SUFFIX,
    POINTER,
    POINTER_FORMAT,
    LegacyPointerError,
    ModelAuthenticationError,
    _legacy_pointer_mac,
    _pointer_mac,
    file_mac,
    file_sha256,
    verify_model_file,
)
from synth_platform.lib.synthesize.synthesis.fitting import (
    SYNTHESIZERS,
    TABLE,
    Fitted,
    FittedModel,
    copula_params,
    fit_dp_from_warehouse,
    fit_frame,
    fit_model,
    frame_sha256,
    make_synthesizer,
    sdv_metadata,
)
from synth_platform.lib.synthesize.synthesis.pointer import (
    current_model,
    current_model_or_none,
    read_pointer,
    resign_legacy_pointer,
    stale_pointer_problem,
)
from synth_platform.lib.synthesize.synthesis.sampling import (
    SAMPLE_CHUNK_ROWS,
    chunk_seed,
    chunk_sizes,
    load_and_sample,
    load_verified,
    release_rows,
    sample_chunks,
)
from synth_platform.lib.synthesize.synthesis.store import (
    KEEP_RECENT_MODELS,
    fit_and_save,
    promote,
    prune_models,
    save_and_promote,
    save_model,
)
from synth_platform.lib.synthesize.synthesis.unpickling import current_module, unpickle_model

__all__ = [
    "KEEP_RECENT_MODELS",
    "MAC_SUFFIX",
    "POINTER",
    "POINTER_FORMAT",
    "SAMPLE_CHUNK_ROWS",
    "SYNTHESIZERS",
    "TABLE",
    "Fitted",
    "FittedModel",
    "LegacyPointerError",
    "ModelAuthenticationError",
    "_legacy_pointer_mac",
    "_pointer_mac",
    "chunk_seed",
    "chunk_sizes",
    "copula_params",
    "current_model",
    "current_model_or_none",
    "current_module",
    "file_mac",
    "file_sha256",
    "fit_and_save",
    "fit_dp_from_warehouse",
    "fit_frame",
    "fit_model",
    "frame_sha256",
    "load_and_sample",
    "load_verified",
    "make_synthesizer",
    "promote",
    "prune_models",
    "read_pointer",
    "release_rows",
    "resign_legacy_pointer",
    "sample_chunks",
    "save_and_promote",
    "save_model",
    "sdv_metadata",
    "stale_pointer_problem",
    "unpickle_model",
    "verify_model_file",
]
