"""Benchmark of the statistics core against Evidently's drift preset.

For each size N (rows × 20 features: 15 numeric, 5 categorical, a binary model with a
score, protected attributes sex and age_band, one intersection) it measures:

- layout fit and reference profile on a reference of N rows (at most 1M);
- profile build of an N-row window streamed in 100k-row chunks (feature-values/s);
- merge of 1,440 bucket profiles (a day of minute buckets) into one window;
- all metrics from the merged window profile: drift + data quality (this half of
  ``service.stats``), and binary performance + fairness per attribute and intersection
  when those modules exist (timed apart);
- peak RSS increase while streaming the window (flat in N when building chunk by chunk);
- Evidently 0.7's ``DataDriftPreset`` on the same reference and window (N ≤ 1M).

Run from the repository root:  python -m benchmarks.stats --sizes 10k,100k,1M [--no-evidently]
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.common import PeakRss, parse_size, progress
from service.stats.estimated import calibrate, estimate_performance
from service.stats.explanation import explanation_drift
from service.stats.fairness import fairness_report, representation_shift
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.performance import binary_performance
from service.stats.profile import Profile, build_profile, group_outcomes, merge_all
from service.stats.verdict import evaluate_drift

FloatArray = npt.NDArray[np.float64]
CHUNK_ROWS = 100_000
REFERENCE_CAP = 1_000_000
BUCKETS = 1_440
NUMERIC = 15
LEVELS = {"purpose": 8, "housing": 4, "employment": 5, "region": 10, "education": 5}
SHIFTED = {"num_00": 0.5, "num_01": 0.3, "num_02": -0.4, "purpose": 0.3}


def make_chunk(rows: int, *, seed: int, shifted: bool) -> Batch:
    """One seeded chunk of credit-like rows (vectorised; shift in SHIFTED when asked)."""
    rng = np.random.default_rng(seed)
    numeric: dict[str, FloatArray] = {}
    for i in range(NUMERIC):
        column = rng.lognormal(0.0, 0.5, rows) if i % 2 else rng.normal(0.0, 1.0, rows)
        column[rng.random(rows) < 0.01] = np.nan
        numeric[f"num_{i:02d}"] = column + (SHIFTED.get(f"num_{i:02d}", 0.0) if shifted else 0.0)
    categorical: dict[str, Any] = {}
    for name, k in LEVELS.items():
        p = np.linspace(2.0, 1.0, k)
        p /= p.sum()
        if shifted and name in SHIFTED:
            p = (1 - SHIFTED[name]) * p + SHIFTED[name] * np.eye(k)[-1]
        levels = np.array([f"{name}_{j}" for j in range(k)], dtype=object)
        categorical[name] = levels[rng.choice(k, rows, p=p)]
    logit = numeric["num_00"] - 0.5 * np.nan_to_num(numeric["num_03"]) + rng.normal(0.0, 1.0, rows) - 1.0
    scores = 1.0 / (1.0 + np.exp(-np.nan_to_num(logit)))
    labels = np.where(rng.random(rows) < scores, "default", "repaid").astype(object)
    return Batch(
        rows=rows,
        numeric=numeric,
        categorical=categorical,
        scores=scores,
        labels=labels,
        predictions=np.where(scores >= 0.5, "default", "repaid").astype(object),
        attributes={
            "sex": np.where(rng.random(rows) < 0.5, "F", "M").astype(object),
            "age_band": np.array(["18-25", "26-35", "36-50", "51-65", "65+"], dtype=object)[
                rng.integers(0, 5, rows)
            ],
        },
    )


def chunks(rows: int, *, seed: int, shifted: bool) -> Iterator[Batch]:
    for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
        yield make_chunk(min(CHUNK_ROWS, rows - start), seed=seed * 100_003 + index, shifted=shifted)


def concat(parts: list[Batch]) -> Batch:
    def join(columns: list[Any]) -> Any:
        return np.concatenate(columns)

    first = parts[0]
    return Batch(
        rows=sum(p.rows for p in parts),
        numeric={k: join([p.numeric[k] for p in parts]) for k in first.numeric},
        categorical={k: join([p.categorical[k] for p in parts]) for k in first.categorical},
        scores=join([p.scores for p in parts]),
        labels=join([p.labels for p in parts]),
        predictions=join([p.predictions for p in parts]),
        attributes={k: join([p.attributes[k] for p in parts]) for k in first.attributes},
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def drift_metrics(layout: Layout, reference: Profile, window: Profile) -> int:
    report = evaluate_drift(layout=layout, reference=reference, window=window)
    return len(report.features) + len(report.quality)


def outcome_metrics(reference: Profile, window: Profile) -> int:
    """Realised and label-free performance, fairness and representation per attribute and
    intersection, and explanation drift where rows carry attributions."""
    overall, reference_overall = window.outcomes[()], reference.outcomes[()]
    assert overall.binary is not None and overall.scores is not None and reference_overall.scores is not None
    count = len(binary_performance(counts=overall.binary, histogram=overall.scores).metrics)
    estimate = estimate_performance(calibration=calibrate(reference_overall.scores), window=overall.scores)
    count += len(estimate.metrics)
    for attributes in [("sex",), ("age_band",), ("sex", "age_band")]:
        name = "×".join(attributes)
        groups = {"|".join(k): o.binary for k, o in group_outcomes(window, attributes).items() if o.binary}
        reference_groups = {
            "|".join(k): o.binary.n for k, o in group_outcomes(reference, attributes).items() if o.binary
        }
        fairness_report(attribute=name, groups=groups)
        representation_shift(
            attribute=name, reference=reference_groups, current={g: c.n for g, c in groups.items()}
        )
        count += 2
    if window.attributions:
        explanation_drift(reference=reference.attribution_sums(), current=window.attribution_sums())
        count += 1
    return count


@dataclass
class Row:
    rows: int
    fit_s: float = math.nan
    reference_s: float = math.nan
    build_s: float = math.nan
    merge_ms: float = math.nan
    drift_ms: float = math.nan
    outcome_ms: float = math.nan
    peak_mib: float = math.nan
    evidently_s: float = math.nan
    evidently_mib: float = math.nan

    @property
    def values_per_s(self) -> float:
        return self.rows * 20 / self.build_s

    @property
    def end_to_end_s(self) -> float:
        """Layout fit + both profiles + drift: the work Evidently's preset does."""
        return self.fit_s + self.reference_s + self.build_s + self.drift_ms / 1000


