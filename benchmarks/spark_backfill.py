"""A Spark backfill: time and rows/s of ``modelmon spark-backfill`` over a generated Parquet
dataset, and the equality check against the JSON API path on a subset.

A live ``modelmon serve`` on a throwaway Postgres database holds three models with the same
registration (20 features: 15 numeric, 5 categorical; protected attributes sex and age band),
monitor configuration and reference: ``spark`` gets all ``--rows`` predictions through the
Spark job (timed: Spark start, profiles, uploads, server merges); ``api`` gets the first
``--sample`` rows through the JSON API (folded by a worker pass) and ``sample`` the same rows
through the Spark job. Every window figure of ``api`` and ``sample`` must agree to 1e-9.

    python -m benchmarks.spark_backfill                  # 10M rows
    python -m benchmarks.spark_backfill --rows 1M        # the short run

Progress lines go to stderr, the results to stdout.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import BENCH_ADMIN_KEY, BENCH_HEADERS, parse_size, postgres_database, progress
from service.clock import system_clock
from service.config import Settings
from service.runner import Pipeline
from service.storage.database import create_database_engine, create_session_factory
from tests.live import serve

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
CONFIG = {"window": "24h", "step": "6h", "bucket": "15m", "label_wait": "1h"}
CHUNK = 1_000_000  # rows per generated Parquet file (~150 MB of columns in memory)
ROOT = Path(__file__).resolve().parent.parent


def registration(name: str) -> dict[str, Any]:
    features = [{"name": n, "type": "numeric"} for n in NUMERIC]
    features += [{"name": n, "type": "categorical"} for n in CATEGORICAL]
    return {
        "name": name, "version": "v1", "task": "binary_classification", "positive_label": 1,
        "classes": [0, 1], "features": features, "protected_attributes": ["sex", "age_band"],
    }  # fmt: skip


def columns(rng: np.random.Generator, first: int, n: int, start: datetime, span: float) -> dict[str, Any]:
    """``n`` predictions with ids from ``first``, times spread over ``span`` seconds."""
    out: dict[str, Any] = {"id": np.array([f"p{first + i}" for i in range(n)], dtype=object)}
    offsets = np.sort(rng.random(n)) * span
    out["timestamp"] = pa.array(
        (np.datetime64(start.replace(tzinfo=None), "us") + (offsets * 1e6).astype("timedelta64[us]")),
        type=pa.timestamp("us", tz="UTC"),
    )
    for k, name in enumerate(NUMERIC):
        out[name] = rng.normal(10.0 * k, 1.0 + k, n)
    for name in CATEGORICAL:
        out[name] = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)[rng.integers(0, 6, n)]
    out["sex"] = np.where(rng.random(n) < 0.5, "F", "M").astype(object)
    out["age_band"] = np.array(["18-24", "25-44", "45-64", "65+"], dtype=object)[rng.integers(0, 4, n)]
    out["score"] = 1 / (1 + np.exp(-(out["num_01"] - 10.0) / 2.0))
    out["prediction"] = (out["score"] >= 0.5).astype(np.int64)
    out["label"] = (rng.random(n) < out["score"]).astype(np.int64)
    return out


def write_dataset(folder: Path, rows: int, start: datetime, span: float) -> None:
    """Predictions in ``folder/predictions``, labels (70% of ids) in ``folder/labels``."""
    rng = np.random.default_rng(18)
    for index, first in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - first)
        part_start = start + timedelta(seconds=span * first / rows)
        data = columns(rng, first, n, part_start, span * n / rows)
        labelled = rng.random(n) < 0.7
        labels = pa.table({"prediction_id": data["id"][labelled], "label": data.pop("label")[labelled]})
        for name, table in (("predictions", pa.table(data)), ("labels", labels)):
            (folder / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / name / f"part-{index:04d}.parquet")


def sample_dataset(folder: Path, sample: int) -> list[dict[str, Any]]:
    """The first ``sample`` rows (and their labels) as ``folder/sample`` Parquet and as rows."""
    head = pq.read_table(folder / "predictions" / "part-0000.parquet").slice(0, sample)
    labels = pq.read_table(folder / "labels" / "part-0000.parquet")
    ids = pa.compute.is_in(labels["prediction_id"], value_set=head["id"])
    (folder / "sample").mkdir()
    pq.write_table(head, folder / "sample" / "predictions.parquet")
    pq.write_table(labels.filter(ids), folder / "sample" / "labels.parquet")
    rows: list[dict[str, Any]] = head.to_pylist()
    known = dict(zip(*(labels.filter(ids)[c].to_pylist() for c in ("prediction_id", "label")), strict=True))
    for row in rows:
        row["label"] = known.get(row["id"])
    return rows


def json_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "timestamp": row["timestamp"].isoformat(),
        "features": {name: row[name] for name in NUMERIC + CATEGORICAL},
        "prediction": row["prediction"],
        "score": row["score"],
        "attributes": {"sex": row["sex"], "age_band": row["age_band"]},
    }


def reference_rows(n: int = 5000) -> list[dict[str, Any]]:
    data = columns(np.random.default_rng(7), 0, n, datetime(2026, 1, 1, tzinfo=UTC), 86400.0)
    rows = pa.table({k: v for k, v in data.items() if k != "timestamp"}).to_pylist()
    return [json_record(row | {"timestamp": datetime(2026, 1, 1)}) | {"label": row["label"]} for row in rows]


def setup(http: httpx.Client, name: str, reference: list[dict[str, Any]]) -> None:
    assert http.post("/v1/models", json=registration(name)).status_code == 201
    assert http.put(f"/v1/models/{name}/monitor", json=CONFIG).status_code == 200
    body = {"rows": [{k: v for k, v in r.items() if k not in ("id", "timestamp")} for r in reference]}
    response = http.post(f"/v1/models/{name}/reference", json=body)
    assert response.status_code in (200, 201), response.text


def send_json(http: httpx.Client, name: str, rows: list[dict[str, Any]]) -> None:
    for first in range(0, len(rows), 1000):
        batch = [json_record(r) for r in rows[first : first + 1000]]
        assert http.post(f"/v1/models/{name}/predictions", json={"predictions": batch}).status_code == 200
    at = datetime.now(UTC).isoformat()
    outcomes = [
        {"prediction_id": r["id"], "label": r["label"], "timestamp": at}
        for r in rows
        if r["label"] is not None
    ]
    for first in range(0, len(outcomes), 1000):
        body = {"outcomes": outcomes[first : first + 1000]}
        assert http.post(f"/v1/models/{name}/outcomes", json=body).status_code == 200


def spark_backfill(base: str, model: str, folder: Path, predictions: str, labels: str) -> float:
    """Seconds of one ``modelmon spark-backfill`` run (a new process: Spark's start included)."""
    env = {**os.environ, "MODELMON_KEY": BENCH_ADMIN_KEY}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "service", "spark-backfill", "--model", model, "--url", base]
    command += ["--input", str(folder / predictions), "--labels", str(folder / labels)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    progress(done.stdout.strip())
    return time.monotonic() - started


def figures(http: httpx.Client, name: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    items = http.get(f"/v1/models/{name}/evaluations", params={"limit": 50000}).json()["items"]
    keys = ("window_start", "window_end", "family", "metric", "feature", "attribute", "group")
    return {tuple(item[k] for k in keys): item for item in items}


def unequal(api: dict[Any, dict[str, Any]], other: dict[Any, dict[str, Any]]) -> int:
    """Figures of ``api`` missing from ``other`` or differing in a field by more than 1e-9."""
    count = 0
    for key, figure in api.items():
        theirs = other.get(key)
        for field in ("value", "ci_low", "ci_high", "n", "status", "label_coverage"):
            a, b = figure[field], None if theirs is None else theirs[field]
            close = (
                isinstance(a, float)
                and isinstance(b, float)
                and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            )
            count += 0 if a == b or close else 1
    return count + len(other.keys() - api.keys())


def run(rows: int, sample: int, days: int) -> None:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days + 1)
    with tempfile.TemporaryDirectory(prefix="modelmon-bench-spark-") as scratch, postgres_database() as url:
        folder = Path(scratch)
        began = time.monotonic()
        write_dataset(folder, rows, start, days * 86400.0)
        subset = sample_dataset(folder, sample)
        progress(f"wrote {rows:,} predictions as Parquet in {time.monotonic() - began:.1f} s")
        settings = Settings(database_url=url, run_jobs=False)
        engine = create_database_engine(settings)
        jobs = Pipeline(create_session_factory(engine), settings, system_clock)
        try:
            with (
                serve(url, folder / "server") as base,
                httpx.Client(base_url=base, headers=BENCH_HEADERS, timeout=120) as http,
            ):
                reference = reference_rows()
                for name in ("api", "sample", "spark"):
                    setup(http, name, reference)
                jobs.catch_up()
                send_json(http, "api", subset)
                spark_backfill(base, "sample", folder, "sample/predictions.parquet", "sample/labels.parquet")
                seconds = spark_backfill(base, "spark", folder, "predictions", "labels")
                progress(f"spark-backfill of {rows:,} rows: {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
                began = time.monotonic()
                jobs.catch_up()
                while jobs.evaluate_once(limit=64):
                    pass
                evaluated = time.monotonic() - began
                api, checked = figures(http, "api"), figures(http, "sample")
                windows = len(figures(http, "spark"))
        finally:
            engine.dispose()
    print(f"rows: {rows:,} over {days} days; Spark local[*] on {os.cpu_count()} cores")
    print(f"spark-backfill: {seconds:.1f} s, {rows / seconds:,.0f} rows/s (Spark start, profiles, uploads)")
    print(f"evaluation of every window afterwards: {evaluated:.1f} s ({windows} figures of spark)")
    print(f"equality on {sample:,} rows (API vs Spark): {len(api)} figures, {unequal(api, checked)} differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=parse_size, default=parse_size("10M"))
    parser.add_argument("--sample", type=parse_size, default=parse_size("50k"))
    parser.add_argument("--days", type=int, default=10, help="days the rows span (15-minute buckets)")
    args = parser.parse_args()
    run(args.rows, min(args.sample, args.rows, CHUNK), args.days)


if __name__ == "__main__":
    main()
