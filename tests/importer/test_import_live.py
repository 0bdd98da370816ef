"""`modelmon import` against a live `modelmon serve`: every row stored once, also after an
interruption and a re-run, from Parquet and from CSV; refusals name the file's rows."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq
import pytest

from tests.auth import AUTH_HEADERS, TEST_ADMIN_KEY
from tests.factories import outcome, prediction, registration
from tests.ingestion.columnar_bodies import table_of
from tests.live import serve

pytestmark = pytest.mark.slow

_MODEL_NUMBERS = itertools.count()
RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


@dataclass(frozen=True)
class Live:
    """A model of its own on the module's live server."""

    base: str
    model: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One live server per database for the module (a start costs ~3 s on 2 cores); each test
    registers its own model on it, so none sees another's rows."""
    folder = tmp_path_factory.mktemp("import-live")
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "modelmon.db")
        url = f"sqlite:///{folder / 'modelmon.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
        request.getfixturevalue("reset_postgres")()
    with serve(url, folder / "server", MODELMON_AUTO_MIGRATE="true") as base:
        yield base


@pytest.fixture
def live_server(server: str) -> Live:
    model = f"credit-{next(_MODEL_NUMBERS)}"
    body = registration(model)
    assert httpx.post(f"{server}/v1/models", json=body, headers=AUTH_HEADERS).status_code == 201
    return Live(server, model)


def rows(count: int, start: int = 0) -> pa.Table:
    records = [
        prediction(i, timestamp=(RECENT + timedelta(seconds=i)).isoformat())
        for i in range(start, start + count)
    ]
    return table_of(records)


def command(live: Live, path: Path, *extra: str) -> list[str]:
    base = [sys.executable, "-m", "service", "import", str(path), "--model", live.model, "--url", live.base]
    return [*base, *extra]


def run(live: Live, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELMON_KEY": TEST_ADMIN_KEY}
    return subprocess.run(command(live, path, *extra), env=env, capture_output=True, text=True, timeout=300)


def counts(live: Live) -> dict[str, Any]:
    answer = httpx.get(f"{live.base}/v1/models/{live.model}", headers=AUTH_HEADERS)
    result: dict[str, Any] = answer.json()["counts"]
    return result


def test_a_parquet_file_is_stored_once_and_a_rerun_is_all_duplicates(
    live_server: Live, tmp_path: Path
) -> None:
    path = tmp_path / "predictions.parquet"
    pq.write_table(rows(3_000), path, row_group_size=700)  # batches cross row groups
    first = run(live_server, path, "--batch-size", "400")
    assert first.returncode == 0, first.stderr
    assert "3,000 stored, 0 duplicates" in first.stdout
    assert "3,000 / 3,000 rows (100%)" in first.stderr
    again = run(live_server, path, "--batch-size", "1000", "--format", "arrow")
    assert again.returncode == 0, again.stderr
    assert "0 stored, 3,000 duplicates" in again.stdout
    assert counts(live_server)["predictions"] == 3_000


def test_an_interrupted_import_resumed_stores_every_row_once(live_server: Live, tmp_path: Path) -> None:
    path = tmp_path / "predictions.parquet"
    pq.write_table(rows(4_000), path)
    state = tmp_path / "import.state"
    env = {**os.environ, "MODELMON_KEY": TEST_ADMIN_KEY}
    extra = ("--batch-size", "50", "--resume", str(state))
    child = subprocess.Popen(command(live_server, path, *extra), env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not state.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)  # as a crash or a lost machine would stop it
    child.wait()
    interrupted = counts(live_server)["predictions"]
    assert 0 < interrupted < 4_000  # stopped part-way: 80 requests take more than a few ms
    resumed = run(live_server, path, *extra)
    assert resumed.returncode == 0, resumed.stderr
    assert "skipped (acknowledged before, --resume)" in resumed.stdout
    assert counts(live_server)["predictions"] == 4_000
    without_state = run(live_server, path, "--batch-size", "1000")
    assert "0 stored, 4,000 duplicates" in without_state.stdout


def test_a_csv_file_is_imported_and_a_bad_row_is_named_by_its_row(live_server: Live, tmp_path: Path) -> None:
    table = rows(2_500)
    path = tmp_path / "predictions.csv"
    csv.write_csv(table, path)
    done = run(live_server, path, "--batch-size", "1000")
    assert done.returncode == 0, done.stderr
    assert "2,500 stored" in done.stdout
    bad = rows(1_500, start=10_000).to_pylist()
    bad[1_234]["prediction"] = 5  # file row 1,235: batch of rows 1,001–1,500
    csv.write_csv(pa.Table.from_pylist(bad, schema=table.schema), path)
    refused = run(live_server, path, "--batch-size", "500")
    assert refused.returncode == 1
    assert "refused rows 1,001–1,500" in refused.stderr
    assert "row 1,235, column prediction" in refused.stderr
    assert counts(live_server)["predictions"] == 2_500 + 1_000  # the batches before it are stored


def test_outcomes_from_a_file(live_server: Live, tmp_path: Path) -> None:
    run(live_server, _parquet(tmp_path / "p.parquet", rows(100)), "--batch-size", "100")
    outcomes = table_of([outcome(i, timestamp=(RECENT + timedelta(days=1)).isoformat()) for i in range(150)])
    result = run(live_server, _parquet(tmp_path / "o.parquet", outcomes), "--kind", "outcomes")
    assert result.returncode == 0, result.stderr
    assert "150 stored" in result.stdout
    assert counts(live_server)["outcomes_joined"] == 100


def test_an_unknown_model_or_a_missing_file_stops_with_its_exit_code(
    live_server: Live, tmp_path: Path
) -> None:
    path = _parquet(tmp_path / "p.parquet", rows(10))
    unknown = run(live_server, path, "--model", "nobody")
    assert unknown.returncode == 3 and "HTTP 404" in unknown.stderr
    missing = run(live_server, tmp_path / "absent.parquet")
    assert missing.returncode == 2 and "cannot start" in missing.stderr


def _parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path
