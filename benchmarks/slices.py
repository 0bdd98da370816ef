"""Benchmark of the failing-slice search on a window of N rows (1M by default).

The credit-like rows of ``benchmarks/stats.py`` (15 numeric and 5 categorical features, sex
and age band, a binary model), with one planted failing slice: purpose_7 × sex F wrong 15
points more often. It measures, each on its own:

- the slice counts' share of building bucket profiles (``build_slices`` inside
  ``build_profile``), streamed over the N rows in 100k-row chunks;
- the same in a fold's pass (``build_profiles``: 100k rows in 288 buckets at once);
- the slice counts' size in a stored profile (zlib JSON bytes, beside the rest of it);
- merging 1,440 bucket profiles' slice counts (a day of minute buckets);
- the search on the merged window (every cell tested, Benjamini–Hochberg, ranking): time
  (best of 3) and, in a separate run, peak traced memory (tracemalloc, numpy's buffers
  included), for error rate, TPR and FPR.

Run from the repository root:  python -m benchmarks.slices [--rows 1M] [--quick]
(``--quick``: 100k rows). Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from benchmarks.common import parse_size, progress
from benchmarks.stats import CHUNK_ROWS, chunks, make_chunk
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.profile import build_profile, build_profiles, predicted_labels
from service.stats.serialize import profile_to_dict
from service.stats.slice_search import search_slices
from service.stats.slices import SliceCounts, build_slices, plan_of, slices_by_part, sum_slices

BUCKETS = 1_440


def _planted(batch: Batch, seed: int) -> Batch:
    """Flip 15% more predictions for purpose_7 and sex F (a failing pair to find)."""
    rng = np.random.default_rng(seed)
    bad = (np.asarray(batch.categorical["purpose"]) == "purpose_7") & (
        np.asarray(batch.attributes["sex"]) == "F"
    )
    flip = bad & (rng.random(batch.rows) < 0.15)
    predictions = np.asarray(batch.predictions, dtype=object).copy()
    predictions[flip] = np.where(predictions[flip] == "default", "repaid", "default")
    return replace(batch, predictions=predictions)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _fold(layout: Layout, rows: int) -> tuple[float, float, SliceCounts, int, int]:
    """(profile build s, of which slice counts s, merged counts, slice bytes, rest bytes)."""
    build = counts = 0.0
    parts: list[SliceCounts] = []
    sizes = (0, 0)
    for index, chunk in enumerate(chunks(rows, seed=2, shifted=False)):
        chunk = _planted(chunk, index)
        start = time.perf_counter()
        profile = build_profile(layout, chunk)
        build += time.perf_counter() - start
        start = time.perf_counter()
        build_slices(layout, chunk, predicted=predicted_labels(layout, chunk))
        counts += time.perf_counter() - start
        assert profile.slices is not None
        parts.append(profile.slices)
        if index == 0:
            body = profile_to_dict(profile)
            sliced = body.pop("slices")
            sizes = (len(zlib.compress(orjson.dumps(sliced), 1)), len(zlib.compress(orjson.dumps(body), 1)))
        progress(f"built {min((index + 1) * CHUNK_ROWS, rows):,} rows")
    merged = sum_slices(parts)
    assert merged is not None
    return build, counts, merged, *sizes


PLANTED = (("attribute", "sex", "F"), ("categorical", "purpose", "purpose_7"))


def _fold_pass(layout: Layout, rows: int, buckets: int) -> str:
    """A fold's pass: ``build_profiles`` of ``rows`` rows in ``buckets`` buckets at once, and
    the slice counts' part of it (``slices_by_part``)."""
    batch = _planted(make_chunk(rows, seed=5, shifted=False), 5)
    bounds = np.linspace(0, rows, buckets + 1).astype(int).tolist()
    whole, _ = _timed(lambda: build_profiles(layout, batch, bounds))
    part = np.repeat(np.arange(buckets), np.diff(bounds))
    predicted = predicted_labels(layout, batch)
    sliced, _ = _timed(lambda: slices_by_part(layout, batch, predicted=predicted, part=part, parts=buckets))
    return (
        f"| fold pass: build_profiles, {rows:,} rows in {buckets} buckets | {whole:.2f} s | — | "
        f"of which slice counts {sliced:.2f} s ({100 * sliced / whole:.0f}%) |"
    )


def _search(layout: Layout, merged: SliceCounts, metric: str) -> str:
    """The table row of one search: time, peak traced memory, cells tested, discoveries and
    the planted pair's rank among them."""
    plan = plan_of(layout)
    # Timed apart from the memory trace (tracemalloc slows numpy's allocations ~4x): best of 3.
    timings = [_timed(lambda: search_slices(plan, merged, task=layout.task, metric=metric)) for _ in range(3)]
    seconds, found = min(timings, key=lambda t: t[0])
    tracemalloc.start()
    search_slices(plan, merged, task=layout.task, metric=metric)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ranks = [i + 1 for i, f in enumerate(found.findings) if f.cells == PLANTED]
    rank = f"#{ranks[0]}" if ranks else "not found"
    note = f"{found.tested:,} tested, {len(found.findings)} discoveries, planted pair {rank}"
    return f"| search, {metric} | {1000 * seconds:.0f} ms | {peak / 2**20:.1f} MiB | {note} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=parse_size, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k rows")
    args = parser.parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    reference = make_chunk(100_000, seed=1, shifted=False)
    layout = fit_layout(
        task="binary_classification",
        reference=reference,
        positive_label="default",
        intersections=[("sex", "age_band")],
    )
    plan = plan_of(layout)
    build, counts, merged, slice_bytes, rest_bytes = _fold(layout, rows)
    merge_s, _ = _timed(lambda: sum_slices([merged] * BUCKETS))
    lines = [
        f"window: {rows:,} rows; {len(plan.columns)} slice columns, {len(plan.pairs)} pairs, "
        f"{plan.size:,} numbers per profile",
        "| step | time | peak traced memory | note |",
        "|---|---|---|---|",
        f"| profile build, {rows:,} rows | {build:.2f} s | — | of which slice counts {counts:.2f} s "
        f"({100 * counts / build:.0f}%) |",
        f"| stored size of a 100k-row profile | — | — | slices {slice_bytes:,} B, the rest {rest_bytes:,} B "
        "(zlib JSON) |",
        _fold_pass(layout, CHUNK_ROWS, 288),
        f"| merge {BUCKETS:,} bucket slice counts | {merge_s:.2f} s | — | a day of minute buckets |",
    ]
    lines += [_search(layout, merged, metric) for metric in ("error_rate", "tpr", "fpr")]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
