"""Deterministic, neighbour-preserving train/holdout split, with one row per person.

A row's side is decided by an HMAC-SHA256 under a key derived from the platform's pseudonym
key (domain-separated, so no split hash equals a pseudonym) and the spec's split seed:

- with a key column, of the row's key value, so a person stays on the same side across every
  refresh;
- without one, of the row's canonical content (its cells, by column name, in a fixed text form).

Either way a row's side depends on that row alone: adding or removing one source row moves no
other row between train and holdout (the neighbouring datasets of the DP analysis stay neighbours
after the split), and changing one row moves at most that row. The holdout is what the privacy
attacks compare against, so it must never reach a model.

**One row per person (contribution bounding).** With a key column, at most one row per key value
is kept: the one whose keyed hash of its content is smallest -- deterministic, and independent of
any other person's rows. A person with m rows would otherwise weigh about m^2 times a single row in
a zCDP budget. Rows with an empty key cannot be told apart and each counts as its own person.
The number of rows dropped is a count of the real data: governed-side information only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

_CONTEXT = b"synth_platform split v1"
#: Used when no platform key is given (benchmarks, tests): the split is then public given the seed.
_PUBLIC = b"synth_platform public split key"


@dataclass(frozen=True)
class SplitResult:
    train: pd.DataFrame
    holdout: pd.DataFrame
    #: Rows beyond the first of a key value, dropped before the split (a count: governed side only).
    duplicate_rows_dropped: int = 0


def _split_key(secret: str | bytes | None, seed: int) -> bytes:
    raw = _PUBLIC if secret is None else (secret.encode() if isinstance(secret, str) else bytes(secret))
    return hmac.new(raw, _CONTEXT + b"|seed=" + str(int(seed)).encode(), hashlib.sha256).digest()


def _cell(value: object) -> object:
    """One cell in a canonical JSON-able form: the same value reads the same whatever its dtype."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isfinite(number) and number.is_integer():
            return int(number)
        return repr(number)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _canonical_rows(frame: pd.DataFrame) -> list[bytes]:
    """Each row as canonical bytes: its cells keyed by column name (column order does not matter)."""
    names = [str(c) for c in frame.columns]
    order = sorted(range(len(names)), key=lambda i: names[i])
    header = [names[i] for i in order]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = [_cell(values[i]) for i in order]
        rows.append(json.dumps([header, cells], ensure_ascii=False, separators=(",", ":")).encode())
    return rows


def _digests(key: bytes, label: bytes, messages: list[bytes]) -> list[bytes]:
    return [hmac.new(key, label + m, hashlib.sha256).digest() for m in messages]


def _uniform(digests: list[bytes]) -> np.ndarray:
    """The first 8 bytes of each digest as a number in [0, 1)."""
    if not digests:
        return np.zeros(0)
    head = np.frombuffer(b"".join(d[:8] for d in digests), dtype=">u8")
    return head.astype(np.float64) / np.float64(2**64)


def _canonical_value(value: object) -> bytes:
    return json.dumps(_cell(value), ensure_ascii=False).encode()


def _key_missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy()


def holdout_mask(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    key: str | None = None,
    *,
    secret: str | bytes | None = None,
) -> np.ndarray:
    """True for the rows that go to the holdout: keyed HMAC of the key value, or of the row's content.

    `secret` is the platform's pseudonym key (the chain always passes it); without it the split
    is still neighbour-preserving but anyone who knows the seed can recompute it.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError("holdout fraction must be between 0 and 1")
    derived = _split_key(secret, seed)
    if key is None or key not in frame.columns:
        return _uniform(_digests(derived, b"row|", _canonical_rows(frame))) < fraction
    missing = _key_missing(frame[key])
    messages = [b"key|" + _canonical_value(value) for value in frame[key].tolist()]
    if missing.any():  # a row without a key is told apart by its content, as without a key column
        for position, row in zip(np.flatnonzero(missing), _canonical_rows(frame[missing]), strict=True):
            messages[position] = b"row|" + row
    return _uniform(_digests(derived, b"", messages)) < fraction


def one_row_per_key(
    frame: pd.DataFrame, key: str | None, seed: int = 0, *, secret: str | bytes | None = None
) -> tuple[pd.DataFrame, int]:
    """At most one row per key value (contribution bounding); returns (kept rows, rows dropped).

    The row kept for a key value is the one with the smallest keyed hash of its content, so the
    choice is the same every run and does not depend on any other person's rows. Rows whose key
    is empty each count as their own person. Row order is kept; the index is reset.
    """
    if key is None or key not in frame.columns or frame.empty:
        return frame.reset_index(drop=True), 0
    keys = frame[key]
    missing = _key_missing(keys)
    if not keys[~missing].duplicated().any():
        return frame.reset_index(drop=True), 0
    rank = _digests(_split_key(secret, seed), b"bound|", _canonical_rows(frame))
    order = pd.DataFrame(
        {
            "person": [
                None if absent else _canonical_value(v).decode()
                for v, absent in zip(keys, missing, strict=True)
            ],
            "rank": [d.hex() for d in rank],
            "position": np.arange(len(frame)),
        }
    )
    keyed = order[~missing]
    chosen = keyed.sort_values(["person", "rank", "position"]).drop_duplicates("person", keep="first")
    keep = np.zeros(len(frame), dtype=bool)
    keep[missing] = True
    keep[chosen["position"].to_numpy()] = True
    return frame[keep].reset_index(drop=True), int((~keep).sum())


def split_dataset(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    key: str | None = None,
    *,
    secret: str | bytes | None = None,
) -> SplitResult:
    """One row per key value (with a key), then the keyed, neighbour-preserving split."""
    bounded, dropped = one_row_per_key(frame, key, seed, secret=secret)
    mask = holdout_mask(bounded, fraction, seed, key, secret=secret)
    return SplitResult(bounded[~mask].reset_index(drop=True), bounded[mask].reset_index(drop=True), dropped)


def split_train_holdout(
    frame: pd.DataFrame,
    fraction: float,
    seed: int,
    key: str | None = None,
    *,
    secret: str | bytes | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): `split_dataset` without the count of dropped rows."""
    result = split_dataset(frame, fraction, seed, key, secret=secret)
    return result.train, result.holdout
