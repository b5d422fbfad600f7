"""No public default key: a generated key, kept private, named but never shown."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from synth_platform.defs.resources import PseudonymKeyResource
from synth_platform.lib.storage import secrets
from synth_platform_tests.conftest import PROJECT_ROOT


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _default_location(monkeypatch, tmp_path):
    """No SYNTH_SECRETS_DIR, a throw-away HOME, and DAGSTER_HOME inside a checkout as `make` sets it."""
    for name in ("SYNTH_SECRETS_DIR", "XDG_CONFIG_HOME", "SYNTH_PSEUDONYM_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    checkout = tmp_path / "checkout"
    monkeypatch.setenv("DAGSTER_HOME", str(checkout / ".dagster_home"))
    return checkout


def test_first_use_generates_a_private_key_outside_the_checkout_and_dagster_home(tmp_path, monkeypatch):
    checkout = _default_location(monkeypatch, tmp_path)
    first = secrets.pseudonym_key()
    path = tmp_path / "home" / ".config" / "synth_platform" / "secrets" / "pseudonym.key"
    assert first.source == str(path)
    assert not path.is_relative_to(checkout) and not path.is_relative_to(PROJECT_ROOT)
    assert not path.is_relative_to(os.environ["DAGSTER_HOME"])  # `make clean` deletes DAGSTER_HOME
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert len(first.value) >= 32
    assert secrets.pseudonym_key().value == first.value  # the same key on every later use
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "other_home"))
    assert secrets.pseudonym_key().value == first.value  # DAGSTER_HOME has no say in where it is
    monkeypatch.setenv("HOME", str(tmp_path / "other_user"))
    assert secrets.pseudonym_key().value != first.value  # random, not a built-in default
    monkeypatch.setenv("SYNTH_SECRETS_DIR", str(tmp_path / "chosen"))
    assert secrets.pseudonym_key().source == str(tmp_path / "chosen" / "pseudonym.key")  # still overrides


def test_a_key_an_older_version_kept_under_dagster_home_is_adopted_not_replaced(tmp_path, monkeypatch):
    _default_location(monkeypatch, tmp_path)
    legacy = Path(os.environ["DAGSTER_HOME"]) / "secrets" / "pseudonym.key"
    legacy.parent.mkdir(parents=True, mode=0o700)
    legacy.write_text("the-key-an-older-version-generated-0001\n")
    legacy.chmod(0o600)
    key = secrets.pseudonym_key()
    assert key.value == b"the-key-an-older-version-generated-0001"
    assert Path(key.source).read_text().strip() == "the-key-an-older-version-generated-0001"
    assert _mode(Path(key.source)) == 0o600 and not Path(key.source).is_relative_to(legacy.parent.parent)
    legacy.unlink()  # what `make clean` does to DAGSTER_HOME: the key survives it
    assert secrets.pseudonym_key().value == b"the-key-an-older-version-generated-0001"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clean_never_removes_the_key(tmp_path, monkeypatch):
    """The real `clean` recipe, run in a throw-away copy of the checkout's layout (make -C)."""
    checkout = _default_location(monkeypatch, tmp_path)
    for made in (".dagster_home", ".venv", "data/models", "data/landing"):
        (checkout / made).mkdir(parents=True)
    (checkout / "data" / "warehouse.duckdb").write_text("")
    key = secrets.pseudonym_key()  # where the chain, run by `make`, keeps it
    make = ["make", "-s", "-C", str(checkout), "-f", str(PROJECT_ROOT / "Makefile"), "clean"]
    done = subprocess.run(make, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (checkout / ".dagster_home").exists() and not (checkout / "data" / "warehouse.duckdb").exists()
    assert Path(key.source).read_bytes().strip() == key.value  # untouched
    # A key file under what clean removes (an older version's, or SYNTH_SECRETS_DIR put there) stops it.
    kept = checkout / ".dagster_home" / "secrets" / "pseudonym.key"
    kept.parent.mkdir(parents=True)
    kept.write_text("k" * 40)
    done = subprocess.run(make, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "is the platform key" in done.stderr and str(kept) in done.stderr
    assert kept.read_text() == "k" * 40 and "k" * 40 not in done.stderr


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
