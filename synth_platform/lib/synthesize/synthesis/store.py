"""Storing a fitted model: the file and its HMAC written atomically, the signed pointer that makes
it current, and pruning of old files.

A model becomes current only with the `trained` ledger entry that paid for it, so a crash leaves
either the previous current model or this one, each with its row.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from synth_platform.lib.spec import is_differentially_private
from synth_platform.lib.storage.private_files import make_private, private_dir
from synth_platform.lib.synthesize.synthesis.authentication import (
    MAC_SUFFIX,
    POINTER,
    POINTER_FORMAT,
    _atomic_write,
    _pointer_mac,
    file_mac,
    file_sha256,
    verify_model_file,
)
from synth_platform.lib.synthesize.synthesis.fitting import (
    Fitted,
    FittedModel,
    _noisy_total,
    fit_model,
    frame_sha256,
)

#: Model files kept besides the current one (the most recent), so a rollback stays possible.
KEEP_RECENT_MODELS = 3


def save_and_promote(
    fitted: Fitted, model_dir: Path, key: str | bytes | None, *, charged_by: int, provenance: dict
) -> FittedModel:
    """Store a fitted model with its HMAC and make it current, naming the ledger entry that paid for it."""
    path, digest = save_model(fitted.synth, model_dir, key)
    model = FittedModel(
        path,
        digest,
        fitted.kind,
        dict(fitted.params),
        fitted.fit_seconds,
        fitted.train_rows,
        list(fitted.columns),
        fitted.train_data_hash,
        charged_by,
        dict(provenance),
        fitted.noisy_total if is_differentially_private(fitted.kind) else None,
    )
    promote(model_dir, model, key)
    return model


def save_model(synth, model_dir: Path, key: str | bytes | None = None) -> tuple[Path, str]:
    """Store a fitted synthesizer as `<first 16 hex digits of its SHA-256>.pkl` with an HMAC beside it;
    not yet current. Sixteen digits name a file uniquely among a dataset's few models; the full
    SHA-256, which authenticates it, is returned and kept in the MAC'd pointer.

    Returns (path, sha256). The file is written to a temporary name and renamed, and its
    MAC is written before the rename, so a model file that exists always has its MAC.
    """
    private_dir(model_dir)  # a model is a function of real rows: owner-only folder, 0600 files
    with tempfile.NamedTemporaryFile(dir=model_dir, suffix=".pkl.tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        synth.save(str(tmp_path))
        make_private(tmp_path)  # mkstemp made it 0600; a `save` that re-creates the file may not
        digest = file_sha256(tmp_path)
        final = model_dir / f"{digest[:16]}.pkl"
        _atomic_write(final.with_name(final.name + MAC_SUFFIX), file_mac(tmp_path, key))
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)
    return final, digest


def fit_and_save(
    train: pd.DataFrame,
    kind: str,
    params: dict,
    seed: int,
    model_dir: Path,
    synthesizer=None,
    *,
    key: str | bytes | None = None,
    charged_by: int | None = None,
    provenance: dict | None = None,
) -> FittedModel:
    """Fit on the training split and store the model (named by its SHA-256 prefix, with its HMAC).

    The model becomes the dataset's current one only when `charged_by` names the `trained`
    ledger entry that paid for it (written before the data was read); without it the model
    is stored but not current (benchmarks). `synthesizer` lets a caller pass an already-built
    object (tests plant a deliberately leaky one); otherwise one is made from `kind`/`params`.
    """
    synth, fit_seconds = fit_model(train, kind, params, seed, synthesizer)
    path, digest = save_model(synth, model_dir, key)
    model = FittedModel(
        path,
        digest,
        kind,
        dict(params),
        fit_seconds,
        len(train),
        list(train.columns),
        frame_sha256(train),
        charged_by,
        dict(provenance or {}),
        _noisy_total(kind, synth),
    )
    if charged_by is not None:
        promote(model_dir, model, key)
    return model


def promote(model_dir: Path, model: FittedModel, key: str | bytes | None = None) -> None:
    """Make `model` the current one (atomic pointer replace), then prune old model files.

    Called only after the model's `trained` ledger row was committed, so a crash at any
    point leaves either the previous current model or this one, each with its row.
    """
    if model.charged_by is None:
        raise ValueError("a model becomes current only with the ledger entry that charged its training")
    verify_model_file(model.path, key, model.sha256)
    _write_pointer(model_dir, model, key)
    prune_models(model_dir)


def _write_pointer(model_dir: Path, model: FittedModel, key: str | bytes | None) -> None:
    pointer = {
        "format": POINTER_FORMAT,
        "dataset": model_dir.name,
        "file": model.path.name,
        "sha256": model.sha256,
        "kind": model.kind,
        "params": model.params,
        "fit_seconds": model.fit_seconds,
        "train_rows": model.train_rows,
        "columns": model.columns,
        "train_data_hash": model.train_data_hash,
        "charged_by": model.charged_by,
        "provenance": model.provenance,
    }
    if model.noisy_total is not None:  # absent for non-DP kinds: older pointers keep verifying
        pointer["noisy_total"] = float(model.noisy_total)
    pointer["mac"] = _pointer_mac(pointer, key)
    _atomic_write(model_dir / POINTER, json.dumps(pointer, indent=2, default=str))


def prune_models(model_dir: Path, keep: int = KEEP_RECENT_MODELS) -> list[str]:
    """Delete model files other than the current one and the `keep` most recent; returns their names.

    Also removes temporary files of writes that died more than an hour ago.
    """
    pointer_path = model_dir / POINTER
    current = json.loads(pointer_path.read_text())["file"] if pointer_path.exists() else None
    models = sorted(
        (p for p in model_dir.glob("*.pkl") if p.name != current),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    removed = []
    for old in models[keep:]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + MAC_SUFFIX).unlink(missing_ok=True)
        removed.append(old.name)
    for stale in model_dir.glob("*.tmp"):
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)
    return removed
