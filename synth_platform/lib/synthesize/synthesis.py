"""Fit, persist and sample SDV synthesizers on the masked training split.

SDV's own metadata detection types columns by name, and types name/phone/address
columns as categorical, which makes a synthesizer replay real values. We never let
it guess: the metadata is built from the masked frame's dtypes, after direct
identifiers are gone.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import pickle
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synth_platform.lib.spec import is_differentially_private
from synth_platform.lib.storage.private_files import make_private, private_dir, write_private

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a frame (column names, values, row order); JSON names: any name is safe."""
    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class ModelAuthenticationError(RuntimeError):
    """A model file (or its pointer) whose HMAC does not verify: it is never unpickled."""


class LegacyPointerError(ModelAuthenticationError):
    """A pointer signed by an earlier version (its MAC did not name the dataset): authentic under
    the key, but not bound to its folder, so it is used only after `resign_legacy_pointer`."""


#: Model files kept besides the current one (the most recent), so a rollback stays possible.
KEEP_RECENT_MODELS = 3
POINTER = "current.json"
MAC_SUFFIX = ".hmac"
_MAC_CONTEXT = b"synth_platform model file MAC v1"
#: The pointer's MAC covers every field, the dataset (its folder's name) and this format: a pointer
#: copied from another dataset's folder, or edited, is refused. Format 1 (no dataset) is legacy.
POINTER_FORMAT = 2
_POINTER_CONTEXT = b"synth_platform model pointer v2\0"
_POINTER_FIELDS = (
    "file",
    "sha256",
    "kind",
    "params",
    "fit_seconds",
    "train_rows",
    "columns",
    "train_data_hash",
)
#: Used when no key is given (benchmarks, tests): models then load only in the process that wrote them.
_PROCESS_KEY = secrets.token_bytes(32)


def _mac_key(key: str | bytes | None) -> bytes:
    """The model-MAC key derived from the pseudonym key (domain-separated, so no MAC is a pseudonym)."""
    if key is None:
        return _PROCESS_KEY
    raw = key.encode() if isinstance(key, str) else bytes(key)
    return hmac.new(raw, _MAC_CONTEXT, hashlib.sha256).digest()


def file_mac(path: Path, key: str | bytes | None) -> str:
    """HMAC-SHA256 over the file's bytes."""
    mac = hmac.new(_mac_key(key), digestmod=hashlib.sha256)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            mac.update(chunk)
    return mac.hexdigest()


def _canonical_pointer(pointer: dict) -> bytes:
    return json.dumps({k: v for k, v in pointer.items() if k != "mac"}, sort_keys=True, default=str).encode()


def _pointer_mac(pointer: dict, key: str | bytes | None) -> str:
    """The pointer's MAC (format 2): domain-separated from model-file MACs, over every field."""
    return hmac.new(_mac_key(key), _POINTER_CONTEXT + _canonical_pointer(pointer), hashlib.sha256).hexdigest()


def _legacy_pointer_mac(pointer: dict, key: str | bytes | None) -> str:
    """The MAC an earlier version wrote: the same fields, but no dataset and no domain string."""
    return hmac.new(_mac_key(key), _canonical_pointer(pointer), hashlib.sha256).hexdigest()


def _parse_mac(raw: bytes | str, what: str) -> bytes:
    """A stored MAC as 32 bytes; anything else (empty, non-ASCII, wrong length) is a refusal, not a crash."""
    try:
        text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw).encode("ascii").decode()
        found = bytes.fromhex(text.strip())
    except (UnicodeError, ValueError):
        found = b""
    if len(found) != hashlib.sha256().digest_size:
        raise ModelAuthenticationError(
            f"{what} is malformed (not a 64-character hexadecimal HMAC-SHA256); refusing to trust it. "
            "Re-run the synthesizer step to train and sign a new model."
        )
    return found


def _atomic_write(path: Path, text: str) -> None:
    """Owner-only (0600) and atomic: MACs and pointers sit beside models of real data."""
    write_private(path, text)


def verify_model_file(path: Path, key: str | bytes | None, sha256: str | None = None) -> bytes:
    """The model file's bytes, read once, after their stored HMAC (and `sha256`, if given) matched.

    Whoever unpickles must unpickle *these* bytes (`pickle.loads`), never reopen the file: a file
    swapped between a check and a second read would go unseen.
    """
    mac_path = path.with_name(path.name + MAC_SUFFIX)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"the model file {path.name} is missing from {path.parent}") from None
    try:
        stored = _parse_mac(mac_path.read_bytes(), f"the authentication code {mac_path.name}")
    except FileNotFoundError:
        raise ModelAuthenticationError(
            f"the model file {path.name} has no authentication code ({mac_path.name}); refusing to load it. "
            "Retrain the synthesizer."
        ) from None
    if not hmac.compare_digest(stored, hmac.new(_mac_key(key), data, hashlib.sha256).digest()):
        raise ModelAuthenticationError(
            f"the model file {path.name} failed authentication (HMAC with the platform key): it was altered, "
            "replaced, or written under another key; refusing to load it. Retrain the synthesizer."
        )
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ModelAuthenticationError(
            f"the model file {path.name} is not the model its pointer names (SHA-256 differs); refusing to "
            "load it. Re-run the synthesizer step."
        )
    return data


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


