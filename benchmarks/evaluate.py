"""Benchmark of the evaluation engine on Postgres: aggregation, window steps, backfill, memory.

Loads ``--rows`` predictions over ``--days`` days (20 features: 15 numeric + 5 categorical,
protected attributes sex and age_band, drift in num_00, num_02 and purpose over the last
10 days, outcomes for half of the predictions) into a throwaway Postgres database and
measures, in one run:

- the COPY load rate (predictions, then outcomes, so aggregation sees them joined);
- aggregation throughput: ``Pipeline.catch_up`` (one ``aggregate_once`` per pass) to the end;
- one window step (``compute``: merge the stored pieces, every figure) of a 24 h and of a
  7-day window, with a warm ``ProfileCache`` (window k+1 right after window k: the steady
  state) and a cold one, median of 10 steps; and ``evaluate_task`` (compute + storing the
  run and its figures, rolled back);
- the backfill of every 24 h window at 1 h steps (``windows.commands.backfill``: 720 windows in 30 days);
- peak RSS of this process (it is the worker) during aggregation and backfill;
- Evidently 0.7's ``DataDriftPreset`` on the raw rows of the last 24 h window against the
  reference rows (its import time apart).

The model is registered, configured (24 h windows, 1 h steps, 5 m buckets) and given a
reference through the real app in-process, as a client would. The events are generated
vectorised with numpy in seeded 100k-row chunks (the outcomes pass regenerates the chunks
instead of keeping them) and written with ``COPY … FROM STDIN`` straight into
``predictions`` and ``outcomes`` in the stored format of ``prediction_row``/``outcome_row``;
event times rise with the ids. Set-up and load run in a child process, so this process —
the worker whose RSS is measured — holds nothing but the worker's own state.

    python -m benchmarks.evaluate --rows 1M            # quick: ~4 min
    python -m benchmarks.evaluate                      # 10M rows over 30 days: ~22 min

Progress goes to stderr, the table to stdout. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import math
import multiprocessing
import os
import queue
import signal
import statistics
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import psycopg
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.common import ADMIN_URL, PeakRss, conninfo, parse_size, postgres_database, progress
from service.clock import frozen_clock
from service.config import Settings
from service.kernel import grid
from service.kernel.durations import DAY
from service.registry.service import load_model
from service.runner import Pipeline
from service.storage.columnar import PACKED_DTYPE
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.engine_tables import WindowTask
from service.storage.partitions import PARTITION_KEYS, create_partitions
from service.windows.commands import backfill
from service.windows.figures import evaluate_window
from service.windows.service import (
    ProfileCache,
    RunPublisher,
    Target,
    compute,
    evaluate_task,
    reference_profile,
    target_of,
    window_profile,
)

T = TypeVar("T")
END = datetime(2026, 11, 1, tzinfo=UTC)
STEPS = 10
STEP_GOAL_MS = 200.0
WEEK_RATIO_GOAL = 1.5
BACKFILL_GOAL_S = 60.0
MEMORY_GOAL_MIB = 300.0
EVIDENTLY_GOAL = 100.0


# ---------------------------------------------------------------------------------- data

FloatArray = npt.NDArray[np.float64]
CHUNK_ROWS = 100_000
NUMERIC = [f"num_{i:02d}" for i in range(15)]
LEVELS = {"purpose": 8, "housing": 4, "employment": 5, "region": 10, "education": 5}
AGE_BANDS = np.array(["18-25", "26-35", "36-50", "51-65", "65+"], dtype=object)
SHIFTED = {"num_00": 0.5, "num_02": -0.4, "purpose": 0.3}
DRIFT_DAYS = 10
LABELLED_SHARE = 0.5
MISSING_SHARE = 0.01
MODEL = "bench"
CONFIG: dict[str, Any] = {"window": "24h", "step": "1h", "bucket": "5m"}

PREDICTION_COLUMNS = (
    "model_id, version_id, prediction_id, event_time, received_at, features, predicted_label, "
    "predicted_value, score, scores, attributes, attributions, subject_id, content_hash, numbers"
)
OUTCOME_COLUMNS = "model_id, prediction_id, label, value, outcome_time, received_at, content_hash"


def registration() -> dict[str, Any]:
    return {
        "name": MODEL,
        "version": "v1",
        "task": "binary_classification",
        "features": [{"name": n, "type": "numeric"} for n in NUMERIC]
        + [{"name": n, "type": "categorical"} for n in LEVELS],
        "protected_attributes": ["sex", "age_band"],
        "positive_label": 1,
        "classes": [0, 1],
    }


@dataclass
class Chunk:
    """Columns of ``rows`` consecutive predictions starting at row number ``first``."""

    first: int
    rows: int
    times: npt.NDArray[np.datetime64]
    numeric: dict[str, FloatArray]
    categorical: dict[str, npt.NDArray[np.object_]]
    sex: npt.NDArray[np.object_]
    age_band: npt.NDArray[np.object_]
    scores: FloatArray
    predicted: npt.NDArray[np.object_]
    labels: npt.NDArray[np.object_]
    labelled: npt.NDArray[np.bool_]
    label_delay_s: FloatArray


def make_chunk(
    first: int, rows: int, *, seed: int, times: npt.NDArray[np.datetime64] | None, drift_from: np.datetime64
) -> Chunk:
    """Seeded rows; rows at or after ``drift_from`` are shifted as in SHIFTED (vectorised)."""
    rng = np.random.default_rng(seed)
    if times is None:
        times = np.full(rows, np.datetime64("1970-01-01T00:00:00", "us"))
    drifted = times >= drift_from
    numeric: dict[str, FloatArray] = {}
    for i, name in enumerate(NUMERIC):
        raw = rng.lognormal(0.0, 0.5, rows) if i % 2 else rng.normal(0.0, 1.0, rows)
        column: FloatArray = np.round(raw + SHIFTED.get(name, 0.0) * drifted.astype(np.float64), 5)
        column[rng.random(rows) < MISSING_SHARE] = np.nan
        numeric[name] = column
    categorical: dict[str, npt.NDArray[np.object_]] = {}
    for name, k in LEVELS.items():
        p = np.linspace(2.0, 1.0, k)
        p /= p.sum()
        levels = np.array([f"{name}_{j}" for j in range(k)], dtype=object)
        picked = rng.choice(k, rows, p=p)
        if name in SHIFTED:
            q = (1 - SHIFTED[name]) * p + SHIFTED[name] * np.eye(k)[-1]
            picked = np.where(drifted, rng.choice(k, rows, p=q), picked)
        categorical[name] = levels[picked]
    logit = numeric["num_00"] - 0.5 * np.nan_to_num(numeric["num_03"]) + rng.normal(0.0, 1.0, rows) - 1.0
    scores = np.round(1.0 / (1.0 + np.exp(-np.nan_to_num(logit))), 6)
    labels = np.where(rng.random(rows) < scores, "1", "0").astype(object)
    return Chunk(
        first=first,
        rows=rows,
        times=times,
        numeric=numeric,
        categorical=categorical,
        sex=np.where(rng.random(rows) < 0.5, "F", "M").astype(object),
        age_band=AGE_BANDS[rng.integers(0, len(AGE_BANDS), rows)],
        scores=scores,
        predicted=np.where(scores >= 0.5, "1", "0").astype(object),
        labels=labels,
        labelled=rng.random(rows) < LABELLED_SHARE,
        label_delay_s=rng.uniform(3600.0, 3 * 86400.0, rows),
    )


@dataclass(frozen=True)
class Plan:
    """``rows`` predictions with event times spread evenly (in increasing order) over [start, end)."""

    rows: int
    start: datetime
    end: datetime
    seed: int = 2

    @property
    def drift_from(self) -> np.datetime64:
        return _us(self.end - timedelta(days=DRIFT_DAYS))

    def chunk(self, index: int) -> Chunk:
        first = index * CHUNK_ROWS
        rows = min(CHUNK_ROWS, self.rows - first)
        # Row i lies in [i, i + 1) of rows / span: increasing however the fractions fall.
        span_us = (self.end - self.start) // timedelta(microseconds=1)
        fraction = np.random.default_rng(self.seed * 7_919 + index).random(rows)
        offsets = ((np.arange(first, first + rows) + fraction) * (span_us / self.rows)).astype(np.int64)
        times = _us(self.start) + offsets.astype("timedelta64[us]")
        return make_chunk(
            first, rows, seed=self.seed * 100_003 + index, times=times, drift_from=self.drift_from
        )

    def chunks(self) -> Iterator[Chunk]:
        for index in range(-(-self.rows // CHUNK_ROWS)):
            yield self.chunk(index)


def _us(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.replace(tzinfo=None), "us")


def _iso(times: npt.NDArray[np.datetime64]) -> list[str]:
    return list(np.datetime_as_string(times, unit="us", timezone="UTC").tolist())


def _feature_template() -> str:
    numeric = [f'"{name}": %s' for name in NUMERIC]
    categorical = [f'"{name}": "%s"' for name in LEVELS]
    return "{" + ", ".join(numeric + categorical) + "}"


def _packed_hex(chunk: Chunk) -> list[str]:
    """Each row's numeric features packed as ingestion packs them (``predictions.numbers``:
    little-endian doubles in the schema's order, NaN for missing), in hex."""
    matrix = np.ascontiguousarray(np.column_stack([chunk.numeric[n] for n in NUMERIC]), dtype=PACKED_DTYPE)
    width = 8 * len(NUMERIC)
    text = matrix.tobytes().hex()
    return [text[i : i + 2 * width] for i in range(0, len(text), 2 * width)]


