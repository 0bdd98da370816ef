"""The monitor view joins the stored configuration (``monitors``) with the live status the
engine keeps: a new model shows its defaults and nothing pending, a configured one what was
saved, and an unknown one is a 404 naming it."""

from __future__ import annotations

from tests.asgi_client import AppClient
from tests.factories import registration

MONITOR = "/v1/models/credit/monitor"


def test_a_new_model_has_no_layout_no_pending_window_and_no_lag(client: AppClient) -> None:
    assert client.post("/v1/models", json=registration()).status_code == 201
    body = client.get(MONITOR).json()
    assert body["configured"] is False
    status = body["status"]
    assert status["layouts"] == [] and status["pending_windows"] == 0
    assert status["lag_seconds"] is None and status["last_window_end"] is None
    assert status["failures"] == []


def test_a_saved_configuration_comes_back_with_the_status(client: AppClient) -> None:
    assert client.post("/v1/models", json=registration()).status_code == 201
    saved = client.put(MONITOR, json={"window": "6h", "step": "6h"})
    assert saved.status_code == 200, saved.text
    body = client.get(MONITOR).json()
    assert body["configured"] is True and body["updated_at"] is not None
    assert (body["config"]["window"], body["config"]["step"]) == ("6h", "6h")
    assert body["status"]["pending_windows"] == 0


def test_an_unknown_model_is_a_404_naming_it(client: AppClient) -> None:
    response = client.get("/v1/models/nobody/monitor")
    assert response.status_code == 404
    assert "nobody" in response.text
