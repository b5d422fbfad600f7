"""Authentication of model files and pointers: HMACs under the platform key, checked before use.

A model file is a pickle, and unpickling runs code: nothing is unpickled unless the very bytes
read were checked against their HMAC (and SHA-256). The MAC keys and formats live here so every
writer (`store`) and reader (`pointer`, `sampling`) agrees on them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from synth_platform.lib.storage.private_files import write_private


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ModelAuthenticationError(RuntimeError):
    """A model file (or its pointer) whose HMAC does not verify: it is never unpickled."""


class LegacyPointerError(ModelAuthenticationError):
    """A pointer signed by an earlier version (its MAC did not name the dataset): authentic under
    the key, but not bound to its folder, so it is used only after `resign_legacy_pointer`."""


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
