"""Print the coverage table of every reported interval.

python -m benchmarks.coverage [--reps N] [--summary]
"""

from __future__ import annotations

import argparse
import importlib
import time

from benchmarks.common import progress
from benchmarks.coverage.common import CoverageRow, markdown, summary

# Each module exposes rows(reps: int, seed: int) -> list[CoverageRow].
AREAS = ("performance", "fairness", "drift")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000, help="simulated samples per scenario")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument(
        "--summary", action="store_true", help="one line per interval instead of every scenario"
    )
    args = parser.parse_args()
    rows: list[CoverageRow] = []
    for area in AREAS:
        try:
            module = importlib.import_module(f"benchmarks.coverage.{area}")
        except ModuleNotFoundError:
            continue
        started = time.perf_counter()
        progress(f"coverage: {area} ({args.reps} samples per scenario)")
        rows += module.rows(args.reps, args.seed)
        progress(f"coverage: {area} done in {time.perf_counter() - started:.1f} s")
    print(summary(rows) if args.summary else markdown(rows))


if __name__ == "__main__":
    main()
