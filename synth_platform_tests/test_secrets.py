"""No public default key: a generated key, kept private, named but never shown."""

from __future__ import annotations

import os
import stat

import pytest

from synth_platform.defs.resources import PseudonymKeyResource
from synth_platform.lib import secrets


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_generates_a_private_random_key_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTH_SECRETS_DIR", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    first = secrets.pseudonym_key()
    path = tmp_path / "home" / "secrets" / "pseudonym.key"
    assert first.source == str(path)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert len(first.value) >= 32
    assert secrets.pseudonym_key().value == first.value  # the same key on every later use
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "other_home"))
    assert secrets.pseudonym_key().value != first.value  # random, not a built-in default


def test_the_environment_variable_overrides_and_short_keys_are_refused(tmp_path):
    key = secrets.pseudonym_key("a-long-enough-operator-key", key_file=tmp_path / "unused.key")
    assert (
        key.value == b"a-long-enough-operator-key"
        and key.source == "environment variable SYNTH_PSEUDONYM_KEY"
    )
    assert not (tmp_path / "unused.key").exists()
    with pytest.raises(secrets.SecretError, match="shorter than 16 characters") as error:
        secrets.pseudonym_key("k3y!z")
    assert "k3y!z" not in str(error.value)


def test_a_key_file_others_can_read_is_refused_without_showing_it(tmp_path):
    path = tmp_path / "pseudonym.key"
    path.write_text("x" * 40)
    os.chmod(path, 0o644)
    with pytest.raises(secrets.SecretError, match="readable by others") as error:
        secrets.load_or_create(path)
    assert "x" * 40 not in str(error.value)


def test_resource_names_where_the_key_is_and_masking_metadata_never_holds_it(tmp_path):
    resource = PseudonymKeyResource(key_file=str(tmp_path / "k" / "pseudonym.key"))
    key = resource.resolve()
    assert key.source.endswith("pseudonym.key") and key.value.decode() not in key.source
    assert PseudonymKeyResource(key="x" * 20).resolve().value == b"x" * 20
