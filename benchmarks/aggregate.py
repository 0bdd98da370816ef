"""Benchmark: how fast one (or two) workers fold predictions, against a raw COPY of the same rows.

Loads ``--rows`` predictions (the data of ``benchmarks.evaluate``: 20 features, two protected
attributes, outcomes for half) for ``--models`` models into a throwaway Postgres database,
then measures in one run:

- raw COPY: the same prediction rows (the COPY text made for the load, kept in memory, so
  Postgres alone is timed) COPied into ``raw_copy``, a table of the predictions' shape with
  only a primary key;
- the fold: aggregation passes (``AggregationJob.run_once``: claim, read, profile, store,
  schedule the touched windows) until every committed event is folded, in ``--workers``
  processes started together; rows folded per second of wall time over all workers.

With ``--profile`` the (single) worker runs under cProfile and the top functions print.

    python -m benchmarks.aggregate --rows 1M                      # ~2 min
    python -m benchmarks.aggregate --rows 1M --workers 2 --models 2

Progress goes to stderr, the table to stdout. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from benchmarks.common import conninfo, parse_size, postgres_database, progress
from benchmarks.evaluate import (
    CONFIG,
    END,
    LABELLED_SHARE,
    OUTCOME_COLUMNS,
    PREDICTION_COLUMNS,
    LoadResult,
    Plan,
    copy_rows,
    in_child,
    make_partitions,
    outcome_text,
    prediction_text,
    reference_records,
    registration,
)
from service.clock import frozen_clock
from service.config import Settings


@dataclass(frozen=True)
class Loaded:
    ids: list[tuple[int, int]]  # (model id, version id) per model
    predictions: LoadResult
    outcomes: LoadResult
    raw_copy: LoadResult


def _set_up(url: str, models: int, reference_rows: int) -> list[tuple[int, int]]:
    """Register, configure and upload the reference of ``models`` models through the app."""
    from service.app import create_app
    from service.registry.service import load_model
    from service.storage.database import create_database_engine, create_session_factory, unit_of_work
    from tests.asgi_client import app_client

    settings = Settings(database_url=url, run_jobs=False)
    app = create_app(settings, clock=frozen_clock(END))
    records = reference_records(reference_rows)
    names = [f"bench-{i}" for i in range(models)]
    with app_client(app) as client:
        for name in names:
            assert client.post("/v1/models", json={**registration(), "name": name}).status_code == 201
            assert client.put(f"/v1/models/{name}/monitor", json=CONFIG).status_code == 200
            response = client.post(f"/v1/models/{name}/reference", json={"rows": records})
            assert response.status_code in (200, 201), response.text
    app.state.context.engine.dispose()
    engine = create_database_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            loaded = [load_model(session, name) for name in names]
            return [(m.model_id, m.versions["v1"].version_id) for m in loaded]
    finally:
        engine.dispose()


def _predictions(plan: Plan, ids: list[tuple[int, int]]) -> Iterator[tuple[int, str]]:
    """Chunk k goes to model k mod len(ids): every model's events span the whole period."""
    for index, chunk in enumerate(plan.chunks()):
        yield chunk.rows, prediction_text(chunk, *ids[index % len(ids)])


def _outcomes(plan: Plan, ids: list[tuple[int, int]]) -> Iterator[tuple[int, str]]:
    for index, chunk in enumerate(plan.chunks()):
        yield int(chunk.labelled.sum()), outcome_text(chunk, ids[index % len(ids)][0], plan.end)


