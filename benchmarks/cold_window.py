"""Benchmark: a fresh (not yet folded) 24 h window of ``--rows`` predictions evaluated now,
against Evidently 0.7's DataDriftPreset on the same rows, in one run.

The data is ``benchmarks.evaluate``'s (20 features, protected attributes sex and age_band,
outcomes for half), all ``--rows`` predictions inside the last 24 h, COPied into a throwaway
Postgres database; the model's layout is fitted from its reference by the model's
aggregation pass with nothing to fold. Then, median of ``--repeats``:

- cold, columnar: read the window's raw rows (``repository.version_event_columns``: COPY +
  pyarrow), ``build_profile`` over all of them at once, evaluate every figure against the
  reference (``evaluate_window``), i.e. ``aggregation.cold.events_profile`` + the figures;
- cold, row path (what was there before): ``version_events`` rows + ``to_batch`` + the same;
- once: the full fold (``catch_up``: every bucket profiled and stored) + ``compute``;
- Evidently: DataDriftPreset on the same rows (``benchmarks.evaluate.run_evidently``; its
  import and reading the rows into pandas not counted, as there).

    python -m benchmarks.cold_window --rows 1M        # ~3 min

Progress goes to stderr, the table to stdout. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from benchmarks.common import parse_size, postgres_database, progress
from benchmarks.evaluate import END, Plan, Results, in_child, prepare, run_evidently
from service.aggregation import frames, repository
from service.aggregation.cold import EVERY_ID
from service.aggregation.service import Limits, PassResult, fold_events
from service.clock import frozen_clock
from service.config import Settings
from service.registry.service import load_model
from service.runner import Pipeline
from service.stats.profile import Profile, build_profile
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.windows.figures import Figure, WindowFigures, evaluate_window
from service.windows.service import ProfileCache, Target, compute, reference_profile, target_of

WINDOW = (END - timedelta(days=1), END)
GOAL = 10.0  # × Evidently


def _columnar(session: Any, model_id: int, spec: Any, layout: Any) -> tuple[Profile, dict[str, float]]:
    began = time.perf_counter()
    events = repository.version_event_columns(
        session, model_id, spec, predictions_upto=EVERY_ID, outcomes_upto=EVERY_ID,
        start=WINDOW[0], end=WINDOW[1], ordered=False,
    )  # fmt: skip
    read = time.perf_counter()
    profile = build_profile(layout, frames.batch_of(spec, events))
    return profile, {"read": read - began, "profile": time.perf_counter() - read}


def _rows(session: Any, model_id: int, spec: Any, layout: Any) -> tuple[Profile, dict[str, float]]:
    began = time.perf_counter()
    rows = repository.version_events(
        session, model_id, spec.version_id, predictions_upto=EVERY_ID, outcomes_upto=EVERY_ID,
        start=WINDOW[0], end=WINDOW[1],
    )  # fmt: skip
    read = time.perf_counter()
    profile = build_profile(layout, frames.to_batch(spec, rows, offset=repository.EVENT_OFFSET))
    return profile, {"read": read - began, "profile": time.perf_counter() - read}


Reader = Callable[[Any, int, Any, Any], tuple[Profile, dict[str, float]]]


def cold(sessions: Any, model_id: int, reader: Reader) -> tuple[WindowFigures, dict[str, float]]:
    """Read + profile + evaluate the window from its raw rows; seconds per phase."""
    with unit_of_work(sessions) as session:
        target = target_of(session, model_id, load_model(session, "bench").versions["v1"].version_id)
        assert target is not None, "no layout"
        spec = load_model(session, "bench").versions["v1"]
        profile, seconds = reader(session, model_id, spec, target.layout)
        began = time.perf_counter()
        figures = _evaluate(session, target, profile)
        seconds["evaluate"] = time.perf_counter() - began
    seconds["total"] = sum(seconds.values())
    return figures, seconds


def _evaluate(session: Any, target: Target, profile: Profile) -> WindowFigures:
    reference = reference_profile(session, target, WINDOW[0], ProfileCache())
    return evaluate_window(
        layout=target.layout, reference=reference, window=profile, policy=target.policy.evaluation, final=True
    )


def fit_layout_only(sessions: Any, model_id: int) -> None:
    """The model's pass with nothing to fold (every id bound 0): it fits the layout."""
    with unit_of_work(sessions) as session:
        nothing = ((0, 0), (0, 0))
        fold_events(session, model_id, PassResult(claimed=True), nothing, END, Limits(), rebuild=False)