def _refused_pointer(model_dir: Path, why: str) -> ModelAuthenticationError:
    return ModelAuthenticationError(
        f"the model pointer {POINTER} of '{model_dir.name}' {why}; refusing to use it. Re-run the "
        f"'{model_dir.name}/synthesizer' step: it trains a new model (charged to the budget) and signs "
        "a new pointer."
    )


def read_pointer(model_dir: Path, key: str | bytes | None) -> dict:
    """The dataset's pointer, authenticated: its MAC (format 2) verifies and names this folder's dataset.

    Raises FileNotFoundError without a pointer, LegacyPointerError for a pointer an earlier version
    signed (authentic, but not bound to its dataset), ModelAuthenticationError for anything else.
    """
    pointer_path = model_dir / POINTER
    try:
        raw = pointer_path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no fitted synthesizer in {model_dir}: materialise the synthesizer first"
        ) from None
    try:
        pointer = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8
        raise _refused_pointer(model_dir, "is not readable JSON") from None
    if not isinstance(pointer, dict) or not isinstance(pointer.get("mac"), str):
        raise _refused_pointer(model_dir, "carries no authentication code")
    stored = _parse_mac(pointer["mac"], f"the model pointer {POINTER} of '{model_dir.name}'")
    if "format" not in pointer and hmac.compare_digest(
        stored, bytes.fromhex(_legacy_pointer_mac(pointer, key))
    ):
        raise LegacyPointerError(
            f"the model pointer {POINTER} of '{model_dir.name}' was signed by an earlier version that did "
            f"not bind it to its dataset; re-run the '{model_dir.name}/synthesizer' step: it re-signs the "
            "pointer at no cost once the ledger confirms the model's training row belongs to this dataset."
        )
    if not hmac.compare_digest(stored, bytes.fromhex(_pointer_mac(pointer, key))):
        raise _refused_pointer(model_dir, "failed authentication (edited, or signed under another key)")
    if pointer.get("format") != POINTER_FORMAT or pointer.get("dataset") != model_dir.name:
        raise _refused_pointer(model_dir, "was signed for another dataset's folder")
    missing = [f for f in _POINTER_FIELDS if f not in pointer]
    if missing or Path(str(pointer["file"])).name != pointer["file"]:
        raise _refused_pointer(model_dir, "does not name a model file in its folder")
    return pointer


def _model_from_pointer(model_dir: Path, pointer: dict) -> FittedModel:
    return FittedModel(
        model_dir / pointer["file"],
        pointer["sha256"],
        pointer["kind"],
        pointer["params"],
        pointer["fit_seconds"],
        pointer["train_rows"],
        pointer["columns"],
        pointer["train_data_hash"],
        pointer.get("charged_by"),
        pointer.get("provenance", {}),
        pointer.get("noisy_total"),
    )


def current_model(model_dir: Path, key: str | bytes | None = None) -> FittedModel:
    """The dataset's current model, from its authenticated pointer, after the file's HMAC and full
    SHA-256 matched. Always checked: without `key`, under this process's key (benchmarks, tests)."""
    pointer = read_pointer(model_dir, key)
    model = _model_from_pointer(model_dir, pointer)
    verify_model_file(model.path, key, model.sha256)
    return model


def resign_legacy_pointer(
    model_dir: Path, key: str | bytes | None, ledger_entry: Callable[[int], dict | None]
) -> FittedModel | None:
    """Re-sign a pointer an earlier version wrote, when the ledger vouches for it; else None.

    Its legacy MAC must verify under the key, its model file's HMAC and SHA-256 must match, and
    `ledger_entry(charged_by)` (the keyed, hash-chained ledger) must be a `trained` row of this
    folder's dataset: a pointer copied from another dataset is refused, so re-signing adds no trust
    the key holder did not give. Refusing instead would make every dataset retrain, at a privacy cost.
    """
    try:
        read_pointer(model_dir, key)
        return None  # not a legacy pointer: nothing to re-sign
    except LegacyPointerError:
        pass
    except (FileNotFoundError, ModelAuthenticationError):
        return None
    pointer = json.loads((model_dir / POINTER).read_bytes())
    missing = [f for f in _POINTER_FIELDS if f not in pointer]
    if missing or Path(str(pointer["file"])).name != pointer["file"]:
        return None
    model = _model_from_pointer(model_dir, pointer)
    row = ledger_entry(model.charged_by) if isinstance(model.charged_by, int) else None
    if not row or row.get("event") != "trained" or row.get("dataset") != model_dir.name:
        return None
    try:
        verify_model_file(model.path, key, model.sha256)
    except (FileNotFoundError, ModelAuthenticationError):
        return None
    _write_pointer(model_dir, model, key)
    return model