def load(url: str, plan: Plan, models: int, reference_rows: int) -> Loaded:
    """Set up, COPY predictions and outcomes, VACUUM ANALYZE, then the raw COPY (in a child)."""
    ids = _set_up(url, models, reference_rows)
    make_partitions(url, plan.start, plan.end)
    info = conninfo(url)
    texts: list[tuple[int, str]] = []  # kept for the raw COPY: it then times Postgres alone

    def kept(items: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        for item in items:
            texts.append(item)
            yield item

    predictions = copy_rows(
        info,
        "predictions",
        PREDICTION_COLUMNS,
        kept(_predictions(plan, ids)),
        total=plan.rows,
        report=progress,
    )
    expected = int(plan.rows * LABELLED_SHARE)
    outcomes = copy_rows(
        info, "outcomes", OUTCOME_COLUMNS, _outcomes(plan, ids), total=expected, report=progress
    )
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) predictions")
        conn.execute("VACUUM (ANALYZE) outcomes")
        conn.execute("CREATE TABLE raw_copy (LIKE predictions)")  # no default, index or constraint
        conn.execute("ALTER TABLE raw_copy ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        conn.execute("ALTER TABLE raw_copy ADD PRIMARY KEY (id)")
    progress("raw COPY of the same rows into raw_copy (a primary key only)")
    raw = copy_rows(info, "raw_copy", PREDICTION_COLUMNS, iter(texts), total=plan.rows, report=progress)
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("DROP TABLE raw_copy")
    return Loaded(ids, predictions, outcomes, raw)


@dataclass(frozen=True)
class Folded:
    worker: int
    passes: int
    predictions: int
    began: float  # time.time() of the first pass
    ended: float
    peak_rss_mib: float = 0.0  # the worker process's peak resident memory, imports included
    profile: str = ""


def fold(url: str, worker: int, start_at: float, profile: bool) -> Folded:
    """Aggregation passes until caught up (a worker process; starts at ``start_at``)."""
    from service.kernel.threads import one_blas_thread
    from service.storage.database import create_database_engine, create_session_factory
    from service.windows.jobs import AggregationJob

    settings = Settings(database_url=url, run_jobs=False)
    engine = create_database_engine(settings)
    one_blas_thread()  # as `modelmon worker` does at start
    job = AggregationJob(create_session_factory(engine), settings, frozen_clock(END))
    time.sleep(max(0.0, start_at - time.time()))
    profiler = cProfile.Profile() if profile else None
    passes = folded = 0
    began = time.time()
    if profiler is not None:
        profiler.enable()
    caught_up = False
    while not caught_up:
        caught_up, predictions, _ = job.run_once()
        passes, folded = passes + 1, folded + predictions
    ended = time.time()
    engine.dispose()
    text = ""
    if profiler is not None:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"service|psycopg|pyarrow", 45)
        stats.sort_stats("tottime").print_stats(20)
        text = out.getvalue()
    # ru_maxrss is in KiB on Linux; the process is a fresh spawn, so this is its own peak.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Folded(worker, passes, folded, began, ended, peak, text)


def fold_in_workers(url: str, workers: int, profile: bool) -> list[Folded]:
    """``workers`` processes folding at once (started together, ~2 s after spawning)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    start_at = time.time() + 2.0 + 2.0 * workers  # imports take ~1-2 s per process on 2 cores
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(fold, url, k, start_at, profile) for k in range(workers)]
        return [f.result() for f in futures]


def report(args: argparse.Namespace, loaded: Loaded, folded: list[Folded]) -> str:
    rows = sum(f.predictions for f in folded)
    seconds = max(f.ended for f in folded) - min(f.began for f in folded)
    rate = rows / seconds if seconds > 0 else math.nan
    raw = loaded.raw_copy
    lines = [
        f"modelmon aggregation benchmark: {args.rows:,} predictions over {args.days} days, "
        f"{args.models} model(s), {args.workers} worker(s), config {CONFIG}",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| load: predictions COPY (with its indexes) | {loaded.predictions.rate:,.0f} rows/s |",
        f"| raw COPY of the same rows (primary key only) | {raw.rows:,} rows in {raw.seconds:.1f} s = "
        f"{raw.rate:,.0f} rows/s |",
        f"| fold, {args.workers} worker(s) | {rows:,} predictions in {seconds:.1f} s = {rate:,.0f} rows/s |",
        f"| fold / raw COPY | {rate / raw.rate:.2f}× (goal ≥ 1.0×) |",
    ]
    for f in folded:
        lines.append(
            f"| worker {f.worker} | {f.predictions:,} predictions in {f.passes} passes, "
            f"{f.ended - f.began:.1f} s, peak RSS {f.peak_rss_mib:,.0f} MiB |"
        )
    longest = max(f.ended - f.began for f in folded)
    # run_once answers "caught up" when another worker holds the claim: such a worker stops.
    idle = [f.worker for f in folded if f.ended - f.began < longest / 2]
    if len(folded) > 1 and idle:
        lines.append(
            f"\nworker(s) {idle} stopped early: every model with events left was claimed by "
            "another worker (a model is folded by one worker at a time)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=parse_size, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--models", type=int, default=0, help="models (default: one per worker)")
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2, 3, 4))
    parser.add_argument("--reference-rows", type=parse_size, default=20_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the (first) worker")
    args = parser.parse_args(argv)
    args.models = args.models or args.workers
    plan = Plan(args.rows, END - timedelta(days=args.days), END)
    with postgres_database() as url:
        loaded = in_child(load, url, plan, args.models, args.reference_rows)
        progress(f"folding with {args.workers} worker(s)")
        folded = fold_in_workers(url, args.workers, args.profile)
    print(report(args, loaded, folded))
    for f in folded:
        if f.profile:
            print(f"\nworker {f.worker}, cProfile (cumulative, then own time):\n{f.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