def prediction_text(chunk: Chunk, model_id: int, version_id: int) -> str:
    """COPY text rows of ``chunk`` for PREDICTION_COLUMNS (JSON null for NaN)."""
    row = (
        f"{model_id}\t{version_id}\tp%d\t%s\t%s\t{_feature_template()}\t%s\t\\N\t%r\t\\N\t"
        '{"age_band": "%s", "sex": "%s"}\t\\N\t\\N\t\\\\x%032x\t\\\\x%s\n'
    )
    times = _iso(chunk.times)
    ids = range(chunk.first, chunk.first + chunk.rows)
    columns = (
        [ids, times, times]
        + [chunk.numeric[n].tolist() for n in NUMERIC]
        + [chunk.categorical[n].tolist() for n in LEVELS]
        + [chunk.predicted.tolist(), chunk.scores.tolist(), chunk.age_band.tolist(), chunk.sex.tolist()]
        + [ids, _packed_hex(chunk)]
    )
    text = "".join([row % values for values in zip(*columns, strict=True)])
    return text.replace(": nan", ": null")  # keys are num_NN / names: no other "nan" after ": "


def outcome_text(chunk: Chunk, model_id: int, end: datetime) -> str:
    """COPY text rows of the labelled predictions of ``chunk`` for OUTCOME_COLUMNS."""
    keep = np.flatnonzero(chunk.labelled)
    delay = chunk.label_delay_s[keep].astype(np.int64).astype("timedelta64[s]")
    outcome_times = np.minimum(chunk.times[keep] + delay, _us(end))
    row = f"{model_id}\tp%d\t%s\t\\N\t%s\t%s\t\\\\x%032x\n"
    ids = (keep + chunk.first).tolist()
    times = _iso(outcome_times)
    columns = [ids, chunk.labels[keep].tolist(), times, times, ids]
    return "".join([row % values for values in zip(*columns, strict=True)])


