"""Several uvicorn workers in one pod (``MODELMON_WORKERS``): with ``PROMETHEUS_MULTIPROC_DIR``
set by the operator, every scrape answers the sum over the workers, whichever worker
answers it; without it each worker would answer only its own counts."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.auth import AUTH_HEADERS
from tests.live import serve
from tests.tools import require_binary

pytestmark = pytest.mark.slow

BATCHES = 12
PER_BATCH = 5


def _accepted(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "modelmon_ingested_records_total" and labels.get("result") == "accepted":
                return float(sample.value)
    return 0.0


def test_two_workers_answer_the_sum_of_their_counters(tmp_path: Path, sqlite_template: Path) -> None:
    promtool = require_binary("promtool")
    shutil.copy(sqlite_template, tmp_path / "modelmon.db")
    values = tmp_path / "prometheus-multiproc"
    values.mkdir()
    url = f"sqlite:///{tmp_path / 'modelmon.db'}"
    with serve(url, tmp_path / "serve", MODELMON_WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(values)) as base:
        assert (
            httpx.post(f"{base}/v1/models", json=factories.registration(), headers=AUTH_HEADERS).status_code
            == 201
        )
        at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        for batch in range(BATCHES):  # a connection each, so both workers take some
            records = [factories.prediction(batch * PER_BATCH + i, timestamp=at) for i in range(PER_BATCH)]
            response = httpx.post(
                f"{base}/v1/models/credit/predictions", json={"predictions": records}, headers=AUTH_HEADERS
            )
            assert response.status_code == 200, response.text
        scrapes = [httpx.get(f"{base}/metrics", timeout=10).text for _ in range(8)]
    assert {_accepted(text) for text in scrapes} == {float(BATCHES * PER_BATCH)}
    processes = {path.stem.rsplit("_", 1)[1] for path in values.glob("counter_*.db")}
    assert len(processes) == 2
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrapes[0],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
