"""The alerts, silences and retraining-request endpoints: answers, filters and errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.alerting.support import Harness, drift, figure


@pytest.fixture
def two_alerts(h: Harness) -> Harness:
    """A firing drift alert (warning) on income and a firing performance alert (critical)."""
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    for hour in (45, 46, 47):
        h.store(hour, [drift(0.2 + hour / 1000), figure("performance", "roc_auc", 0.6, 0.75, "alert")])
        h.run_pass(hour + 0.1)
    return h


@pytest.mark.slow
def test_alerts_are_listed_newest_first_and_filtered(two_alerts: Harness) -> None:
    client = two_alerts.client
    everything = client.get("/v1/alerts").json()
    assert [a["family"] for a in everything["items"]] == ["performance", "drift"]
    assert everything["next_before"] is None
    critical = client.get("/v1/alerts", params={"severity": "critical", "state": "firing"}).json()["items"]
    assert [a["metric"] for a in critical] == ["roc_auc"]
    assert client.get("/v1/alerts", params={"family": "fairness"}).json()["items"] == []
    assert client.get("/v1/alerts", params={"state": "resolved"}).json()["items"] == []
    page = client.get("/v1/alerts", params={"limit": 1}).json()
    older = client.get("/v1/alerts", params={"limit": 1, "before": page["next_before"]}).json()
    assert [a["family"] for a in older["items"]] == ["drift"]


@pytest.mark.slow
def test_an_alert_answers_its_transitions_and_its_history_newest_first(two_alerts: Harness) -> None:
    drift_alert = next(
        a for a in two_alerts.client.get("/v1/alerts").json()["items"] if a["family"] == "drift"
    )
    detail = two_alerts.client.get(f"/v1/alerts/{drift_alert['id']}").json()
    assert detail["alert"]["summary"].startswith("credit v1: drift_score of income is 0.247 (threshold 0.1)")
    assert [(t["from_state"], t["to_state"], t["notified"]) for t in detail["transitions"]] == [
        ("none", "firing", True)
    ]
    assert [p["value"] for p in detail["history"]] == [0.247, 0.246, 0.245]
    assert detail["history"][0]["ci_low"] == pytest.approx(0.237)


@pytest.mark.slow
def test_acknowledging_records_who_once(two_alerts: Harness) -> None:
    alert_id = two_alerts.client.get("/v1/alerts").json()["items"][0]["id"]
    first = two_alerts.client.post(
        f"/v1/alerts/{alert_id}/acknowledge", json={"by": "bob", "comment": "on it"}
    )
    assert first.status_code == 200 and first.json()["acknowledged_by"] == "bob"
    again = two_alerts.client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"by": "carol"})
    assert again.json()["acknowledged_by"] == "bob" and again.json()["acknowledge_comment"] == "on it"


def test_acknowledging_a_resolved_alert_is_a_conflict(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    h.store(1, [drift(0.3)])
    h.run_pass(1.1)
    h.store(2, [drift(0.01)])
    h.run_pass(2.1)
    (alert,) = h.alerts()
    response = h.client.post(f"/v1/alerts/{alert.id}/acknowledge", json={"by": "bob"})
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "id"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/alerts", {"state": "open"}, "state"),
        ("/v1/alerts", {"severity": "page"}, "severity"),
        ("/v1/alerts", {"limit": "0"}, "limit"),
        ("/v1/silences", {"state": "gone"}, "state"),
    ],
)
def test_bad_query_parameters_are_named(h: Harness, path: str, params: dict[str, str], field: str) -> None:
    response = h.client.get(path, params=params)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    ["/v1/alerts/99", "/v1/silences/99", "/v1/alerts?model=nobody", "/v1/retrain-requests?model=nobody"],
)
def test_unknown_things_are_404(h: Harness, path: str) -> None:
    assert h.client.get(path).status_code == 404
    if path.startswith("/v1/silences/"):
        assert h.client.delete(path).status_code == 404


GOOD: dict[str, Any] = {
    "matchers": [{"name": "model", "value": "credit"}],
    "duration": "2h",
    "created_by": "alice",
    "comment": "maintenance",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": []}, "matchers"),
        ({"matchers": [{"name": "colour", "value": "red"}]}, "matchers[0].name"),
        ({"matchers": [{"name": "model", "value": "(", "regex": True}]}, "matchers[0]"),
        ({"ends_at": "2026-11-23T00:00:00Z"}, "ends_at"),
        ({"duration": None}, "ends_at"),
        ({"duration": None, "ends_at": "2026-11-23T00:00:00"}, "ends_at"),
        ({"duration": None, "ends_at": "2026-11-01T00:00:00Z"}, "ends_at"),
        ({"created_by": ""}, "created_by"),
        ({"duration": "1x"}, "duration"),
    ],
)
def test_an_invalid_silence_is_refused_naming_the_field(
    h: Harness, change: dict[str, Any], field: str
) -> None:
    response = h.client.post("/v1/silences", json={**GOOD, **change})
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.slow
def test_a_silence_answers_how_many_open_alerts_it_mutes(two_alerts: Harness) -> None:
    response = two_alerts.client.post(
        "/v1/silences", json={**GOOD, "matchers": [{"name": "severity", "value": "critical"}]}
    )
    assert response.status_code == 201 and response.headers["x-modelmon-muted-alerts"] == "1"
    created = response.json()
    assert created["active"] is True and created["matchers"][0] == {
        "name": "severity",
        "value": "critical",
        "regex": False,
        "equal": True,
    }
    assert two_alerts.client.get(f"/v1/silences/{created['id']}").json() == created


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"alerting": {"drift": {"fire_after": 0}}}, "alerting.drift.fire_after"),
        ({"alerting": {"performance": {"resolve_margin": 1.5}}}, "alerting.performance.resolve_margin"),
        ({"alerting": {"fairness": {"severity": "page"}}}, "alerting.fairness.severity"),
        ({"alerting": {"no_data_after": "soon"}}, "alerting.no_data_after"),
        ({"alerting": {"colour": {}}}, "alerting.colour"),
        ({"retraining": {"cooldown": "7x"}}, "retraining.cooldown"),
        ({"retraining": {"enabled": "yes"}}, "retraining.enabled"),
    ],
)
def test_an_invalid_alerting_policy_is_refused_naming_the_field(
    h: Harness, config: dict[str, Any], field: str
) -> None:
    response = h.client.put("/v1/models/credit/monitor", json=config)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_the_alerting_policy_is_answered_back_with_each_familys_defaults(h: Harness) -> None:
    h.configure({"alerting": {"data_quality": {"fire_after": 3}, "no_data_after": None}})
    alerting = h.client.get("/v1/models/credit/monitor").json()["config"]["alerting"]
    assert alerting["data_quality"] == {
        "enabled": True,
        "fire_after": 3,
        "resolve_margin": 0.2,
        "severity": "critical",
    }
    assert alerting["drift"]["fire_after"] == 2 and alerting["no_data_after"] is None
