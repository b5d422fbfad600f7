"""Resources: where the platform keeps its files, and the secret it pseudonymises with."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from synth_platform.lib.storage import platform_key, secrets, warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Every access goes through `warehouse.connect`, under one lock."""

    path: str

    @property
    def db_path(self) -> Path:
        return Path(self.path)

    def write_table(self, schema: str, table: str, frame) -> None:
        warehouse.write_table(self.db_path, schema, table, frame)

    def read_table(self, schema: str, table: str, columns: list[str] | None = None):
        return warehouse.read_table(self.db_path, schema, table, columns)

    def table_exists(self, schema: str, table: str) -> bool:
        return warehouse.table_exists(self.db_path, schema, table)

    def connect(self, read_only: bool = False):
        return warehouse.connect(self.db_path, read_only=read_only)

    def lock(self):
        return warehouse.warehouse_lock(self.db_path)


class StorageResource(dg.ConfigurableResource):
    """Folders outside the warehouse: landing files, quarantine, fitted models, specs and approved plans."""

    root: str
    #: The datasets' folder (`<name>/defs.yaml` and its approved `masking_plan.yaml` per dataset);
    #: empty: the code location's own, synth_platform/defs/datasets (settings.DATASETS_DIR).
    specs_dir: str = ""

    @property
    def specs_path(self) -> Path:
        from synth_platform.settings import DATASETS_DIR

        return Path(self.specs_dir) if self.specs_dir else DATASETS_DIR

    @property
    def root_path(self) -> Path:
        return Path(self.root)

    def landing_dir(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.root_path / path

    def quarantine_dir(self, dataset: str) -> Path:
        return self.root_path / "data" / "quarantine" / dataset

    def model_dir(self, dataset: str) -> Path:
        return self.root_path / "data" / "models" / dataset


class PseudonymKeyResource(dg.ConfigurableResource):
    """The HMAC key for keyed pseudonyms (lib.storage.secrets, lib.storage.platform_key).

    Bind `key` with `dg.EnvVar("SYNTH_PSEUDONYM_KEY")` to supply it; left empty, the key file
    `key_file` (default `~/.config/synth_platform/secrets/pseudonym.key`, mode 0600; outside the
    checkout) is used, generated on first use. With `warehouse_path` (as `build_definitions` sets
    it), a key is generated only while that warehouse has no ledger: afterwards a missing or
    different key fails the step, without retries, with how to restore it. There is no public
    default key.
    """

    key: str = ""
    key_file: str = ""
    warehouse_path: str = ""

    def resolve(self) -> secrets.Key:
        """The key and where it came from (`source` is safe to log; `value` never is)."""
        configured = self.key or None
        key_file = Path(self.key_file) if self.key_file else None
        if not self.warehouse_path:
            return secrets.pseudonym_key(configured, key_file)
        try:
            return platform_key.platform_key(Path(self.warehouse_path), configured, key_file)
        except secrets.SecretError as error:  # retrying cannot bring a key back; the message names no key
            raise dg.Failure(description=str(error), allow_retries=False) from None


class SynthesizerFactory(dg.ConfigurableResource):
    """Builds the synthesizer object for a spec's `kind` and says what privacy budget it spends.

    A resource so that a deployment (or a test planting a deliberately leaky model) can
    swap the implementation without touching the assets.
    """

    def build(self, kind: str, metadata: dict, params: dict):
        from synth_platform.lib.synthesize.synthesis import make_synthesizer

        return make_synthesizer(kind, metadata, params)

    def spend(self, kind: str, params: dict, column_types: dict | None = None, declared: dict | None = None):
        """What one fit spends (`governance.budget.Spend`): for `dp_mst` its epsilon/delta from the params,
        for kinds without a differential-privacy guarantee an unbounded spend (never zero)."""
        from synth_platform.lib.governance.budget import training_spend

        return training_spend(kind, params, column_types or {}, declared or {})

    def epsilon(self, kind: str, params: dict) -> float | None:
        """Epsilon one fit spends; None for synthesizers with no differential-privacy guarantee."""
        return self.spend(kind, params).epsilon
