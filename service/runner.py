"""Everything a worker runs: the jobs loop (aggregation → evaluation → alerting → Alertmanager)
and, in threads beside it, webhook delivery, so a slow receiver never delays evaluation, and
retention, so a failing or slow round never keeps raw events past their retention period.

``modelmon worker`` runs one; so does ``modelmon serve`` when the jobs run in the API
process (the embedded SQLite default).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from service.alerting.alertmanager import AlertmanagerSync
from service.clock import Clock
from service.config import Settings
from service.privacy.jobs import RetentionJob
from service.webhooks.jobs import Deliverer
from service.windows.jobs import Jobs, RoundSummary

log = logging.getLogger("modelmon.worker")


class Runner:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self.jobs = Jobs(sessions, settings, clock)
        self.alertmanager = AlertmanagerSync(sessions, settings, clock)
        self.retention = RetentionJob(sessions, clock, settings.retention_days)
        self.jobs.after_round = self._after_round
        self.deliverer = Deliverer(sessions, settings, clock)

    def _after_round(self) -> None:
        self.alertmanager.run_once()

    def once(self, max_seconds: float = 3600) -> tuple[RoundSummary, int]:
        """One round of jobs, then every due webhook delivery; (round summary, deliveries attempted)."""
        summary = self.jobs.run_round(max_seconds=max_seconds)
        self.retention.run_if_due()
        attempted = 0
        while (batch := self.deliverer.run_once()) > 0:
            attempted += batch
        return summary, attempted

    def run_forever(self, stop: threading.Event) -> None:
        """Until ``stop``: the jobs loop here, deliveries and retention in threads of their own."""
        threads = [
            threading.Thread(
                target=self.deliverer.run_forever, args=(stop,), name="modelmon-webhooks", daemon=True
            ),
            threading.Thread(
                target=self.retention.run_forever, args=(stop,), name="modelmon-retention", daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            self.jobs.run_forever(stop)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

    def close(self) -> None:
        self.deliverer.close()
        self.alertmanager.close()
