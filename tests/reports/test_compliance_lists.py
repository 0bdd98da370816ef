"""The compliance report's bounded lists say when they were cut: a filed report must not pass
off the newest part of a configuration history as all of it."""

from __future__ import annotations

import pytest

from service.reports import compliance
from tests import factories
from tests.asgi_client import AppClient
from tests.reports.compliance_support import Tables

PERIOD = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}


def _history(client: AppClient) -> tuple[list[list[str]], str]:
    response = client.get("/v1/models/credit/report", params=PERIOD)
    assert response.status_code == 200, response.text
    (table,) = Tables(response.text).of("history")
    return table.rows[1:], response.text


def test_a_history_longer_than_the_report_lists_says_so(
    client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/v1/models", json=factories.registration()).status_code == 201
    for days in (2, 3, 4):
        config = {"window": f"{days}d", "step": "1d", "bucket": "1h"}
        assert client.put("/v1/models/credit/monitor", json=config).status_code == 200
    rows, html = _history(client)
    assert [r[3] for r in rows] == ["model.registered"] + ["monitor.changed"] * 3
    assert "newest changes are listed" not in html
    monkeypatch.setattr(compliance, "MAX_HISTORY", 2)
    rows, html = _history(client)
    assert [r[3] for r in rows] == ["monitor.changed"] * 2  # the two newest
    assert "window: 3d → 4d" in rows[-1][5].replace("'", "")
    assert "Only the 2 newest changes are listed" in html