def reference_records(rows: int, seed: int = 1) -> list[dict[str, Any]]:
    """Reference rows as the API takes them (no drift: the first weeks' distribution)."""
    records: list[dict[str, Any]] = []
    for index, first in enumerate(range(0, rows, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, rows - first)
        chunk = make_chunk(first, n, seed=seed * 100_003 + index, times=None, drift_from=np.datetime64("NaT"))
        numeric = {name: [None if v != v else v for v in chunk.numeric[name].tolist()] for name in NUMERIC}
        categorical = {name: chunk.categorical[name].tolist() for name in LEVELS}
        for i in range(n):
            features: dict[str, Any] = {name: numeric[name][i] for name in NUMERIC}
            features.update({name: categorical[name][i] for name in LEVELS})
            records.append(
                {
                    "features": features,
                    "prediction": int(chunk.predicted[i]),
                    "score": float(chunk.scores[i]),
                    "label": int(chunk.labels[i]),
                    "attributes": {"sex": chunk.sex[i], "age_band": chunk.age_band[i]},
                }
            )
    return records


@dataclass
class LoadResult:
    rows: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def copy_rows(
    conninfo: str,
    table: str,
    columns: str,
    texts: Iterator[tuple[int, str]],
    *,
    total: int,
    report: Callable[[str], None],
    rows_per_transaction: int = 1_000_000,
) -> LoadResult:
    """COPY the (rows, text) chunks of ``texts`` into ``table``, one transaction per
    ~``rows_per_transaction`` rows; a thread makes the next chunks while Postgres parses."""
    pending: queue.Queue[tuple[int, str] | None] = queue.Queue(maxsize=3)
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in texts:
                pending.put(item)
        except BaseException as error:  # re-raised in the caller
            failure.append(error)
        finally:
            pending.put(None)

    producer = threading.Thread(target=produce, name=f"make-{table}", daemon=True)
    result, began, last_report, reported = LoadResult(), time.perf_counter(), 0.0, -1
    producer.start()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        done = False
        while not done:
            in_transaction = 0
            statement = f"COPY {table} ({columns}) FROM STDIN"
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
                while in_transaction < rows_per_transaction:
                    item = pending.get()
                    if item is None:
                        done = True
                        break
                    copy.write(item[1])
                    in_transaction += item[0]
            result.rows += in_transaction
            now = time.perf_counter()
            if (now - last_report > 15 or done) and result.rows != reported:
                last_report, reported = now, result.rows
                rate = result.rows / (now - began)
                report(f"{table}: {result.rows:,}/{total:,} rows, {rate:,.0f} rows/s")
    producer.join()
    if failure:
        raise failure[0]
    result.seconds = time.perf_counter() - began
    return result


def prediction_texts(plan: Plan, model_id: int, version_id: int) -> Iterator[tuple[int, str]]:
    for chunk in plan.chunks():
        yield chunk.rows, prediction_text(chunk, model_id, version_id)


def outcome_texts(plan: Plan, model_id: int) -> Iterator[tuple[int, str]]:
    for chunk in plan.chunks():
        yield int(chunk.labelled.sum()), outcome_text(chunk, model_id, plan.end)


# ---------------------------------------------------------------------------------- helpers


def _raise_on_sigterm() -> None:
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally that drops the database

    signal.signal(signal.SIGTERM, stop)


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc), so RSS baselines do not carry the load phase."""
    gc.collect()
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


@dataclass
class Results:
    rows: int
    days: int
    reference_rows: int
    setup_s: float = math.nan
    load_predictions: LoadResult = field(default_factory=LoadResult)
    load_outcomes: LoadResult = field(default_factory=LoadResult)
    vacuum_s: float = math.nan
    predictions_mib: float = math.nan
    pass_rows: int = 0
    import_mib: float = math.nan
    aggregation_s: float = math.nan
    aggregated_rows: int = 0
    passes: int = 0
    pass_ms: list[float] = field(default_factory=list)
    aggregation_base_mib: float = math.nan
    aggregation_peak_mib: float = math.nan
    profiles: int = 0
    profiles_mib: float = math.nan
    steps: dict[str, list[float]] = field(default_factory=dict)
    drift_alerts: list[str] = field(default_factory=list)
    backfill_s: float = math.nan
    backfill_windows: int = 0
    figures_per_window: float = math.nan
    backfill_base_mib: float = math.nan
    backfill_peak_mib: float = math.nan
    evidently_import_s: float = math.nan
    evidently_read_s: float = math.nan
    evidently_rows: int = 0
    evidently_s: float = math.nan
    evidently_mib: float = math.nan

    def step_ms(self, name: str) -> float:
        values = self.steps.get(name)
        return statistics.median(values) if values else math.nan


# ---------------------------------------------------------------------------------- phases


def set_up(settings: Settings, reference_rows: int) -> tuple[int, int]:
    """Register, configure and upload the reference through the app; (model id, version id)."""
    from service.app import create_app
    from tests.asgi_client import app_client

    app = create_app(settings, clock=frozen_clock(END))
    records = reference_records(reference_rows)
    with app_client(app) as client:
        response = client.post("/v1/models", json=registration())
        assert response.status_code == 201, response.text
        response = client.put(f"/v1/models/{MODEL}/monitor", json=CONFIG)
        assert response.status_code == 200, response.text
        response = client.post(f"/v1/models/{MODEL}/reference", json={"rows": records})
        assert response.status_code in (200, 201), response.text
    app.state.context.engine.dispose()
    engine = create_database_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            model = load_model(session, MODEL)
            return model.model_id, model.versions["v1"].version_id
    finally:
        engine.dispose()


@dataclass
class Prepared:
    """What the preparing child process did: the model's ids and the load figures."""

    model_id: int
    version_id: int
    setup_s: float
    load_predictions: LoadResult
    load_outcomes: LoadResult
    vacuum_s: float
    predictions_mib: float


