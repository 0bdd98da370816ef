"""Building a model card from what is stored: one builder, rendered as JSON or Markdown (card.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service.alerting import queries as alerting
from service.alerting.states import AlertState
from service.errors import NotFound
from service.monitors.schemas import MonitorStatus, MonitorView, ReferenceKind
from service.registry import queries as registry
from service.registry.schemas import FeatureSpec, Task
from service.registry.service import VersionSpec, load_model, pick_version
from service.reports.schemas import (
    CARD_FAMILIES,
    RESOLVED_ALERTS,
    RETRAIN_REQUESTS,
    CardAlerts,
    CardFigure,
    CardMonitor,
    CardReference,
    CardRetrainRequest,
    CardStatus,
    CardVersion,
    CardWindow,
    ModelCard,
    RetrainReason,
    UploadedReference,
    VersionLine,
)
from service.status import service as status
from service.windows import queries as window_queries


def _version_row(
    session: Session, name: str, version: str
) -> tuple[list[registry.VersionRecord], registry.VersionRecord]:
    rows = registry.version_records(session, name)
    if not rows:
        raise NotFound(f"model {name!r} is not registered")
    return rows, next(row for row in rows if row.version == version)


def _card_version(row: registry.VersionRecord) -> CardVersion:
    spec = row.spec
    return CardVersion(
        version=row.version,
        task=Task(row.task),
        features=[FeatureSpec.model_validate(f) for f in spec["features"]],
        protected_attributes=spec["protected_attributes"],
        positive_label=spec["positive_label"],
        classes=spec["classes"],
        metadata=row.provenance,
        spec_hash=row.spec_hash,
        created_at=row.created_at,
    )


def _uploaded(row: registry.StoredReference) -> UploadedReference:
    return UploadedReference(
        id=row.id,
        rows=row.row_count,
        content_hash=row.content_hash,
        created_at=row.created_at,
        replaced_at=row.replaced_at,
    )


def _reference(session: Session, monitor: MonitorView, version: VersionSpec) -> CardReference:
    config = monitor.config
    uploads = registry.references_of(session, version.version_id)
    active = next((r for r in uploads if r.active), None)
    layout = next((lay for lay in monitor.status.layouts if lay.version == version.version), None)
    ranged = config.reference.kind is ReferenceKind.RANGE
    return CardReference(
        kind=config.reference.kind.value,
        source=None if layout is None else layout.source,
        active=None if active is None else _uploaded(active),
        start=config.reference.start if ranged else None,
        end=config.reference.end if ranged else None,
        profile_rows=None if layout is None else layout.reference_rows,
        layout_hash=None if layout is None else layout.layout_hash,
        reference_hash=None if layout is None else layout.reference_hash,
        replaced=[_uploaded(r) for r in uploads if not r.active],
    )


def _figure(row: Any) -> CardFigure:
    return CardFigure(
        family=row.family,
        metric=row.metric,
        attribute=row.attribute or None,
        feature=row.feature or None,
        group=row.group or None,
        value=row.value,
        ci_low=row.ci_low,
        ci_high=row.ci_high,
        n=row.n,
        threshold=row.threshold,
        status=row.status,
    )


def _window(run: window_queries.RunSummary, figures: list[Any]) -> CardWindow:
    return CardWindow(
        window_start=run.window_start,
        window_end=run.window_end,
        revision=run.revision,
        rows=run.rows,
        labelled=run.labelled,
        label_coverage=run.label_coverage,
        computed_at=run.computed_at,
        reference_hash=run.reference_hash,
        figures=[_figure(f) for f in figures],
    )


def _windows(session: Session, version_id: int, count: int) -> list[CardWindow]:
    runs = window_queries.recent_runs(session, version_id, count)
    figures = window_queries.figures_of_runs(session, [run.id for run in runs], CARD_FAMILIES)
    return [_window(run, figures[run.id]) for run in runs]


def _reason(reason: dict[str, Any]) -> RetrainReason:
    return RetrainReason.model_validate({field: reason.get(field) for field in RetrainReason.model_fields})


def _request(row: alerting.RetrainRecord) -> CardRetrainRequest:
    reasons = row.evidence.get("reasons") or []
    return CardRetrainRequest(
        id=row.id,
        idempotency_key=row.idempotency_key,
        window_start=row.window_start,
        window_end=row.window_end,
        created_at=row.created_at,
        reasons=[_reason(r) for r in reasons if isinstance(r, dict)],
    )


def _status(progress: MonitorStatus, alerts: CardAlerts, has_windows: bool) -> CardStatus:
    firing = sum(1 for a in alerts.open if a.state == AlertState.FIRING)
    pending = len(alerts.open) - firing
    if firing:
        state = "alerting"
    elif pending:
        state = "pending"
    else:
        state = "ok" if has_windows else "not_evaluated"
    return CardStatus(
        state=state,
        firing_alerts=firing,
        pending_alerts=pending,
        last_window_end=progress.last_window_end,
        pending_windows=progress.pending_windows,
        lag_seconds=progress.lag_seconds,
    )


def _alerts(session: Session, model_id: int, version_id: int) -> CardAlerts:
    open_, resolved = alerting.version_alerts(session, model_id, version_id, RESOLVED_ALERTS)
    return CardAlerts(open=open_, resolved=resolved)


def build_card(session: Session, name: str, version: str | None, windows: int, now: datetime) -> ModelCard:
    """The card of ``version`` (default: the newest) of model ``name``; 404 if either is unknown."""
    model = load_model(session, name)
    spec = pick_version(model, version)
    rows, row = _version_row(session, model.name, spec.version)
    monitor = status.view(session, model, now)  # configuration, layouts and progress at once
    alerts = _alerts(session, model.model_id, spec.version_id)
    recent = _windows(session, spec.version_id, windows)
    return ModelCard(
        model=model.name,
        generated_at=now,
        version=_card_version(row),
        versions=[
            VersionLine(version=r.version, created_at=r.created_at, spec_hash=r.spec_hash) for r in rows
        ],
        reference=_reference(session, monitor, spec),
        monitor=CardMonitor(
            configured=monitor.configured, updated_at=monitor.updated_at, config=monitor.config
        ),
        status=_status(monitor.status, alerts, bool(recent)),
        windows=recent,
        alerts=alerts,
        retrain_requests=[
            _request(r) for r in alerting.version_retrain_requests(session, spec.version_id, RETRAIN_REQUESTS)
        ],
    )
