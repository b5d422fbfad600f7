"""The public certificate (certificate.py) is built from the synthetic table and public inputs only."""

import json

import numpy as np
import pandas as pd

from synth_platform.lib.governance import certificate


def _synthetic(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(17, 91, n),
            "sex": rng.choice(["Female", "Male"], n),
            "city": rng.choice([f"c{i}" for i in range(30)], n),
        }
    )


def _build(synthetic: pd.DataFrame, **extra) -> dict:
    return certificate.build(
        dataset="people",
        run_id="r1",
        decision="released",
        synthetic=synthetic,
        synthesizer="dp_mst",
        parameters={"epsilon": 1.0, "delta": 1e-9},
        differentially_private=True,
        spend={"epsilon": 1.0, "delta": 1e-9, "rho": 0.015},
        cumulative={"epsilon": 1.0, "budget": 10},
        digests={"spec": "s", "plan": "p", "code": "c"},
        gate=[
            {
                "check": "near_copies",
                "noisy_figure": 0.001,
                "sigma": 0.002,
                "threshold": 0.002,
                "passed": True,
                "exact_figure": 0.123456,
            }
        ],
        declared_domains={"age": {"bounds": (17, 90)}, "sex": {"categories": ["Female", "Male"]}},
        column_types={"age": "BIGINT", "sex": "VARCHAR", "city": "VARCHAR"},
        **extra,
    )


def test_numeric_axes_span_declared_bounds_not_the_values():
    content = _build(_synthetic())
    age = content["pictures"]["age"]
    assert age["axis"] == "declared bounds" and age["edges"][0] == 17 and age["edges"][-1] == 90
    assert sum(age["counts"]) == 500


def test_exact_gate_figures_never_reach_the_certificate(tmp_path):
    content = _build(_synthetic())
    text = json.dumps(content, default=str)
    assert "0.123456" not in text and "exact_figure" not in text
    cert = certificate.write(tmp_path / "c", content)
    assert "0.123456" not in cert.html.read_text()
    assert "differentially private" in cert.html.read_text()
    assert json.loads(cert.json.read_text())["decision"] == "released"


def test_many_categories_are_folded_into_other():
    content = _build(_synthetic())
    bars = content["pictures"]["city"]["bars"]
    assert len(bars) == certificate.MAX_BARS + 1 and bars[-1][0].startswith("other (18 values)")


def test_not_private_synthesizers_are_labelled():
    assert _build(_synthetic())["synthesizer"]["label"] == "differentially private"
    other = certificate.build(**{**_kwargs(), "differentially_private": False})
    assert other["synthesizer"]["label"] == "NOT differentially private"


def _kwargs() -> dict:
    return dict(
        dataset="people",
        run_id="r1",
        decision="released",
        synthetic=_synthetic(50),
        synthesizer="gaussian_copula",
        parameters={},
        differentially_private=True,
        spend={},
        cumulative={},
        digests={},
        gate=[],
        declared_domains={},
        column_types={},
    )


def test_the_certificate_stays_world_readable_under_the_platforms_owner_only_umask(tmp_path):
    """The platform now runs under umask 077 (lib/storage/private_files.py); the public document must not
    vanish behind it: its files are 0644 and the folders it creates 0755."""
    import os
    import stat

    previous = os.umask(0o077)
    try:
        cert = certificate.write(tmp_path / "certificates" / "ds" / "run", _build(_synthetic()))
    finally:
        os.umask(previous)
    for path in (cert.json, cert.html):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    for folder in (cert.json.parent, cert.json.parent.parent, cert.json.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
