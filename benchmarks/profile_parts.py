"""Benchmark: a pass's bucket profiles built one bucket at a time (``build_profile``) against
all at once (``build_profiles``), in this process, on the 20-feature credit data of the
statistics tests (two protected attributes and their intersection, 60% labelled).

One pass of 100,000 rows cut into buckets of the sizes a fold meets: dense traffic (1M
predictions a day in 5-minute buckets: 29 buckets of ~3,472) and sparse (1M over 30 days: 750
buckets of ~133). Best of ``--repeats``; the two builders' profiles are checked equal first.

    python -m benchmarks.profile_parts             # ~1 min
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from itertools import pairwise

from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import Profile, build_profile, build_profiles
from tests.stats.conftest import make_credit_data

ROWS = 100_000
SHAPES = {"dense (1M a day)": 29, "sparse (1M in 30 days)": 750}


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _one_by_one(layout: Layout, batch: Batch, bounds: list[int]) -> list[Profile]:
    return [build_profile(layout, batch.slice(a, b)) for a, b in pairwise(bounds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    reference = make_credit_data(20_000, seed=1)
    window = make_credit_data(ROWS, seed=2, shift={"income": 0.5}, labelled_fraction=0.6).batch
    layout = fit_layout(
        task="binary_classification",
        reference=reference.batch,
        positive_label="default",
        intersections=[("sex", "age_band")],
    )
    lines = [
        f"bucket profiles of one pass of {ROWS:,} rows, best of {args.repeats}",
        "",
        "| traffic | buckets | build_profile per bucket | build_profiles | per bucket saved | × |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, buckets in SHAPES.items():
        bounds = [ROWS * i // buckets for i in range(buckets + 1)]
        assert build_profiles(layout, window, bounds) == _one_by_one(layout, window, bounds), (
            "build_profiles differs from build_profile"
        )
        one = _best(partial(_one_by_one, layout, window, bounds), args.repeats)
        many = _best(partial(build_profiles, layout, window, bounds), args.repeats)
        lines.append(
            f"| {name} | {buckets} | {one * 1e3:,.0f} ms | {many * 1e3:,.0f} ms | "
            f"{(one - many) / buckets * 1e3:.2f} ms | {one / many:.1f} |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
