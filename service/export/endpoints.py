"""``/metrics``: Prometheus' text format.

Two parts: this process's instruments (HTTP, ingestion, jobs, pool, and the process and
Python collectors of prometheus-client), or — when the operator runs several uvicorn
workers and sets ``PROMETHEUS_MULTIPROC_DIR`` — every worker's instruments merged; then
the stored-state gauges read from the database (``collector.CachedExport``), kept rendered
apart from prometheus-client's registry and appended to its text.
"""

from __future__ import annotations

import glob
import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from service.export.collector import CachedExport

router = APIRouter(tags=["export"])

# prometheus-client's own switch: it decides at import, from this variable, whether values
# live in per-process files. Read here only to merge those files the same way.
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(directory: str) -> None:
    """Drop the live-gauge files of worker processes that have exited (uvicorn restarts a
    crashed worker under a new pid; its pool gauges must not be summed forever)."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = os.path.basename(path).rsplit("_", 1)[-1].removesuffix(".db")
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]


def process_metrics() -> bytes:
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if not directory:
        return generate_latest(REGISTRY)
    forget_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Service health (this process, or every worker process) and stored model health."""
    export = request.app.state.metrics_export
    assert isinstance(export, CachedExport)
    return Response(process_metrics() + export.text(), media_type=CONTENT_TYPE_LATEST)
