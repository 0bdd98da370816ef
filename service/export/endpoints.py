"""``/metrics``: Prometheus' text format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

router = APIRouter(tags=["export"])


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """The process's own metrics (CPU, memory, file descriptors, GC) for now, so a scrape
    target is healthy from the first deployment; the service and model metrics are added
    to the same registry by the observability work."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