def make_partitions(url: str, start: datetime, end: datetime) -> None:
    """The event tables' partitions for rows in [start, end] (outcomes arrive up to 3 days
    after their prediction): a COPY straight into ``predictions`` bypasses the on-demand
    creation of the ingestion path. SQLite has none to make."""
    engine = create_database_engine(Settings(database_url=url, run_jobs=False))
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in PARTITION_KEYS:
                create_partitions(connection, table, start - timedelta(days=1), end + timedelta(days=7), 1)
    engine.dispose()


def prepare(url: str, plan: Plan, reference_rows: int) -> Prepared:
    """Set up the model through the app, COPY the events, VACUUM ANALYZE (run in a child
    process, so the worker measured afterwards carries none of it in its RSS)."""
    began = time.perf_counter()
    model_id, version_id = set_up(Settings(database_url=url, run_jobs=False), reference_rows)
    setup_s = time.perf_counter() - began
    progress(f"registered, configured, reference uploaded in {setup_s:.1f} s")
    make_partitions(url, plan.start, plan.end)
    info = conninfo(url)
    progress(f"loading {plan.rows:,} predictions over {(plan.end - plan.start).days} days (COPY)")
    predictions = copy_rows(
        info,
        "predictions",
        PREDICTION_COLUMNS,
        prediction_texts(plan, model_id, version_id),
        total=plan.rows,
        report=progress,
    )
    progress(f"loading ~{plan.rows * LABELLED_SHARE:,.0f} outcomes (COPY)")
    outcomes = copy_rows(
        info,
        "outcomes",
        OUTCOME_COLUMNS,
        outcome_texts(plan, model_id),
        total=int(plan.rows * LABELLED_SHARE),
        report=progress,
    )
    progress("VACUUM ANALYZE predictions, outcomes (what autovacuum would have done meanwhile)")
    began = time.perf_counter()
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) predictions")
        conn.execute("VACUUM (ANALYZE) outcomes")
        size = conn.execute("SELECT pg_total_relation_size('predictions')").fetchone()
    vacuum_s = time.perf_counter() - began
    mib = float(size[0]) / 2**20 if size else math.nan
    return Prepared(model_id, version_id, setup_s, predictions, outcomes, vacuum_s, mib)


