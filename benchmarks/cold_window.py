"""Benchmark: a fresh (not yet folded) 24 h window of ``--rows`` predictions evaluated now,
against Evidently 0.7's DataDriftPreset on the same rows, in one run.

The data is ``benchmarks.evaluate``'s (20 features, protected attributes sex and age_band,
outcomes for half), all ``--rows`` predictions inside the last 24 h, COPied into a throwaway
Postgres database; the model's layout is fitted from its reference by the model's
aggregation pass with nothing to fold. Then, median of ``--repeats``:

- cold, columnar: read the window's raw rows (``repository.version_event_columns``: COPY +
  pyarrow), ``build_profile`` over all of them at once, evaluate every figure against the
  reference (``evaluate_window``);
- cold, columnar in ``--slices`` parallel slices: ``aggregation.cold.events_profile`` (one
  COPY per time slice on its own connection, all in the snapshot of the reading
  transaction, each slice profiled in its thread as soon as it is read, then merged) + the
  figures;
- evaluate-now through the API: ``POST /v1/models/bench/evaluate`` of the window, in-process
  (ASGI), which takes the cold path above (the model's cursor is behind the window), with
  its request and JSON response: the first request of a new app (new connections), then the
  same request again on that app (a running server's pool);
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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from benchmarks.common import parse_size, postgres_database, progress
from benchmarks.evaluate import END, Plan, Results, in_child, prepare, run_evidently
from service.aggregation import frames, repository
from service.aggregation.cold import EVERY_ID, events_profile
from service.aggregation.service import Limits, PassResult, fold_events
from service.clock import frozen_clock
from service.config import Settings
from service.kernel.threads import one_blas_thread
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


def _sliced(slices: int) -> Reader:
    """``aggregation.cold.events_profile``: each slice is profiled in its own thread as soon as
    it is read, so its seconds are all under "read" (read and profile at once)."""

    def read(session: Any, model_id: int, spec: Any, layout: Any) -> tuple[Profile, dict[str, float]]:
        began = time.perf_counter()
        profile = events_profile(session, model_id, spec, layout, *WINDOW, slices=slices)
        return profile, {"read": time.perf_counter() - began, "profile": 0.0}

    return read


def through_api(url: str, slices: int) -> tuple[dict[tuple[Any, ...], float | None], dict[str, float]]:
    """``POST …/evaluate`` of the window in-process, twice on one app: the first request of a
    new app (its pool opens the request's and the slices' connections, the first statements
    are planned) under "total", the same request again (nothing is folded in between, so the
    window is still cold) under "warm", as a running server answers it; the second's figures.
    """
    from service.app import create_app
    from tests.asgi_client import app_client

    settings = Settings(database_url=url, run_jobs=False, cold_read_slices=slices)
    app = create_app(settings, clock=frozen_clock(END))
    body = {"window_start": WINDOW[0].isoformat(), "window_end": WINDOW[1].isoformat()}
    seconds: dict[str, float] = {}
    try:
        with app_client(app) as client:
            for name in ("total", "warm"):
                began = time.perf_counter()
                response = client.post("/v1/models/bench/evaluate", json=body)
                seconds[name] = time.perf_counter() - began
                assert response.status_code == 200, response.text
    finally:
        app.state.context.engine.dispose()
    keys = ("family", "metric", "feature", "attribute", "group")
    values = {tuple(i[k] for k in keys): i["value"] for i in response.json()["items"]}
    return values, seconds


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


def values_of(figures: WindowFigures) -> dict[tuple[Any, ...], float | None]:
    return {_key(f): f.value for f in figures.figures}


def largest_difference(
    left: dict[tuple[Any, ...], float | None], right: dict[tuple[Any, ...], float | None]
) -> float:
    """Largest |difference| between the values of the same figures (finite ones)."""
    assert left.keys() == right.keys(), "different figures"
    gaps = []
    for key, value in left.items():
        other = right[key]
        if value is not None and other is not None and np.isfinite(value - other):
            gaps.append(abs(value - other))
    return max(gaps, default=0.0)


def median_phases(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


PATHS = (
    ("columnar", "cold, columnar read, one COPY (before)"),
    ("sliced", "cold, {slices} parallel slices (one snapshot), each profiled as read (both under read)"),
    ("rows", "cold, row read"),
)


@dataclass
class Measured:
    """Seconds per phase (median over repeats) of each path, and the figures to compare."""

    phases: dict[str, dict[str, float]] = field(default_factory=dict)
    values: dict[str, dict[tuple[Any, ...], float | None]] = field(default_factory=dict)
    fold_s: float = 0.0
    compute_s: float = 0.0


def measure(url: str, model_id: int, version_id: int, args: argparse.Namespace) -> Measured:
    """Every cold path ``args.repeats`` times (interleaved), then the full fold + compute."""
    settings = Settings(database_url=url, run_jobs=False)
    engine = create_database_engine(settings)
    out = Measured()
    try:
        sessions = create_session_factory(engine)
        fit_layout_only(sessions, model_id)
        readers: dict[str, Reader] = {"columnar": _columnar, "sliced": _sliced(args.slices), "rows": _rows}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in [*readers, "api"]}
        for k in range(args.repeats):
            for name, reader in readers.items():
                progress(f"cold window, {name} read, run {k + 1}")
                figures, seconds = cold(sessions, model_id, reader)
                runs[name].append(seconds)
                out.values[name] = values_of(figures)
            progress(f"evaluate-now through the API, run {k + 1}")
            out.values["api"], seconds = through_api(url, args.slices)
            runs["api"].append(seconds)
        out.phases = {name: median_phases(r) for name, r in runs.items()}
        progress("full fold (catch_up) + compute")
        began = time.perf_counter()
        Pipeline(sessions, settings, frozen_clock(END)).catch_up()
        out.fold_s = time.perf_counter() - began
        with unit_of_work(sessions) as session:
            target = target_of(session, model_id, version_id)
            assert target is not None
            began = time.perf_counter()
            _, folded = compute(session, target, WINDOW, END, ProfileCache())
            out.compute_s = time.perf_counter() - began
        out.values["folded"] = values_of(folded)
    finally:
        engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=parse_size, default=1_000_000)
    parser.add_argument("--reference-rows", type=parse_size, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slices", type=int, default=Settings().cold_read_slices)
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args(argv)
    plan = Plan(args.rows, WINDOW[0], WINDOW[1])
    results = Results(args.rows, 1, args.reference_rows)
    with postgres_database() as url:
        prepared = in_child(prepare, url, plan, args.reference_rows)
        # One BLAS thread, as `modelmon serve` and `modelmon worker` set at start; Evidently
        # runs after with the library's default threads.
        with one_blas_thread():
            measured = measure(url, prepared.model_id, prepared.version_id, args)
        if not args.no_evidently:
            run_evidently(url, prepared.model_id, results)
    print(report(args, measured, results))
    return 0


def report(args: argparse.Namespace, measured: Measured, evidently: Results) -> str:
    lines = [
        f"modelmon cold-window benchmark: a fresh 24 h window of {args.rows:,} predictions "
        f"(20 features, reference {args.reference_rows:,} rows), median of {args.repeats}",
        "",
        "| path | read | profile | evaluate | total | Evidently / this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ev, phases = evidently.evidently_s, measured.phases
    for name, label in PATHS:
        p = phases[name]
        lines.append(
            f"| {label.format(slices=args.slices)} | {p['read']:.2f} s | {p['profile']:.2f} s | "
            f"{p['evaluate']:.2f} s | {p['total']:.2f} s | {_ratio(ev, p['total'])} |"
        )
    for key, when in (("total", "first request of a new app"), ("warm", "the same request again")):
        api = phases["api"][key]
        lines.append(
            f"| evaluate-now through the API ({args.slices} slices; request + JSON), {when} | – | – | – | "
            f"{api:.2f} s | {_ratio(ev, api)} |"
        )
    full = measured.fold_s + measured.compute_s
    lines.append(
        f"| full fold (every bucket) + compute | {measured.fold_s:.2f} s fold | – | "
        f"{measured.compute_s:.2f} s | {full:.2f} s | {_ratio(ev, full)} |"
    )
    lines.append(
        f"| Evidently 0.7 DataDriftPreset ({evidently.evidently_rows:,} rows) | – | – | – | {ev:.2f} s | 1× |"
    )
    lines.append("")
    goals = (
        ("sliced", "total", "sliced read"),
        ("api", "total", "API, first request of a new app"),
        ("api", "warm", "API, the same request again"),
    )
    for name, key, label in goals:
        ratio = ev / (phases[name][key])
        met = "met" if ratio >= GOAL else "NOT met"
        lines.append(f"speed-up of the {label} over Evidently: {ratio:.1f}× (goal ≥ {GOAL:.0f}×: {met})")
    folded = measured.values["folded"]
    for name in ("columnar", "sliced", "api"):
        gap = largest_difference(measured.values[name], folded)
        lines.append(f"largest |difference| of a figure, {name} vs folded: {gap:.2e}")
    return "\n".join(lines)


def _ratio(evidently_s: float, seconds: float) -> str:
    return f"{evidently_s / seconds:.1f}×" if np.isfinite(evidently_s) else "–"


if __name__ == "__main__":
    sys.exit(main())
