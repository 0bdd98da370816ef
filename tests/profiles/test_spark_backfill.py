"""The same rows sent once through the JSON API (folded by a worker pass) and once through
``modelmon spark-backfill`` (a real local Spark, the machine's Java 17) to a second model with
the same registration: every stored window figure is equal to 1e-9, and a re-run of the job
uploads nothing new.

Both runs go through the CLI's ``main`` in one child process, which waits on its stdin between
them: the second Spark session reuses the first one's JVM (starting a JVM and pyspark again
cost ~10 s of the test's ~50 s on 2 cores), while its profiles are still rebuilt from the
Parquet files by fresh Python workers."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.clock import system_clock
from service.config import Settings
from service.kernel import grid
from service.runner import Pipeline
from service.storage.database import create_database_engine, create_session_factory
from tests.auth import AUTH_HEADERS, TEST_ADMIN_KEY
from tests.live import serve
from tests.profiles.world import flat_columns, rows, setup_model

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000


def _send(http: httpx.Client, name: str, records: list[dict[str, Any]], labels: dict[str, int]) -> None:
    for first in range(0, len(records), 1000):
        batch = {"predictions": records[first : first + 1000]}
        assert http.post(f"/v1/models/{name}/predictions", json=batch).status_code == 200
    at = datetime.now(UTC).isoformat()
    outcomes = [{"prediction_id": i, "label": y, "timestamp": at} for i, y in labels.items()]
    assert http.post(f"/v1/models/{name}/outcomes", json={"outcomes": outcomes}).status_code == 200


def _parquet(folder: Path, records: list[dict[str, Any]], labels: dict[str, int]) -> tuple[Path, Path]:
    columns = flat_columns(records, {})
    del columns["label"]
    predictions, outcomes = folder / "predictions.parquet", folder / "labels.parquet"
    pq.write_table(pa.table(columns), predictions)
    pq.write_table(pa.table({"prediction_id": list(labels), "label": list(labels.values())}), outcomes)
    return predictions, outcomes


# The CLI run twice in one interpreter, each run followed by a separator line; the second
# starts when a line arrives on stdin.
RUN_TWICE = """
import sys
from service.cli import main
for run in range(2):
    if run:
        sys.stdin.readline()
    try:
        main(sys.argv[1:])
    except SystemExit as stop:
        if stop.code:
            raise
    print(SEPARATOR, flush=True)
"""
SEPARATOR = "--- end of run ---"


@dataclass
class Backfill:
    """``modelmon spark-backfill`` running in a child process, one run at a time."""

    child: subprocess.Popen[str]
    out: Path
    err: Path
    deadline: float

    def output(self, run: int) -> str:
        """The stdout of run ``run`` (0 or 1) once it has finished."""
        while time.monotonic() < self.deadline:
            runs = self.out.read_text().split(SEPARATOR)
            if len(runs) > run + 1:
                return runs[run]
            assert self.child.poll() is None, self.err.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"spark-backfill run {run} did not finish: {self.err.read_text()[-3000:]}")

    def run_again(self) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write("again\n")
        self.child.stdin.flush()


@contextmanager
def _spark_backfill(base: str, predictions: Path, labels: Path, folder: Path) -> Iterator[Backfill]:
    env = {**os.environ, "MODELMON_KEY": TEST_ADMIN_KEY}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    script = RUN_TWICE.replace("SEPARATOR", repr(SEPARATOR))
    command = [sys.executable, "-c", script, "spark-backfill", "--model", "spark", "--url", base]
    command += ["--input", str(predictions), "--labels", str(labels), "--master", "local[2]"]
    # Two partitions for two local cores: one task per core, one result job per partition.
    command += ["--partitions", "2"]
    out, err = folder / "spark.out", folder / "spark.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(
            command, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, text=True
        )
    assert child.stdin is not None
    with child.stdin:
        try:
            yield Backfill(child, out, err, time.monotonic() + 300)
            assert child.wait(timeout=60) == 0, err.read_text()[-3000:]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


def _figures(http: httpx.Client, name: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    items = http.get(f"/v1/models/{name}/evaluations", params={"limit": 50000}).json()["items"]
    keys = ("window_start", "window_end", "family", "metric", "feature", "attribute", "group")
    return {tuple(item[k] for k in keys): item for item in items}


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _drain(jobs: Pipeline) -> None:
    jobs.catch_up()
    while jobs.evaluate_once(limit=64):
        pass


def test_spark_backfill_windows_equal_those_of_the_same_rows_sent_through_the_api(
    postgres_url: str, tmp_path: Path
) -> None:
    start = grid.floor(datetime.now(UTC) - timedelta(hours=30), 3600)
    sample = rows(ROWS, start, 12)
    labels = {i: y for n, (i, y) in enumerate(zip(sample.ids, sample.labels, strict=True)) if n % 10 < 7}
    settings = Settings(database_url=postgres_url, run_jobs=False)
    engine = create_database_engine(settings)
    jobs = Pipeline(create_session_factory(engine), settings, system_clock)
    try:
        with (
            serve(postgres_url, tmp_path / "server") as base,
            httpx.Client(base_url=base, headers=AUTH_HEADERS, timeout=60) as http,
        ):
            for name in ("api", "spark"):
                setup_model(http, name)
            jobs.catch_up()  # fits both layouts on the same reference
            _send(http, "api", sample.records, labels)
            predictions, outcomes = _parquet(tmp_path, sample.records, labels)
            with _spark_backfill(base, predictions, outcomes, tmp_path) as backfill:
                first = backfill.output(0)
                assert f"{ROWS} predictions" in first
                _drain(jobs)
                api, spark = _figures(http, "api"), _figures(http, "spark")
                backfill.run_again()
                again = backfill.output(1)
            assert "0 bucket profiles accepted" in again and f"{len(_buckets(sample))} duplicates" in again
    finally:
        engine.dispose()
    assert len(api) > 100 and api.keys() == spark.keys()
    fields = ("value", "ci_low", "ci_high", "n", "status", "label_coverage")
    unequal = [(k, f) for k in api for f in fields if not _close(api[k][f], spark[k][f])]
    assert unequal == []
    assert {item["family"] for item in api.values()} >= {"drift", "performance", "fairness"}


def _buckets(sample: Any) -> set[datetime]:
    return {grid.floor(moment, 900) for moment in sample.times}