def _child_main(conn: Connection, fn: Callable[..., object], args: tuple[object, ...]) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def in_child(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in a fresh (spawned) process; ended if this one is stopped first."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, fn, args), name="bench-prepare")
    process.start()
    sender.close()
    try:
        status, value = receiver.recv()
    except EOFError:  # it died before answering (killed, or failed to start)
        status, value = "error", "no answer"
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
    if status != "ok":
        raise RuntimeError(f"child process failed (exit code {process.exitcode}):\n{value}")
    return cast(T, value)


def aggregate(jobs: Pipeline, results: Results) -> None:
    """``Pipeline.catch_up`` unrolled (the same loop) to time each pass."""
    progress(f"aggregating (passes of {jobs.settings.aggregation_pass_rows:,} predictions)")
    release_free_memory()
    last_report = time.perf_counter()
    with PeakRss() as memory:
        results.aggregation_base_mib = memory.base / 2**20
        began = time.perf_counter()
        caught_up = False
        while not caught_up:
            started = time.perf_counter()
            caught_up, folded, _ = jobs.aggregate_once()
            results.pass_ms.append(1000 * (time.perf_counter() - started))
            results.aggregated_rows += folded
            results.passes += 1
            if time.perf_counter() - last_report > 15:
                last_report = time.perf_counter()
                rate = results.aggregated_rows / (last_report - began)
                progress(f"aggregated {results.aggregated_rows:,} predictions, {rate:,.0f}/s")
        results.aggregation_s = time.perf_counter() - began
    results.aggregation_peak_mib = memory.peak / 2**20
    with unit_of_work(jobs.sessions) as session:
        row = (
            session.connection()
            .exec_driver_sql(
                "SELECT count(*), pg_total_relation_size('bucket_profiles') FROM bucket_profiles"
            )
            .one()
        )
    results.profiles, results.profiles_mib = int(row[0]), float(row[1]) / 2**20


def _windows(window: int, count: int) -> list[grid.Window]:
    """``count`` consecutive grid windows (1 h apart) ending at END."""
    ends = [END - timedelta(hours=count - 1 - k) for k in range(count)]
    return [(e - timedelta(seconds=window), e) for e in ends]


def _timed_ms(fn: Callable[..., object], *args: object) -> float:
    began = time.perf_counter()
    fn(*args)
    return 1000 * (time.perf_counter() - began)


def steps(
    sessions: sessionmaker[Session], model_id: int, version_id: int, results: Results, publisher: RunPublisher
) -> None:
    """Median over STEPS windows of one step, per window length, warm and cold cache; the
    stored runs go to ``publisher`` (rolled back with them)."""
    with unit_of_work(sessions) as session:
        day = target_of(session, model_id, version_id)
    assert day is not None, "no layout: aggregation did not fit one"
    # The same policies over 7-day windows (the hash is the day's: week runs are never stored).
    week_grid = replace(day.policy.grid, window=7 * DAY)
    week = Target(day.row, day.layout, replace(day.policy, grid=week_grid))
    now = END
    for name, target in (("24h", day), ("7d", week)):
        progress(f"window steps: {name}")
        windows = _windows(target.policy.grid.window, STEPS + 1)
        cache = ProfileCache()

        def step(window: grid.Window, cache: ProfileCache, target: Target = target) -> None:
            with unit_of_work(sessions) as session:
                compute(session, target, window, now, cache)

        step(windows[0], cache)  # primes the cache: every later step is window k+1 after k
        results.steps[f"{name} warm"] = [_timed_ms(step, w, cache) for w in windows[1:]]
        results.steps[f"{name} cold"] = [_timed_ms(step, w, ProfileCache()) for w in windows[1:]]
        # Where a warm step goes: fetching + merging the pieces, then the figures.
        cache = ProfileCache()
        step(windows[0], cache)
        fetch, figures = [], []
        for start, end in windows[1:]:
            with unit_of_work(sessions) as session:
                began = time.perf_counter()
                window = window_profile(session, target.row, target.layout, start, end, cache)
                reference = reference_profile(session, target, start, cache)
                fetch.append(1000 * (time.perf_counter() - began))
                began = time.perf_counter()
                evaluate_window(
                    layout=target.layout,
                    reference=reference,
                    window=window,
                    policy=target.policy.evaluation,
                    final=True,
                )
                figures.append(1000 * (time.perf_counter() - began))
        results.steps[f"{name} warm: pieces fetch+merge"] = fetch
        results.steps[f"{name} warm: figures"] = figures
    with unit_of_work(sessions) as session:
        _, last = compute(session, day, _windows(DAY, 1)[0], now, ProfileCache())
    results.drift_alerts = sorted(
        f.feature or "" for f in last.figures if f.family == "drift" and f.status == "alert" and f.feature
    )
    progress("window steps: evaluate_task (compute + store the run and figures, rolled back)")
    cache = ProfileCache()
    windows = _windows(DAY, STEPS + 1)
    written = []
    with sessions() as session:
        for index, (start, end) in enumerate(windows):
            task = WindowTask(
                model_id=model_id, version_id=version_id, window_start=start, window_end=end,
                wanted=1, done=0, revision=0,
            )  # fmt: skip
            began = time.perf_counter()
            evaluate_task(session, task, now, cache, publisher)
            if index:
                written.append(1000 * (time.perf_counter() - began))
        session.rollback()
    results.steps["24h warm evaluate_task"] = written


def run_backfill(jobs: Pipeline, start: datetime, results: Results) -> None:
    progress(f"backfill of every 24 h window ending in ({start:%Y-%m-%d}, {END:%Y-%m-%d}], 1 h steps")
    release_free_memory()
    with PeakRss() as memory:
        results.backfill_base_mib = memory.base / 2**20
        began = time.perf_counter()
        results.backfill_windows = backfill(
            jobs.aggregation, jobs.evaluation, MODEL, start, END, out=sys.stderr
        )
        results.backfill_s = time.perf_counter() - began
    results.backfill_peak_mib = memory.peak / 2**20
    with unit_of_work(jobs.sessions) as session:
        runs, figures = (
            session.connection()
            .exec_driver_sql("SELECT (SELECT count(*) FROM window_runs), (SELECT count(*) FROM evaluations)")
            .one()
        )
    results.figures_per_window = int(figures) / max(int(runs), 1)


def run_evidently(url: str, model_id: int, results: Results) -> None:
    """DataDriftPreset on the raw rows of the last 24 h window, as benchmarks.stats runs it."""
    progress("Evidently: import")
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    results.evidently_import_s = time.perf_counter() - began
    progress("Evidently: reading the last 24 h window's rows and the reference rows")
    began = time.perf_counter()
    with psycopg.connect(conninfo(url)) as conn:
        window = conn.execute(
            "SELECT features FROM predictions WHERE model_id = %s AND event_time >= %s AND event_time < %s",
            (model_id, END - timedelta(days=1), END),
        ).fetchall()
        reference = conn.execute(
            'SELECT r.features FROM reference_rows r JOIN "references" f ON f.id = r.reference_id '
            "WHERE f.active ORDER BY r.row_index"
        ).fetchall()
    columns = NUMERIC + list(LEVELS)
    current_frame = pd.DataFrame.from_records([row[0] for row in window], columns=columns)
    reference_frame = pd.DataFrame.from_records([row[0] for row in reference], columns=columns)
    del window, reference
    results.evidently_read_s = time.perf_counter() - began
    results.evidently_rows = len(current_frame)
    progress(f"Evidently: DataDriftPreset on {len(current_frame):,} rows against {len(reference_frame):,}")
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=list(LEVELS))

    def frame(table: Any) -> Any:
        return Dataset.from_pandas(table, data_definition=definition)

    with warnings.catch_warnings(), PeakRss() as memory:
        warnings.simplefilter("ignore")
        began = time.perf_counter()
        Report([DataDriftPreset()]).run(
            current_data=frame(current_frame), reference_data=frame(reference_frame)
        )
        results.evidently_s = time.perf_counter() - began
    results.evidently_mib = memory.mib


