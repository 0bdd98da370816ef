"""Aggregation with 1 and 2 workers: several models' events folded by worker processes that
each claim one model's cursor at a time (``FOR UPDATE SKIP LOCKED``).

    python -m benchmarks.aggregation_workers --models 4 --rows 100000 --days 3

Creates a throwaway Postgres database, registers ``--models`` models of the evaluation
benchmark's schema (20 features, 24 h windows of 5-minute buckets), COPYs ``--rows``
predictions per model over ``--days`` days (half of them labelled; 100,000 over 3 days is
~116 a 5-minute bucket, the density of the evaluation benchmark's 1M rows over 30 days),
then folds every event with 1 worker process and with 2, alternately (``--repeats`` times
each), from empty profiles and cursors at 0 each time. Prints the rate of each run next to
the COPY rate of the same rows into ``predictions`` (its indexes included), and checks that
every run stored the same row and label counts per model.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.synchronize import Event

import psycopg

from benchmarks import evaluate as bench
from benchmarks.common import conninfo, postgres_database, progress
from service.app import create_app
from service.clock import frozen_clock
from service.config import Settings
from service.runner import Pipeline
from service.storage.database import create_database_engine, create_session_factory
from tests.asgi_client import app_client

PASS_ROWS = 100_000  # the default MODELMON_AGGREGATION_PASS_ROWS


@dataclass(frozen=True)
class Run:
    workers: int
    seconds: float
    folded: int

    @property
    def rate(self) -> float:
        return self.folded / self.seconds


def _register(url: str, name: str) -> tuple[int, int]:
    """Register, configure and upload a 5,000-row reference through the app; (model, version id)."""
    app = create_app(Settings(database_url=url, run_jobs=False), clock=frozen_clock(bench.END))
    with app_client(app) as client:
        registered = client.post("/v1/models", json={**bench.registration(), "name": name})
        assert registered.status_code == 201, registered.text
        assert client.put(f"/v1/models/{name}/monitor", json=bench.CONFIG).status_code == 200
        reference = client.post(f"/v1/models/{name}/reference", json={"rows": bench.reference_records(5_000)})
        assert reference.status_code in (200, 201), reference.text
    app.state.context.engine.dispose()
    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute(
            "SELECT m.id, v.id FROM models m JOIN model_versions v ON v.model_id = m.id WHERE m.name = %s",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _load(url: str, models: int, rows: int, days: int) -> float:
    """Register ``models`` models and COPY their events; the predictions' COPY rate (rows/s)."""
    plan_end, copied, seconds = bench.END, 0, 0.0
    for index in range(models):
        model_id, version_id = _register(url, f"bench{index}")
        plan = bench.Plan(rows=rows, start=plan_end - timedelta(days=days), end=plan_end, seed=index + 2)
        texts = bench.prediction_texts(plan, model_id, version_id)
        loaded = bench.copy_rows(
            conninfo(url), "predictions", bench.PREDICTION_COLUMNS, texts, total=rows, report=progress
        )
        copied, seconds = copied + loaded.rows, seconds + loaded.seconds
        outcomes = bench.outcome_texts(plan, model_id)
        bench.copy_rows(
            conninfo(url), "outcomes", bench.OUTCOME_COLUMNS, outcomes, total=rows // 2, report=progress
        )
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) predictions")
        conn.execute("VACUUM (ANALYZE) outcomes")
    return copied / seconds


def _reset(url: str) -> None:
    """Empty profiles and window tasks, every cursor back to 0: the next run folds it all."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("DELETE FROM bucket_profiles")
        conn.execute("DELETE FROM window_tasks")
        conn.execute("UPDATE aggregation_cursors SET prediction_watermark = 0, outcome_watermark = 0")
        conn.execute("VACUUM (ANALYZE) bucket_profiles")


def _worker(url: str, start: Event, results: multiprocessing.Queue[int]) -> None:
    settings = Settings(database_url=url, run_jobs=False, aggregation_pass_rows=PASS_ROWS)
    engine = create_database_engine(settings)
    jobs = Pipeline(create_session_factory(engine), settings, frozen_clock(bench.END))
    start.wait()
    results.put(jobs.catch_up())
    engine.dispose()


def _fold(url: str, workers: int) -> Run:
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_worker, args=(url, start, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(3.0)  # imports and connections done before the clock starts
    began = time.perf_counter()
    start.set()
    folded = sum(results.get(timeout=600) for _ in processes)
    seconds = time.perf_counter() - began
    for process in processes:
        process.join()
    return Run(workers, seconds, folded)


def _counts(url: str) -> list[tuple[str, int, int]]:
    """(model, rows, labelled) summed over the day profiles of each model."""
    with psycopg.connect(conninfo(url)) as conn:
        return conn.execute(
            "SELECT m.name, sum(b.rows), sum(b.labelled) FROM bucket_profiles b JOIN layouts l ON"
            " l.id = b.layout_id JOIN model_versions v ON v.id = l.version_id JOIN models m ON"
            " m.id = v.model_id WHERE b.level = 2 AND l.active GROUP BY m.name ORDER BY m.name"
        ).fetchall()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--rows", type=int, default=100_000, help="predictions per model")
    parser.add_argument("--days", type=int, default=3, help="span of each model's event times")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    with postgres_database() as url:
        copy_rate = _load(url, args.models, args.rows, args.days)
        runs, counts = [], set()
        for _ in range(args.repeats):
            for workers in (1, 2):
                _reset(url)
                progress(f"folding {args.models * args.rows:,} predictions with {workers} worker(s)")
                runs.append(_fold(url, workers))
                counts.add(tuple(_counts(url)))
    print(f"COPY into predictions (its indexes included): {copy_rate:,.0f} rows/s")
    for run in runs:
        ratio = run.rate / copy_rate
        print(f"{run.workers} worker(s): {run.folded:,} predictions in {run.seconds:.1f} s,"
              f" {run.rate:,.0f} rows/s ({ratio:.2f}x COPY)")  # fmt: skip
    for workers in (1, 2):
        rates = [r.rate for r in runs if r.workers == workers]
        print(f"{workers} worker(s), median of {len(rates)}: {statistics.median(rates):,.0f} rows/s")
    print(f"every run stored the same row and label counts: {len(counts) == 1}")
    return 0 if len(counts) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
