"""The monitor view: stored configuration plus layouts, window progress and failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.aggregation.queries import active_layouts
from service.failures import service as failures
from service.monitors.schemas import LayoutView, MonitorStatus, MonitorView
from service.monitors.service import load_config
from service.registry.service import RegisteredModel
from service.windows.queries import newest_run_end, oldest_pending_end, pending_count


def view(session: Session, model: RegisteredModel, now: datetime) -> MonitorView:
    config, updated_at = load_config(session, model.model_id)
    layouts = active_layouts(session, [spec.version_id for spec in model.versions.values()])
    views = [
        LayoutView(
            version=spec.version,
            source=layouts[spec.version_id].source,
            layout_hash=layouts[spec.version_id].layout_hash,
            reference_hash=layouts[spec.version_id].reference_hash,
            reference_rows=layouts[spec.version_id].reference_rows,
        )
        for spec in model.versions.values()
        if spec.version_id in layouts
    ]
    newest = newest_run_end(session, model.model_id)
    oldest_due = oldest_pending_end(session, model.model_id, due_by=now)
    if oldest_due is not None:
        lag: float | None = (now - oldest_due).total_seconds()
    else:
        lag = None if newest is None else 0.0  # a model that stopped sending is not "behind"
    status = MonitorStatus(
        last_window_end=newest,
        pending_windows=pending_count(session, model.model_id, due_by=now),
        lag_seconds=lag,
        layouts=views,
        failures=failures.views_of_model(session, model.model_id),
    )
    return MonitorView(
        model=model.name,
        configured=updated_at is not None,
        config=config,
        updated_at=updated_at,
        status=status,
    )
