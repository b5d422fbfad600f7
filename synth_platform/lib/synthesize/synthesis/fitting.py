"""Fitting a synthesizer: SDV metadata built from the masked frame, the synthesizer made from its
kind, the fit (in memory for the SDV kinds, in DuckDB for `dp_mst`), and the records of a fit.

SDV's own metadata detection types columns by name, and types name/phone/address columns as
categorical, which makes a synthesizer replay real values. We never let it guess: the metadata is
built from the masked frame's dtypes, after direct identifiers are gone.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synth_platform.lib.spec import is_differentially_private

TABLE = "data"

SYNTHESIZERS = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
    "dp_mst": "DPMSTSynthesizer",  # ours (synth_platform.lib.synthesize.dp_mst): differentially private
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
    #: The `trained` ledger entry that paid for this model; a model without one never becomes current.
    charged_by: int | None = None
    #: What the fit was made from (source hash, fit fingerprint): same provenance -> reuse at no cost.
    provenance: dict = field(default_factory=dict)
    #: A DP model's noisy total row count (post-processing of its noisy marginals, so releasable):
    #: the default sample size. None for the non-private kinds.
    noisy_total: float | None = None


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


def copula_params(spec) -> dict:
    """GaussianCopula parameters for a benchmark that fits it next to the spec's own kind: the spec's
    when it is a gaussian_copula spec, otherwise the settings the demo used before dp_mst."""
    if spec.synthesizer.kind == "gaussian_copula":
        return dict(spec.synthesizer.params)
    return {"default_distribution": "truncnorm"}


def make_synthesizer(kind: str, metadata: dict, params: dict):
    if kind not in SYNTHESIZERS:
        raise ValueError(f"unknown synthesizer {kind!r}; choose one of {sorted(SYNTHESIZERS)}")
    if kind == "dp_mst":
        from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer

        return DPMSTSynthesizer(metadata, **params)

    from sdv import single_table
    from sdv.metadata import Metadata

    sdv_metadata_obj = Metadata.load_from_dict({"tables": {TABLE: metadata}})
    cls = getattr(single_table, SYNTHESIZERS[kind])
    return cls(sdv_metadata_obj, **params)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame (column names, values, row order); JSON names: any name is safe."""
    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Fitted:
    """A fitted synthesizer not yet stored: what `save_and_promote` turns into the current model."""

    synth: object
    kind: str
    params: dict
    fit_seconds: float
    train_rows: int
    columns: list[str]
    train_data_hash: str
    #: See `FittedModel.noisy_total`.
    noisy_total: float | None = None


def _noisy_total(kind: str, synth) -> float | None:
    """The fitted synthesizer's DP noisy total, for a differentially private kind; else None."""
    if not is_differentially_private(kind):
        return None
    found = getattr(synth, "noisy_total", None)
    return None if found is None else float(found)


def fit_model(train: pd.DataFrame, kind: str, params: dict, seed: int, synthesizer=None):
    """Fit a synthesizer on the training frame; returns (fitted object, fit seconds)."""
    _seed_everything(seed)
    synth = synthesizer or make_synthesizer(kind, sdv_metadata(train), params)
    started = time.perf_counter()
    synth.fit({TABLE: train})
    return synth, time.perf_counter() - started


def fit_frame(train: pd.DataFrame, kind: str, params: dict, seed: int, synthesizer=None) -> Fitted:
    """Fit on an in-memory training frame (the SDV kinds)."""
    synth, seconds = fit_model(train, kind, params, seed, synthesizer)
    return Fitted(
        synth,
        kind,
        dict(params),
        seconds,
        len(train),
        list(train.columns),
        frame_sha256(train),
        _noisy_total(kind, synth),
    )


def fit_dp_from_warehouse(con, spec, plan, relation: str | None = None) -> Fitted:
    """Fit `dp_mst` on the masked training table inside DuckDB; returns a `Fitted` for `save_and_promote`.

    Call it from the synthesizer asset with a (read-only is enough) connection to the warehouse,
    after the budget is reserved::

        with warehouse.connect() as con:          # read_only=True is enough
            fitted = synthesis.fit_dp_from_warehouse(con, spec, plan)
        spend = fitted.synth.privacy_spend()      # epsilon, delta, rho, rho_parts, delta parts
        model = synthesis.save_and_promote(fitted, model_dir, key, charged_by=..., provenance=...)

    Only counts leave the warehouse (GROUP BY over `masked."<ds>_train"`, or `relation`), so memory
    does not grow with the row count. The model columns are those whose treatment reaches the
    model; declared `categories`/`bounds` of the spec are public domains. `train_rows` is the exact
    row count and `train_data_hash` a DuckDB content hash of the model columns (order-insensitive);
    neither is part of the DP release, so keep them out of anything published with the synthetic
    table (asset metadata for the data owner is fine). `noisy_total` is the model's DP row count
    (post-processing of the noisy 1-way marginals): the synthetic table's default size.
    """
    from synth_platform.lib.synthesize.dp_domain import quote
    from synth_platform.lib.synthesize.dp_mst import DPMSTSynthesizer, declared_domains

    relation = relation or f"masked.{quote(spec.name + '_train')}"
    columns = [t.column for t in plan if t.reaches_model]
    params = dict(spec.synthesizer.params)
    synth = DPMSTSynthesizer(None, domains=declared_domains(spec, plan), **params)
    started = time.perf_counter()
    synth.fit_relation(con, relation, columns)
    seconds = time.perf_counter() - started
    quoted = ", ".join(quote(c) for c in columns)
    rows, content = con.execute(
        f"SELECT count(*), coalesce(sum(hash({quoted})::HUGEINT), 0) FROM {relation}"
    ).fetchone()
    digest = hashlib.sha256(f"{','.join(columns)}|{rows}|{content}".encode()).hexdigest()
    return Fitted(synth, "dp_mst", params, seconds, int(rows), columns, digest, _noisy_total("dp_mst", synth))
