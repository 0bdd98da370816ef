"""Wire the metrics into an application: HTTP middleware, pool gauges, stored-state export."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from service.config import Settings
from service.context import AppContext
from service.export.collector import CachedExport
from service.export.families import Budget
from service.export.http import HttpMetricsMiddleware
from service.kernel.instruments import POOL_CHECKED_OUT, POOL_MAX, POOL_SIZE


def budget_of(settings: Settings) -> Budget:
    return Budget(top_k_features=settings.metrics_top_k_features, max_groups=settings.metrics_max_groups)


def watch_pool(engine: Engine, settings: Settings) -> None:
    """Keep the pool gauges current: sizes now, lent-out connections on every checkout/checkin."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        POOL_SIZE.set(pool.size())
        POOL_MAX.set(pool.size() + settings.database_max_overflow)

    def checkout(*_: Any) -> None:
        POOL_CHECKED_OUT.inc()

    def checkin(*_: Any) -> None:
        POOL_CHECKED_OUT.dec()

    # Balanced: SQLAlchemy calls checkin for every checkout, invalidated connections included.
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


def install_metrics(app: FastAPI, context: AppContext) -> None:
    """HTTP metrics on every request, pool gauges, and the stored-state export at ``/metrics``."""
    app.add_middleware(HttpMetricsMiddleware)
    watch_pool(context.engine, context.settings)
    cache_seconds = context.settings.metrics_cache_seconds
    app.state.metrics_export = CachedExport(
        context.sessions, context.clock, budget=budget_of(context.settings), cache_seconds=cache_seconds
    )
