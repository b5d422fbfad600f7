"""Where datasets live: one folder per dataset, `<datasets_dir>/<name>/defs.yaml`.

Each dataset is an instance of the `GovernedDataset` Dagster component
(`synth_platform.components`): its `defs.yaml` names the component `type` and holds the dataset's
spec under `attributes`, validated by the same `DatasetSpec` model as ever. Its approved masking
plan sits next to it (`lib.pii.approved_plan.plan_path`). Dagster's own loader (`dg`, the code
location) reads these files through the component; this module reads the same files without
Dagster, for the CLI, the tests and the programmatic entry point over another folder, and names
the file, the field and the line of whatever is wrong.

Plain Python (no Dagster import), like the rest of `lib/`.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from synth_platform.lib.spec import DATASET_NAME, DatasetSpec, SpecError

#: The file of one component instance (Dagster's name for it).
INSTANCE_FILE = "defs.yaml"
#: The component type every dataset instance names (registered for `dg` in pyproject.toml).
COMPONENT_TYPE = "synth_platform.components.GovernedDataset"


def instance_path(datasets_dir: Path, name: str) -> Path:
    """`<datasets_dir>/<name>/defs.yaml`: the one place a dataset's spec is read from."""
    return Path(datasets_dir) / name / INSTANCE_FILE


def dataset_names(datasets_dir: Path) -> list[str]:
    """The datasets of a folder (sub-folders holding a `defs.yaml`), sorted by name."""
    folder = Path(datasets_dir)
    if not folder.is_dir():
        return []
    return sorted(p.parent.name for p in folder.glob(f"*/{INSTANCE_FILE}"))


def _node_line(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the deepest YAML node on `loc` (a pydantic error location) below `root`."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node, line = found, found.start_mark.line + 1
    return line


def _attributes_node(document: yaml.Node | None) -> yaml.Node | None:
    if not isinstance(document, yaml.MappingNode):
        return None
    return next((v for k, v in document.value if getattr(k, "value", None) == "attributes"), None)


def describe_errors(error: ValidationError, attributes: yaml.Node | None) -> str:
    """`field 'privacy.epsilon_budget' (line 40): Input should be a valid number; ...`."""
    parts = []
    for item in error.errors():
        loc = tuple(item["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _node_line(attributes, loc)
        where = f" (line {line})" if line else ""
        parts.append(f"field '{field}'{where}: {item['msg']}")
    return "; ".join(parts)


def load_instance(path: Path) -> DatasetSpec:
    """The spec of one `defs.yaml` (or of the dataset folder holding it); SpecError names the
    file, the field and its line. The folder's name must be the dataset's `name`."""
    path = Path(path)
    if path.is_dir():
        path = path / INSTANCE_FILE
    try:
        text = path.read_text()
        document = yaml.compose(text)
        raw = yaml.safe_load(text)
    except FileNotFoundError as exc:
        raise SpecError(f"{path}: no such file") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SpecError(f"{path}: not valid YAML{where} ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("attributes"), dict):
        raise SpecError(
            f"{path}: expected `type: {COMPONENT_TYPE}` and the dataset's spec under `attributes:`"
        )
    if raw.get("type") not in (COMPONENT_TYPE, "GovernedDataset"):
        raise SpecError(f"{path}: field 'type' is {raw.get('type')!r}, not {COMPONENT_TYPE!r}")
    try:
        spec = DatasetSpec.model_validate(raw["attributes"])
    except ValidationError as exc:
        raise SpecError(f"{path}: {describe_errors(exc, _attributes_node(document))}") from exc
    check_folder_name(spec, path.parent)
    return spec


def check_folder_name(spec: DatasetSpec, folder: Path) -> None:
    """The folder is the dataset's name (the CLI and the plan find a dataset by it)."""
    if spec.name != Path(folder).name:
        raise SpecError(
            f"{Path(folder) / INSTANCE_FILE}: field 'name' is {spec.name!r} but the dataset's folder is "
            f"named {Path(folder).name!r}; rename one of them"
        )


def load_datasets(datasets_dir: Path) -> list[DatasetSpec]:
    """Every dataset of a folder, sorted by name."""
    return [load_instance(instance_path(datasets_dir, name)) for name in dataset_names(datasets_dir)]


def find_dataset(datasets_dir: Path, name: str) -> DatasetSpec:
    """One dataset by name; an unknown one raises UnknownDataset listing the known ones."""
    path = instance_path(datasets_dir, name)
    if not DATASET_NAME.match(name) or not path.is_file():
        known = dataset_names(datasets_dir)
        raise UnknownDataset(
            f"unknown dataset {name!r}: no {path}; known datasets: {', '.join(known) or 'none'}"
        )
    return load_instance(path)


class UnknownDataset(SpecError):
    """A dataset name with no instance folder; the message lists the known ones."""


def instance_text(spec_text: str, component_type: str = COMPONENT_TYPE) -> str:
    """A flat spec file's text as a component instance (`type` + the spec, comments kept, under
    `attributes`): how `config/datasets/<name>.yaml` becomes `<name>/defs.yaml`."""
    lines = spec_text.splitlines()
    head = []
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        head.append(lines.pop(0))
    body = [f"  {line}" if line.strip() else "" for line in lines]
    return "\n".join([*head, f"type: {component_type}", "attributes:", *body]) + "\n"


def read_spec_dict(path: Path) -> dict:
    """The raw spec mapping (`attributes`) of a `defs.yaml` or its folder, unvalidated: to edit and write
    back with `write_instance`."""
    path = Path(path)
    return yaml.safe_load((path / INSTANCE_FILE if path.is_dir() else path).read_text())["attributes"]


def write_instance(datasets_dir: Path, spec: dict | str) -> Path:
    """Write one dataset's `defs.yaml` from a spec (a mapping, or a flat spec file's text)."""
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    name = (yaml.safe_load(text) or {}).get("name", "")
    if not isinstance(name, str) or not re.match(DATASET_NAME, name):
        raise SpecError(f"field 'name' {name!r}: must be lower-case letters, digits and underscores")
    path = instance_path(datasets_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(instance_text(text))
    return path


def migrate_flat_specs(old_dir: Path, datasets_dir: Path) -> list[Path]:
    """Move every `config/datasets/<name>.yaml` (and its `<name>.plan.yaml`) to the new layout.

    The spec's text (comments included) goes under `attributes:` of `<name>/defs.yaml`; the plan
    file is copied next to it unchanged. The old files are left for the user to delete.
    """
    from synth_platform.lib.pii.approved_plan import PLAN_SUFFIX, plan_path

    written = []
    for old in sorted(Path(old_dir).glob("*.yaml")):
        if old.name.endswith(PLAN_SUFFIX):
            continue
        path = write_instance(datasets_dir, old.read_text())
        plan = old.with_name(f"{old.stem}{PLAN_SUFFIX}")
        if plan.is_file():
            target = plan_path(datasets_dir, path.parent.name)
            target.write_bytes(plan.read_bytes())
            written.append(target)
        load_instance(path)  # the migrated spec still validates
        written.append(path)
    return written


if __name__ == "__main__":  # python -m synth_platform.lib.dataset_instances OLD_DIR NEW_DIR
    import sys

    for written_path in migrate_flat_specs(Path(sys.argv[1]), Path(sys.argv[2])):
        print(written_path)
