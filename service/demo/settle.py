"""Waiting, after the last record, for the jobs to finish with it: every window evaluated,
its alerts applied and every webhook delivered."""

from __future__ import annotations

import time
from datetime import datetime

from service.demo.api import Api
from service.webhooks.states import DeliveryState

POLL_SECONDS = 0.5
# Deliveries are polled every second by the server; two quiet polls 1.5 s apart mean the
# alerting pass and the delivery worker have nothing left in flight.
QUIET_POLLS = 3


def _caught_up(api: Api, model: str, last_end: datetime) -> bool:
    status = api.get(f"/v1/models/{model}/monitor")["status"]
    newest = status.get("last_window_end")
    if status["pending_windows"] or newest is None:
        return False
    return datetime.fromisoformat(str(newest)) >= last_end


def _deliveries_pending(api: Api, endpoint_id: int | None) -> bool:
    if endpoint_id is None:
        return False
    page = api.get(f"/v1/webhooks/{endpoint_id}/deliveries", state=DeliveryState.PENDING, limit=1)
    return bool(page["deliveries"])


def settle(api: Api, model: str, endpoint_id: int | None, last_end: datetime, timeout_seconds: float) -> bool:
    """True once the window ending at ``last_end`` is evaluated, nothing is pending and the
    alert count stopped moving for ``QUIET_POLLS`` polls; False after ``timeout_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    quiet, seen = 0, -1
    while time.monotonic() < deadline:
        alerts = len(api.all_alerts(model))
        done = _caught_up(api, model, last_end) and not _deliveries_pending(api, endpoint_id)
        quiet = quiet + 1 if done and alerts == seen else 0
        seen = alerts
        if quiet >= QUIET_POLLS:
            return True
        time.sleep(POLL_SECONDS)
    return False
