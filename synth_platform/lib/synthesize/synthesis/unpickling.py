"""Unpickling verified model bytes, following classes whose modules moved since the file was written.

A pickle names the module of every class it holds; a model written before `lib/` was grouped
into packages (or before a module became a package) must keep loading, since retraining to get
a loadable file would spend privacy budget again.
"""

from __future__ import annotations

import io
import pickle

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


#: classes that moved when their module became a package (`dp_mst.py` -> `dp_mst/`): the module a
#: model file names -> class name -> the module that defines the class today. The packages still
#: export these names, but a model file must not depend on a re-export someone may tidy away.
_MOVED_CLASSES = {
    "synth_platform.lib.synthesize.dp_mst": {
        "DPMSTSynthesizer": "synth_platform.lib.synthesize.dp_mst.synthesizer",
        "PrivacySpend": "synth_platform.lib.synthesize.dp_mst.noise",
    },
    "synth_platform.lib.synthesize.synthesis": {
        "FittedModel": "synth_platform.lib.synthesize.synthesis.fitting",
        "Fitted": "synth_platform.lib.synthesize.synthesis.fitting",
    },
}


def current_location(module: str, name: str) -> str:
    """The module that defines class `name` today, for a model file that says it lives in `module`
    (a module that moved into a package, then a class that moved into one of its modules)."""
    module = current_module(module)
    return _MOVED_CLASSES.get(module, {}).get(name, module)


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return super().find_class(current_location(module, name), name)


def unpickle_model(data: bytes):
    """Unpickle verified model bytes (cloudpickle writes standard pickles), following moved modules."""
    import cloudpickle  # noqa: F401  (registers the reducers cloudpickle's pickles refer to)

    return _ModelUnpickler(io.BytesIO(data)).load()
