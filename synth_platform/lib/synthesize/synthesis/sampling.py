"""Sampling from a stored model: authenticated once, then sampled chunk by chunk, deterministically.

Sampling reads no data (the model is a DP output for `dp_mst`); how many rows to sample comes
from the spec or the model's noisy total, never the exact training count of a private model.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd

from synth_platform.lib.spec import is_differentially_private
from synth_platform.lib.synthesize.synthesis.authentication import (
    verify_model_file,
)
from synth_platform.lib.synthesize.synthesis.fitting import (
    TABLE,
    FittedModel,
    _noisy_total,
    _seed_everything,
)
from synth_platform.lib.synthesize.synthesis.unpickling import unpickle_model

#: Model kinds whose sampling draws from numpy's global generator only (never torch's): seeding
#: them does not import torch (about a second and a half), unless something already has.
_NUMPY_ONLY_KINDS = frozenset({"dp_mst"})


def release_rows(model: FittedModel, declared: int | None, key: str | bytes | None = None) -> int:
    """How many synthetic rows to sample: the spec's `sample.rows` when declared (public); for a
    differentially private model its noisy total, rounded, at least 1 (never the exact training
    count); for the non-private kinds (epsilon unbounded anyway) the training count.

    A DP model stored before the noisy total was recorded in its pointer is opened (after its HMAC
    is checked) to read it from the fitted object.
    """
    if declared:
        return int(declared)
    if not is_differentially_private(model.kind):
        return int(model.train_rows)
    total = model.noisy_total
    if total is None:
        total = _stored_noisy_total(model, key)
    if total is None or not np.isfinite(total):
        raise ValueError(
            f"the {model.kind} model {model.path.name} records no noisy total to size the synthetic table; "
            "declare sample.rows in the spec or retrain the synthesizer"
        )
    return max(1, round(float(total)))


def _stored_noisy_total(model: FittedModel, key: str | bytes | None) -> float | None:

    synth = unpickle_model(verify_model_file(model.path, key, model.sha256))
    return _noisy_total(model.kind, synth)


#: Rows sampled (and refilled, and written) at a time by the synthetic stage: memory is one chunk.
SAMPLE_CHUNK_ROWS = 250_000


def chunk_seed(seed: int, chunk: int) -> int:
    """The sampling seed of one chunk of a table: the seed itself for chunk 0 (a table that fits
    in one chunk is sampled exactly as `load_and_sample` samples it), for chunk i > 0 a 32-bit seed
    spawned from (seed, i): every chunk draws different rows, and the same seed the same table."""
    if chunk == 0:
        return int(seed)
    sequence = np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF, spawn_key=(int(chunk),))
    return int(sequence.generate_state(1)[0])


def chunk_sizes(rows: int, chunk_rows: int) -> list[int]:
    """How `rows` splits into chunks of at most `chunk_rows` (one empty chunk for zero rows, so
    the table still gets its columns)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    return [min(chunk_rows, rows - start) for start in range(0, rows, chunk_rows)] or [0]


def load_verified(model: FittedModel, key: str | bytes | None = None):
    """The stored synthesizer, unpickled from the very bytes whose HMAC (keyed with the platform
    key) and SHA-256 were checked: unpickling runs code, so a file that fails is refused.
    SDV saves synthesizers with cloudpickle; loading the same way keeps any object with
    `fit/save/sample` usable (tests plant a leaky one)."""
    return unpickle_model(verify_model_file(model.path, key, model.sha256))


def sample_chunks(
    model: FittedModel,
    rows: int,
    seed: int,
    key: str | bytes | None = None,
    chunk_rows: int = SAMPLE_CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """Authenticate and load the model once, then yield `rows` sampled rows chunk by chunk.

    Chunk i is sampled after seeding every generator with `chunk_seed(seed, i)`, so the chunks
    together are a deterministic function of (model, seed, chunk_rows), and only one chunk is
    in memory at a time. Sampling reads no data: the model is a DP output.
    """
    synth = load_verified(model, key)
    for index, size in enumerate(chunk_sizes(int(rows), int(chunk_rows))):
        _seed_sampling(model.kind, chunk_seed(seed, index))
        sampled = synth.sample(size)
        frame = sampled[TABLE] if isinstance(sampled, dict) else sampled
        yield frame.reset_index(drop=True)


def _seed_sampling(kind: str, seed: int) -> None:
    """Seed every generator the model's sampling can draw from: all of them
    (`_seed_everything`), except torch for a kind that samples with numpy alone when torch is not
    loaded yet -- importing it only to seed a generator nobody reads costs more than the sampling
    of a 50,000-row table. The rows are the same either way."""
    if kind in _NUMPY_ONLY_KINDS and "torch" not in sys.modules:
        random.seed(seed)
        np.random.seed(seed)
        return
    _seed_everything(seed)


def load_and_sample(model: FittedModel, rows: int, seed: int, key: str | bytes | None = None) -> pd.DataFrame:
    """Authenticate the stored model file with its HMAC, then load it and sample rows, in one frame
    (benchmarks, small tables; the synthetic stage streams `sample_chunks` instead). The same rows
    as the first chunk of `sample_chunks` with `chunk_rows >= rows`."""
    return next(sample_chunks(model, rows, seed, key, chunk_rows=max(int(rows), 1)))