def _key(figure: Figure) -> tuple[Any, ...]:
    return (figure.family, figure.metric, figure.feature, figure.attribute, figure.group)


def largest_difference(left: WindowFigures, right: WindowFigures) -> float:
    """Largest |difference| between the values of the same figures (finite ones)."""
    theirs = {_key(f): f.value for f in right.figures}
    assert len(theirs) == len(left.figures), "different figures"
    gaps = []
    for figure in left.figures:
        other = theirs[_key(figure)]
        if figure.value is not None and other is not None and np.isfinite(figure.value - other):
            gaps.append(abs(figure.value - other))
    return max(gaps, default=0.0)


def median_phases(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=parse_size, default=1_000_000)
    parser.add_argument("--reference-rows", type=parse_size, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args(argv)
    plan = Plan(args.rows, WINDOW[0], WINDOW[1])
    results = Results(args.rows, 1, args.reference_rows)
    with postgres_database() as url:
        prepared = in_child(prepare, url, plan, args.reference_rows)
        settings = Settings(database_url=url, run_jobs=False)
        engine = create_database_engine(settings)
        try:
            sessions = create_session_factory(engine)
            fit_layout_only(sessions, prepared.model_id)
            runs: dict[str, list[dict[str, float]]] = {"columnar": [], "rows": []}
            for k in range(args.repeats):
                for name, reader in (("columnar", _columnar), ("rows", _rows)):
                    progress(f"cold window, {name} read, run {k + 1}")
                    figures, seconds = cold(sessions, prepared.model_id, reader)
                    runs[name].append(seconds)
                    if name == "columnar":
                        cold_figures = figures
            progress("full fold (catch_up) + compute")
            jobs = Pipeline(sessions, settings, frozen_clock(END))
            began = time.perf_counter()
            jobs.catch_up()
            fold_s = time.perf_counter() - began
            with unit_of_work(sessions) as session:
                target = target_of(session, prepared.model_id, prepared.version_id)
                assert target is not None
                began = time.perf_counter()
                _, folded = compute(session, target, WINDOW, END, ProfileCache())
                compute_s = time.perf_counter() - began
        finally:
            engine.dispose()
        if not args.no_evidently:
            run_evidently(url, prepared.model_id, results)
    phases = {name: median_phases(r) for name, r in runs.items()}
    print(report(args, phases, fold_s, compute_s, results, largest_difference(cold_figures, folded)))
    return 0


def report(
    args: argparse.Namespace,
    phases: dict[str, dict[str, float]],
    fold_s: float,
    compute_s: float,
    evidently: Results,
    gap: float,
) -> str:
    lines = [
        f"modelmon cold-window benchmark: a fresh 24 h window of {args.rows:,} predictions "
        f"(20 features, reference {args.reference_rows:,} rows), median of {args.repeats}",
        "",
        "| path | read | profile | evaluate | total | Evidently / this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ev = evidently.evidently_s
    for name, label in (
        ("columnar", "cold, columnar read (COPY + pyarrow)"),
        ("rows", "cold, row read (before)"),
    ):
        p = phases[name]
        lines.append(
            f"| {label} | {p['read']:.2f} s | {p['profile']:.2f} s | {p['evaluate']:.2f} s | "
            f"{p['total']:.2f} s | {ev / p['total']:.1f}× |"
        )
    full = fold_s + compute_s
    lines.append(
        f"| full fold (every bucket) + compute | {fold_s:.2f} s fold | – | {compute_s:.2f} s | "
        f"{full:.2f} s | {ev / full:.1f}× |"
    )
    lines.append(
        f"| Evidently 0.7 DataDriftPreset ({evidently.evidently_rows:,} rows) | – | – | – | {ev:.2f} s | 1× |"
    )
    ratio = ev / phases["columnar"]["total"]
    lines += [
        "",
        f"speed-up of the cold columnar path over Evidently: {ratio:.1f}× (goal ≥ {GOAL:.0f}×: "
        f"{'met' if ratio >= GOAL else 'NOT met'})",
        f"largest |difference| of a figure, cold vs folded: {gap:.2e}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