def run_modelmon(rows: int, row: Row) -> tuple[Layout, Batch | None]:
    ref_rows = min(rows, REFERENCE_CAP)
    progress(f"{rows:,} rows: reference of {ref_rows:,} rows")
    reference = concat(list(chunks(ref_rows, seed=1, shifted=False)))
    row.fit_s, layout = timed(
        lambda: fit_layout(
            task="binary_classification",
            reference=reference,
            positive_label="default",
            intersections=[("sex", "age_band")],
        )
    )
    row.reference_s, ref_profile = timed(lambda: build_profile(layout, reference))
    progress(f"{rows:,} rows: streaming the window in {CHUNK_ROWS:,}-row chunks")
    window = Profile.empty(layout)
    build = 0.0
    with PeakRss() as memory:
        for chunk in chunks(rows, seed=2, shifted=True):
            seconds, profile = timed(lambda chunk=chunk: build_profile(layout, chunk))  # type: ignore[misc]
            build += seconds
            window = window.merge(profile)
    row.build_s, row.peak_mib = build, memory.mib
    progress(f"{rows:,} rows: merge of {BUCKETS} bucket profiles, metrics")
    sample = make_chunk(BUCKETS * 10, seed=3, shifted=True)
    buckets = [build_profile(layout, sample.slice(i * 10, i * 10 + 10)) for i in range(BUCKETS)]
    row.merge_ms = 1000 * min(timed(lambda: merge_all(buckets, layout=layout))[0] for _ in range(3))
    row.drift_ms = 1000 * min(timed(lambda: drift_metrics(layout, ref_profile, window))[0] for _ in range(5))
    row.outcome_ms = 1000 * min(timed(lambda: outcome_metrics(ref_profile, window))[0] for _ in range(5))
    return layout, reference if rows <= REFERENCE_CAP else None


def run_evidently(rows: int, reference: Batch, row: Row) -> None:
    progress(f"{rows:,} rows: Evidently DataDriftPreset (≈ 70 s at 1M)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        window = concat(list(chunks(rows, seed=2, shifted=True)))
        definition = DataDefinition(
            numerical_columns=list(reference.numeric), categorical_columns=list(reference.categorical)
        )

        def frame(batch: Batch) -> Any:
            return Dataset.from_pandas(
                pd.DataFrame({**batch.numeric, **batch.categorical}), data_definition=definition
            )

        with PeakRss() as memory:
            row.evidently_s, _ = timed(
                lambda: Report([DataDriftPreset()]).run(
                    current_data=frame(window), reference_data=frame(reference)
                )
            )
        row.evidently_mib = memory.mib


def table(results: list[Row]) -> str:
    """Two speed-ups: ``cold`` counts fitting the layout and profiling both data sets from raw
    rows (what Evidently's preset does on every call); ``stored`` counts what modelmon does per
    window in service — merge the window's 1,440 bucket profiles, then every metric."""
    head = (
        "| rows | fit s | ref profile s | window build s | feature-values/s | merge 1,440 ms | "
        "drift+quality ms | outcome metrics ms | all metrics ms | peak RSS +MiB | cold total s | "
        "Evidently s | Evidently +MiB | speed-up cold | speed-up stored |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        stored_s = (r.merge_ms + r.drift_ms + r.outcome_ms) / 1000
        cold = r.evidently_s / r.end_to_end_s if math.isfinite(r.evidently_s) else math.nan
        stored = r.evidently_s / stored_s if math.isfinite(r.evidently_s) else math.nan
        lines.append(
            f"| {r.rows:,} | {r.fit_s:.2f} | {r.reference_s:.2f} | {r.build_s:.2f} | "
            f"{r.values_per_s / 1e6:.1f} M | {r.merge_ms:.0f} | {r.drift_ms:.1f} | {r.outcome_ms:.1f} | "
            f"{r.drift_ms + r.outcome_ms:.1f} | {r.peak_mib:.0f} | {r.end_to_end_s:.2f} | "
            f"{r.evidently_s:.1f} | {r.evidently_mib:.0f} | {cold:.0f}× | {stored:.0f}× |".replace("nan", "–")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10k,100k,1M", help="comma-separated row counts (10M needs ~3 GB)")
    parser.add_argument("--no-evidently", action="store_true", help="skip the Evidently comparison")
    args = parser.parse_args(argv)
    results = []
    for size in (parse_size(s) for s in args.sizes.split(",")):
        row = Row(size)
        _, reference = run_modelmon(size, row)
        if not args.no_evidently and reference is not None:
            run_evidently(size, reference, row)
        results.append(row)
        del reference
        gc.collect()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
