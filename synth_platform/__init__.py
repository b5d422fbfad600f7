"""synth_platform: governed synthetic twins of sensitive tables, orchestrated by Dagster."""

__version__ = "0.1.0"