def stale_pointer_problem(model: FittedModel, recorded_sha256: str | None, recorded_charged_by) -> str | None:
    """Why the current model is not the one the synthesizer step last put in place; None if it is.

    A pointer's MAC proves the key holder wrote it, not that it is the newest: someone who can
    write the models folder can put back an older, validly signed pointer of the same dataset.
    The synthesizer step records the model it trained or re-used (in Dagster's event log, outside
    that folder); a step that uses the model compares with it. Nothing recorded: nothing to compare.
    """
    if not recorded_sha256:
        return None
    if model.sha256 != recorded_sha256 or (
        recorded_charged_by is not None and model.charged_by != int(recorded_charged_by)
    ):
        return (
            f"the current model {model.path.name} (trained under ledger entry {model.charged_by}) is not the "
            f"model the synthesizer step last recorded (entry {recorded_charged_by}): the pointer was "
            "put back or replaced outside the synthesizer step, or that step did not finish. Re-run the "
            "synthesizer step"
        )
    return None


def current_model_or_none(
    model_dir: Path, key: str | bytes | None = None, ledger_entry: Callable[[int], dict | None] | None = None
) -> FittedModel | None:
    """The current model, or None when there is none or it does not verify (then it is retrained).

    With `ledger_entry`, a pointer an earlier version signed is re-signed when the ledger vouches
    for it (`resign_legacy_pointer`) instead of being retrained.
    """
    try:
        return current_model(model_dir, key)
    except LegacyPointerError:
        return resign_legacy_pointer(model_dir, key, ledger_entry) if ledger_entry else None
    except (FileNotFoundError, ValueError, KeyError, ModelAuthenticationError):
        return None


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


#: where each `synth_platform.lib` module lived before `lib/` was grouped into packages
#: (`synth_platform.lib.<module>` -> `synth_platform.lib.<package>.<module>`)
_MOVED_MODULES = {
    module: package
    for package, modules in {
        "pii": ("discovery", "detectors", "name_dictionaries", "approved_plan"),
        "deidentify": ("masking", "masking_sql", "refill"),
        "synthesize": (
            "split",
            "split_sql",
            "synthesis",
            "dp_mst",
            "dp_domain",
            "dp_counting_sql",
            "accounting",
            "synthetic_table",
        ),
        "gate": (
            "evaluation",
            "quality",
            "privacy",
            "identifier_match",
            "bounded_figures",
            "private_decision",
            "marginal_tvd",
            "utility",
            "leak_battery",
            "attacks",
        ),
        "governance": (
            "ledger",
            "budget",
            "evidence",
            "evidence_plots",
            "certificate",
            "release",
            "public_outputs",
            "dp_audit",
            "alerts",
            "source_identity",
        ),
        "storage": (
            "warehouse",
            "ingest",
            "ingest_log",
            "zones",
            "private_files",
            "run_lease",
            "liveness",
            "sql_dialect",
            "secrets",
            "platform_key",
        ),
    }.items()
    for module in modules
}


def current_module(module: str) -> str:
    """The module path today of a class a model file names: model files written before `lib/` was
    grouped into packages name `synth_platform.lib.dp_mst`; they must keep loading, not force a
    retraining (which would spend privacy budget again)."""
    parts = module.split(".")
    if parts[:2] == ["synth_platform", "lib"] and len(parts) > 2 and parts[2] in _MOVED_MODULES:
        return ".".join(["synth_platform", "lib", _MOVED_MODULES[parts[2]], *parts[2:]])
    return module


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return super().find_class(current_module(module), name)


def unpickle_model(data: bytes):
    """Unpickle verified model bytes (cloudpickle writes standard pickles), following moved modules."""
    import cloudpickle  # noqa: F401  (registers the reducers cloudpickle's pickles refer to)

    return _ModelUnpickler(io.BytesIO(data)).load()


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
        _seed_everything(chunk_seed(seed, index))
        sampled = synth.sample(size)
        frame = sampled[TABLE] if isinstance(sampled, dict) else sampled
        yield frame.reset_index(drop=True)


def load_and_sample(model: FittedModel, rows: int, seed: int, key: str | bytes | None = None) -> pd.DataFrame:
    """Authenticate the stored model file with its HMAC, then load it and sample rows, in one frame
    (benchmarks, small tables; the synthetic stage streams `sample_chunks` instead). The same rows
    as the first chunk of `sample_chunks` with `chunk_rows >= rows`."""
    return next(sample_chunks(model, rows, seed, key, chunk_rows=max(int(rows), 1)))


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
