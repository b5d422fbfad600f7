"""`python -m synth_platform.demo_data`: write the demo landing file for the demo dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from synth_platform.lib.demo_data import write_demo_landing_file
from synth_platform.settings import PROJECT_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=None, help="first N rows of Adult (default: all 48,842)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "landing" / "adult_customers")
    args = parser.parse_args()
    path = write_demo_landing_file(args.out, rows=args.rows, seed=args.seed)
    print(path)


if __name__ == "__main__":
    main()
