"""Reading a dataset's current model: the signed pointer authenticated, bound to its dataset,
and checked against the model the synthesizer step last recorded.

Kept apart from writing (`store`) because every refusal here has its own message telling the
operator what to re-run; a pointer an earlier version signed is re-signed only when the ledger
vouches for it.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from pathlib import Path

from synth_platform.lib.synthesize.synthesis.authentication import (
    _POINTER_FIELDS,
    POINTER,
    POINTER_FORMAT,
    LegacyPointerError,
    ModelAuthenticationError,
    _legacy_pointer_mac,
    _parse_mac,
    _pointer_mac,
    verify_model_file,
)
from synth_platform.lib.synthesize.synthesis.fitting import (
    FittedModel,
)
from synth_platform.lib.synthesize.synthesis.store import _write_pointer


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
