"""A real Prometheus on loopback for the metrics tests (``modelmon serve`` is
``tests.live.serve``), with its log in a temporary directory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.live import LOOPBACK, free_port, process, wait_ready

REPO = Path(__file__).resolve().parents[2]
RULES_FILE = REPO / "helm" / "modelmon" / "files" / "prometheus-rules.yml"
DASHBOARDS = REPO / "dashboards"
JOB = "modelmon-api"


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def prometheus_config(targets: list[str], directory: Path) -> Path:
    """Scrape every second, evaluate the shipped rules every second."""
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [
            {"job_name": JOB, "metrics_path": "/metrics", "static_configs": [{"targets": targets}]}
        ],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def prometheus(binary: str, targets: list[str], directory: Path) -> Iterator[Prometheus]:
    port = free_port()
    command = [
        binary,
        f"--config.file={prometheus_config(targets, directory)}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    log = directory / "prometheus.log"
    with process(command, os.environ, log, directory) as child:
        server = Prometheus(f"http://127.0.0.1:{port}")
        wait_ready(f"{server.base}/-/ready", child, log)
        yield server


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: Any) -> Any:
        response = LOOPBACK.get(f"{self.base}{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else [data]
        return result

    def query_range(self, expr: str, seconds: int = 30) -> list[dict[str, Any]]:
        end = time.time()
        data = self.get("/api/v1/query_range", query=expr, start=end - seconds, end=end, step=1)
        result: list[dict[str, Any]] = data["result"]
        return result

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Instant query result: sorted label pairs → value."""
        return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in self.query(expr)}
