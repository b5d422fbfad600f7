"""Fit, persist and sample SDV synthesizers on the masked training split.

SDV's own metadata detection types columns by name, and types name/phone/address
columns as categorical, which makes a synthesizer replay real values. We never let
it guess: the metadata is built from the masked frame's dtypes, after direct
identifiers are gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TABLE = "data"

SYNTHESIZERS = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
}


@dataclass(frozen=True)
class FittedModel:
    path: Path
    sha256: str
    kind: str
    params: dict
    fit_seconds: float
    train_rows: int
    columns: list[str]
    train_data_hash: str


def sdv_metadata(frame: pd.DataFrame) -> dict:
    """Single-table SDV metadata from dtypes (never from column names)."""
    columns = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            columns[name] = {"sdtype": "boolean"}
        elif pd.api.types.is_integer_dtype(dtype):
            columns[name] = {"sdtype": "numerical", "decimal_places": 0}
        elif pd.api.types.is_float_dtype(dtype):
            columns[name] = {"sdtype": "numerical"}
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            columns[name] = {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
        else:
            columns[name] = {"sdtype": "categorical"}
    return {"columns": columns}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch ships with SDV
        pass


def make_synthesizer(kind: str, metadata: dict, params: dict):
    from sdv import single_table
    from sdv.metadata import Metadata

    if kind not in SYNTHESIZERS:
        raise ValueError(f"unknown synthesizer {kind!r}; choose one of {sorted(SYNTHESIZERS)}")
    sdv_metadata_obj = Metadata.load_from_dict({"tables": {TABLE: metadata}})
    cls = getattr(single_table, SYNTHESIZERS[kind])
    return cls(sdv_metadata_obj, **params)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame (values and column names, order-sensitive)."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def fit_and_save(
    train: pd.DataFrame, kind: str, params: dict, seed: int, model_dir: Path, synthesizer=None
) -> FittedModel:
    """Fit on the training split and store the model under its content hash.

    `synthesizer` lets a caller pass an already-built object (tests use it to plant a
    deliberately leaky one); otherwise one is made from `kind` and `params`.
    """
    _seed_everything(seed)
    synth = synthesizer or make_synthesizer(kind, sdv_metadata(train), params)
    started = time.perf_counter()
    synth.fit({TABLE: train})
    fit_seconds = time.perf_counter() - started
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=model_dir, suffix=".pkl.tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    synth.save(str(tmp_path))
    digest = file_sha256(tmp_path)
    final = model_dir / f"{digest[:16]}.pkl"
    os.replace(tmp_path, final)
    model = FittedModel(
        final, digest, kind, dict(params), fit_seconds, len(train), list(train.columns), frame_sha256(train)
    )
    _write_pointer(model_dir, model)
    return model


def _write_pointer(model_dir: Path, model: FittedModel) -> None:
    pointer = {
        "file": model.path.name,
        "sha256": model.sha256,
        "kind": model.kind,
        "params": model.params,
        "fit_seconds": model.fit_seconds,
        "train_rows": model.train_rows,
        "columns": model.columns,
        "train_data_hash": model.train_data_hash,
    }
    tmp = model_dir / "current.json.tmp"
    tmp.write_text(json.dumps(pointer, indent=2))
    os.replace(tmp, model_dir / "current.json")


def current_model(model_dir: Path) -> FittedModel:
    pointer_path = model_dir / "current.json"
    if not pointer_path.exists():
        raise FileNotFoundError(f"no fitted synthesizer in {model_dir}: materialise the synthesizer first")
    pointer = json.loads(pointer_path.read_text())
    path = model_dir / pointer["file"]
    if file_sha256(path) != pointer["sha256"]:
        raise ValueError(f"the model file {path} does not match its recorded hash; refusing to load it")
    return FittedModel(
        path,
        pointer["sha256"],
        pointer["kind"],
        pointer["params"],
        pointer["fit_seconds"],
        pointer["train_rows"],
        pointer["columns"],
        pointer["train_data_hash"],
    )


def load_and_sample(model: FittedModel, rows: int, seed: int) -> pd.DataFrame:
    """Load the stored model (its hash was checked by `current_model`) and sample rows.

    SDV saves synthesizers with cloudpickle; loading the same way keeps any object
    with `fit/save/sample` usable, which is how the tests plant a leaky synthesizer.
    """
    import cloudpickle

    with open(model.path, "rb") as handle:
        synth = cloudpickle.load(handle)
    _seed_everything(seed)
    sampled = synth.sample(rows)
    frame = sampled[TABLE] if isinstance(sampled, dict) else sampled
    return frame.reset_index(drop=True)