# ---------------------------------------------------------------------------------- report


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def table(r: Results) -> str:
    lines = ["| measure | value | goal | met? |", "|---|---:|---|---|"]

    def add(measure: str, value: str, goal: str = "–", ok: bool | None = None) -> None:
        lines.append(f"| {measure} | {value} | {goal} | {_met(ok)} |".replace("nan", "–"))

    add(
        "load: predictions (COPY)",
        f"{r.load_predictions.rows:,} rows in {r.load_predictions.seconds:.0f} s = "
        f"{r.load_predictions.rate:,.0f} rows/s",
    )
    outcomes = r.load_outcomes
    add(
        "load: outcomes (COPY)",
        f"{outcomes.rows:,} rows in {outcomes.seconds:.0f} s = {outcomes.rate:,.0f} rows/s",
    )
    add("load: VACUUM ANALYZE", f"{r.vacuum_s:.0f} s (predictions table {r.predictions_mib:,.0f} MiB)")
    pass_p50 = statistics.median(r.pass_ms) if r.pass_ms else math.nan
    add(
        "aggregation throughput (catch_up)",
        f"{r.aggregated_rows / r.aggregation_s:,.0f} predictions/s ({r.aggregated_rows:,} in "
        f"{r.aggregation_s:.0f} s, {r.passes} passes of ≤ {r.pass_rows:,}; pass p50 {pass_p50:,.0f} ms, "
        f"max {max(r.pass_ms, default=math.nan):,.0f} ms)",
    )
    add("stored profiles", f"{r.profiles:,} ({r.profiles_mib:,.1f} MiB)")
    for name in ("24h", "7d"):
        for kind in ("warm", "cold"):
            ms = r.step_ms(f"{name} {kind}")
            add(f"one step, {name} window, {kind} cache (median of {STEPS})", f"{ms:.0f} ms",
                f"< {STEP_GOAL_MS:.0f} ms", ms < STEP_GOAL_MS)  # fmt: skip
        fetch, figures = r.step_ms(f"{name} warm: pieces fetch+merge"), r.step_ms(f"{name} warm: figures")
        add(f"… {name} warm: fetch+merge pieces / figures", f"{fetch:.0f} ms / {figures:.0f} ms")
    alerts = ", ".join(sorted(set(r.drift_alerts))) or "none"
    add("sanity: drift alerts in the last 24 h window (injected: num_00, num_02, purpose)", alerts)
    ratio = r.step_ms("7d warm") / r.step_ms("24h warm")
    add("7 d step / 24 h step (warm)", f"{ratio:.2f}×", f"≤ {WEEK_RATIO_GOAL}×", ratio <= WEEK_RATIO_GOAL)
    written = r.step_ms("24h warm evaluate_task")
    add("one step + storing the run (evaluate_task, 24 h, warm)", f"{written:.0f} ms",
        f"< {STEP_GOAL_MS:.0f} ms", written < STEP_GOAL_MS)  # fmt: skip
    add(
        f"backfill: {r.backfill_windows} windows of 24 h at 1 h steps",
        f"{r.backfill_s:.1f} s = {r.backfill_windows / r.backfill_s:.1f} windows/s, "
        f"{1000 * r.backfill_s / max(r.backfill_windows, 1):.0f} ms each "
        f"({r.figures_per_window:.0f} figures each)",
        f"< {BACKFILL_GOAL_S:.0f} s (720 windows)",
        r.backfill_s < BACKFILL_GOAL_S,
    )
    peak = max(r.aggregation_peak_mib, r.backfill_peak_mib)
    add(
        "worker peak RSS (this process)",
        f"{peak:,.0f} MiB (aggregation {r.aggregation_peak_mib:,.0f}, from {r.aggregation_base_mib:,.0f}; "
        f"backfill {r.backfill_peak_mib:,.0f}, from {r.backfill_base_mib:,.0f}; "
        f"{r.import_mib:,.0f} after imports)",
        f"< {MEMORY_GOAL_MIB:.0f} MiB",
        peak < MEMORY_GOAL_MIB,
    )
    if math.isfinite(r.evidently_s):
        speedup = r.evidently_s / (r.step_ms("24h warm") / 1000)
        add(
            f"Evidently DataDriftPreset, same 24 h window "
            f"({r.evidently_rows:,} rows vs {r.reference_rows:,})",
            f"{r.evidently_s:.1f} s (+{r.evidently_mib:,.0f} MiB; import {r.evidently_import_s:.1f} s and "
            f"reading the rows {r.evidently_read_s:.1f} s not counted)",
        )
        cold = r.evidently_s / (r.step_ms("24h cold") / 1000)
        add("speed-up over Evidently (24 h step, warm; cold)", f"{speedup:,.0f}×; {cold:,.0f}×",
            f"≥ {EVIDENTLY_GOAL:.0f}×", speedup >= EVIDENTLY_GOAL)  # fmt: skip
    return "\n".join(lines)


