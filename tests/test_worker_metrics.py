"""`modelmon worker` serves its own metrics: a real worker process on SQLite and Postgres is
scraped after a round, the scrape passes ``promtool check metrics``, port 0 opens no port, and a
port already taken stops the start with the variable to change."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.export.live import wait_for
from tests.live import LOOPBACK, free_port, process
from tests.tools import require_binary

pytestmark = pytest.mark.slow

WORKER = [sys.executable, "-m", "service", "worker"]
WANTED = (
    ("modelmon_job_last_success_timestamp_seconds", "aggregation"),
    ("modelmon_job_duration_seconds_count", "alerting"),
)


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite file of this test's own."""
    path = tmp_path / "modelmon.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _environment(database_url: str, metrics_port: int) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("MODELMON_")}
    return {
        **inherited,
        "MODELMON_DATABASE_URL": database_url,
        "MODELMON_HOST": "127.0.0.1",
        "MODELMON_WORKER_METRICS_PORT": str(metrics_port),
        "MODELMON_WORKER_INTERVAL_SECONDS": "0.2",
        "MODELMON_LOG_LEVEL": "info",
    }


def _samples(text: str) -> dict[tuple[str, str], float]:
    """(sample name, its `job` label or "") → value."""
    return {
        (sample.name, sample.labels.get("job", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on, from /proc: its socket inodes in LISTEN state (0A)."""
    inodes = set()
    for link in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(link)
        except FileNotFoundError:  # the descriptor closed between listing and reading it
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _run(command: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=environment, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _round_scraped(url: str, child: subprocess.Popen[bytes], log: Path) -> str:
    """The first scrape holding the samples of a finished round."""
    scraped: list[str] = []

    def ready() -> bool:
        assert child.poll() is None, f"the worker exited: {log.read_text()}"
        scraped.append(LOOPBACK.get(url, timeout=2).text)
        samples = _samples(scraped[-1])
        return all(samples.get(wanted, 0) > 0 for wanted in WANTED)

    wait_for(ready, f"a round's job metrics at {url}", timeout=15)
    return scraped[-1]


def test_a_running_worker_serves_its_job_metrics(database_url: str, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    port, log = free_port(), tmp_path / "worker.log"
    url = f"http://127.0.0.1:{port}/metrics"
    with process(WORKER, _environment(database_url, port), log, tmp_path) as child:
        text = _round_scraped(url, child, log)
        assert _listening_ports(child.pid) == {port}
    assert child.returncode == 0, log.read_text()
    samples = _samples(text)
    assert samples[("process_cpu_seconds_total", "")] > 0  # prometheus-client's process collector
    if database_url.startswith("postgresql"):  # the pool gauges: 10 + 10 by default
        assert samples[("modelmon_db_pool_max_connections", "")] == 20
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30, check=False
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")
    output = log.read_text()
    assert f"worker metrics on http://127.0.0.1:{port}/metrics" in output
    assert "worker stopped" in output and "Traceback" not in output


def test_port_zero_serves_no_metrics(sqlite_database: str, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with process(WORKER, _environment(sqlite_database, 0), log, tmp_path) as child:
        wait_for(lambda: "worker started" in log.read_text(), "the worker to start", timeout=15)
        assert child.poll() is None, log.read_text()
        assert _listening_ports(child.pid) == set()
    assert child.returncode == 0, log.read_text()
    assert "worker metrics are off (MODELMON_WORKER_METRICS_PORT=0)" in log.read_text()


def test_a_taken_port_stops_the_start_naming_the_variable(sqlite_database: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = _environment(sqlite_database, port)
        started = _run(WORKER, environment, tmp_path)
        # One round and exit: `--once` serves no metrics, so the taken port does not matter.
        once = _run([*WORKER, "--once"], environment, tmp_path)
    assert started.returncode == 1
    assert f"cannot serve worker metrics on 127.0.0.1:{port}" in started.stderr
    assert "set MODELMON_WORKER_METRICS_PORT to a free port" in started.stderr
    assert "Traceback" not in started.stderr
    assert once.returncode == 0, once.stderr
