"""A registered model whose windows a test writes figure by figure, then alerting passes.

Runs are stored the way the engine stores them (``windows.repository.add_run`` plus the
alert queue, in one transaction), so the alerting pass reads exactly what it reads in
production; the test chooses the figures instead of generating traffic that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.alerting import repository as alert_repository
from service.alerting.service import PassSummary, alert_pass
from service.stats.labels import label_coverage
from service.storage.alerting_tables import Alert
from service.storage.database import unit_of_work
from service.storage.engine_tables import WindowRun
from service.storage.registry_tables import Model, ModelVersion
from service.storage.webhook_tables import WebhookMessage
from service.windows import repository as window_repository
from tests.asgi_client import AppClient
from tests.windows import scenario

# Windows end on the hours after T0; the API's clock starts at T0 + 48 h (tests.conftest.NOW).
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
BASE_URL = "http://modelmon.test"


def figure(
    family: str,
    metric: str,
    value: float | None,
    threshold: float | None,
    status: str,
    *,
    feature: str = "",
    attribute: str = "",
    group: str = "",
    n: int = 500,
) -> dict[str, Any]:
    return {
        "family": family,
        "metric": metric,
        "feature": feature,
        "attribute": attribute,
        "group": group,
        "value": value,
        "ci_low": None if value is None else value - 0.01,
        "ci_high": None if value is None else value + 0.01,
        "n": n,
        "threshold": threshold,
        "status": status,
    }


def drift(value: float, status: str | None = None, feature: str = "income") -> dict[str, Any]:
    """drift_score of ``feature`` against the 0.1 threshold (alert above it unless told)."""
    verdict = status or ("alert" if value > 0.1 else "ok")
    return figure("drift", "drift_score", value, 0.1, verdict, feature=feature)


@dataclass
class Harness:
    client: AppClient
    sessions: sessionmaker[Session]
    clock: scenario.MutableClock
    model_id: int
    version_id: int
    revisions: int = 0

    def store(
        self, hour: int, figures: list[dict[str, Any]], *, rows: int = 1000, labelled: int = 900
    ) -> int:
        """A run of the 24 h window ending at T0 + ``hour`` h with ``figures``; its id."""
        end = T0 + hour * HOUR
        self.revisions += 1
        run = WindowRun(
            model_id=self.model_id,
            version_id=self.version_id,
            window_start=end - 24 * HOUR,
            window_end=end,
            revision=self.revisions,
            latest=True,
            rows=rows,
            labelled=labelled,
            label_coverage=label_coverage(labelled=labelled, predicted=rows),
            layout_hash="l" * 64,
            reference_hash="r" * 64,
            config_hash="c" * 64,
            computed_at=self.clock(),
        )
        with unit_of_work(self.sessions) as session:
            window_repository.add_run(session, run, figures)
            alert_repository.enqueue_run(session, run)
            return run.id

    def configure(self, config: dict[str, Any]) -> None:
        saved = self.client.put("/v1/models/credit/monitor", json=config)
        assert saved.status_code == 200, saved.text

    def run_pass(self, at_hour: float | None = None) -> PassSummary:
        if at_hour is not None:
            self.clock.at = T0 + timedelta(hours=at_hour)
        with unit_of_work(self.sessions) as session:
            return alert_pass(session, self.clock(), BASE_URL)

    def alerts(self) -> list[Alert]:
        with unit_of_work(self.sessions) as session:
            found = list(session.scalars(select(Alert).order_by(Alert.id)))
            session.expunge_all()
            return found

    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        with unit_of_work(self.sessions) as session:
            rows = session.scalars(select(WebhookMessage).order_by(WebhookMessage.id))
            return [(m.event_type, m.payload) for m in rows]


def harness(app: FastAPI, client: AppClient, clock: scenario.MutableClock) -> Harness:
    """Register the scenario's credit model through the API of ``app`` (whose clock is ``clock``)."""
    assert client.post("/v1/models", json=scenario.registration()).status_code == 201
    sessions: sessionmaker[Session] = app.state.context.sessions
    with unit_of_work(sessions) as session:
        model_id = session.scalars(select(Model.id).where(Model.name == "credit")).one()
        version_id = session.scalars(select(ModelVersion.id).where(ModelVersion.model_id == model_id)).one()
    return Harness(client, sessions, clock, model_id, version_id)