def header(args: argparse.Namespace, settings: Settings) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with psycopg.connect(conninfo(ADMIN_URL)) as conn:
        found = conn.execute("SHOW server_version").fetchone()
    version = found[0] if found else "?"
    return (
        f"modelmon evaluation benchmark: {args.rows:,} predictions over {args.days} days, "
        f"reference {args.reference_rows:,} rows, config {CONFIG}, "
        f"aggregation_pass_rows {settings.aggregation_pass_rows:,} (default)\n"
        f"machine: {os.cpu_count()} CPUs shared by this process and PostgreSQL {version} on the same host; "
        f"other work was running (load average at start {load}), so timings vary between runs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=parse_size, default=10_000_000, help="predictions (10M, 1M, 250k)")
    parser.add_argument("--days", type=int, default=30, help="days the predictions span (≥ 8)")
    parser.add_argument("--reference-rows", type=parse_size, default=20_000)
    parser.add_argument("--no-evidently", action="store_true", help="skip the Evidently comparison")
    args = parser.parse_args(argv)
    if args.days < 8:
        parser.error("--days must be at least 8 (7-day windows)")
    _raise_on_sigterm()
    start = END - timedelta(days=args.days)
    plan = Plan(args.rows, start, END)
    results = Results(args.rows, args.days, args.reference_rows)
    results.import_mib = rss_mib()
    with postgres_database() as url:
        settings = Settings(database_url=url, run_jobs=False)
        results.pass_rows = settings.aggregation_pass_rows
        intro = header(args, settings)
        progress(intro.replace("\n", "; "))
        prepared = in_child(prepare, url, plan, args.reference_rows)
        model_id, version_id = prepared.model_id, prepared.version_id
        results.setup_s, results.vacuum_s = prepared.setup_s, prepared.vacuum_s
        results.load_predictions, results.load_outcomes = prepared.load_predictions, prepared.load_outcomes
        results.predictions_mib = prepared.predictions_mib
        engine = create_database_engine(settings)
        try:
            sessions = create_session_factory(engine)
            jobs = Pipeline(sessions, settings, frozen_clock(END))
            aggregate(jobs, results)
            steps(sessions, model_id, version_id, results, jobs.alerting)
            run_backfill(jobs, start, results)
        finally:
            engine.dispose()
        if not args.no_evidently:
            run_evidently(url, model_id, results)
    print(intro + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
