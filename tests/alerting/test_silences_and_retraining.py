"""Silences mute and expire; retraining requests follow the policy, carry evidence, happen once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.alerting.support import T0, Harness, drift, figure


def events(h: Harness) -> list[str]:
    # Incident events have their own tests (tests/alerting/test_incidents.py).
    return [kind for kind, _ in h.messages() if not kind.startswith("incident.")]


def silence(h: Harness, matchers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"matchers": matchers, "created_by": "alice", "comment": "campaign", **extra}
    response = h.client.post("/v1/silences", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_silenced_alert_changes_state_and_is_recorded_but_sends_nothing(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    muted = silence(
        h,
        [{"name": "model", "value": "credit"}, {"name": "family", "value": "dr.*", "regex": True}],
        duration="6h",
    )
    h.store(49, [drift(0.3)])
    h.run_pass(49.1)
    (alert,) = h.alerts()
    assert alert.state == "firing" and alert.silenced_by == muted["id"]
    assert events(h) == []
    detail = h.client.get(f"/v1/alerts/{alert.id}").json()
    assert [(t["to_state"], t["notified"], t["silenced_by"]) for t in detail["transitions"]] == [
        ("firing", False, muted["id"])
    ]


def test_a_silence_that_expires_releases_the_muted_firing(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    silence(h, [{"name": "feature", "value": "income"}], duration="1h")
    h.store(49, [drift(0.3)])
    h.run_pass(48.5)
    assert events(h) == []
    h.run_pass(49.5)  # the silence ended at 49 h
    assert events(h) == ["alert.firing"]
    (alert,) = h.alerts()
    assert alert.silenced_by is None


@pytest.mark.slow
def test_deleting_a_silence_ends_it_and_keeps_its_record(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    muted = silence(h, [{"name": "severity", "value": "warning"}], duration="1d")
    h.store(49, [drift(0.3)])
    h.run_pass(48.1)
    assert events(h) == []
    ended = h.client.delete(f"/v1/silences/{muted['id']}")
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert [s["id"] for s in h.client.get("/v1/silences", params={"state": "expired"}).json()] == [
        muted["id"]
    ]
    assert h.client.get("/v1/silences").json() == []
    h.run_pass(48.2)
    assert events(h) == ["alert.firing"]


@pytest.mark.slow
def test_a_silence_that_does_not_match_mutes_nothing(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    silence(h, [{"name": "feature", "value": "income", "equal": False}], duration="1d")
    h.store(49, [drift(0.3)])
    h.run_pass(48.1)
    assert events(h) == ["alert.firing"]


@pytest.mark.slow
def test_a_resolve_whose_firing_was_muted_is_not_sent(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    silence(h, [{"name": "model", "value": "credit"}], duration="1d")
    h.store(49, [drift(0.3)])
    h.run_pass(48.1)
    h.store(50, [drift(0.01)])
    h.run_pass(48.2)
    assert [a.state for a in h.alerts()] == ["resolved"] and events(h) == []


# ---------------------------------------------------------------- retraining

AUC_LOW = figure("performance", "roc_auc", 0.61, 0.75, "alert")
NULLS = figure("data_quality", "missing_rate", 0.4, 0.1, "alert", feature="income")


def degrade(h: Harness, hours: range, extra: list[dict[str, Any]] | None = None) -> None:
    for hour in hours:
        h.store(hour, [AUC_LOW, drift(0.3), drift(0.2, feature="purpose"), *(extra or [])])
        h.run_pass(hour + 0.1)


@pytest.mark.slow
def test_lasting_performance_degradation_requests_retraining_once_with_evidence(h: Harness) -> None:
    degrade(h, range(40, 47))  # fired at 40.1 h; 6 h later at 46.1 h
    requests = h.client.get("/v1/retrain-requests", params={"model": "credit"}).json()
    assert len(requests) == 1
    evidence = requests[0]["evidence"]
    assert evidence["model"] == "credit" and evidence["version"] == "v1"
    assert evidence["window"] == {
        "start": (T0 + timedelta(hours=22)).isoformat(),
        "end": (T0 + timedelta(hours=46)).isoformat(),
    }
    (reason,) = evidence["reasons"]
    assert (reason["family"], reason["metric"], reason["value"], reason["threshold"]) == (
        "performance", "roc_auc", 0.61, 0.75,
    )  # fmt: skip
    assert reason["ci_low"] == 0.6 and reason["ci_high"] == 0.62
    assert [f["feature"] for f in evidence["top_drifted_features"]] == ["income", "purpose"]
    assert evidence["label_coverage"] == 0.9
    assert evidence["export"].startswith("http://modelmon.test/v1/models/credit/export?from=")
    assert evidence["reference"]["reference_hash"] == "r" * 64
    retrain = [payload for kind, payload in h.messages() if kind == "model.retrain_requested"]
    assert len(retrain) == 1 and retrain[0]["data"]["idempotency_key"] == requests[0]["idempotency_key"]
    degrade(h, range(47, 60))  # still firing: the 7-day cooldown holds
    assert len(h.client.get("/v1/retrain-requests").json()) == 1


@pytest.mark.slow
def test_a_data_quality_incident_never_requests_retraining(h: Harness) -> None:
    degrade(h, range(40, 60), extra=[NULLS])
    assert {a.family for a in h.alerts() if a.state == "firing"} == {"performance", "drift", "data_quality"}
    assert h.client.get("/v1/retrain-requests").json() == []
    assert "model.retrain_requested" not in events(h)


@pytest.mark.slow
def test_a_data_quality_alert_firing_in_the_same_pass_blocks_retraining(h: Harness) -> None:
    for hour in range(40, 46):
        h.store(hour, [AUC_LOW, drift(0.3), drift(0.2, feature="purpose")])
        h.run_pass(hour + 0.1)
    assert h.client.get("/v1/retrain-requests").json() == []
    h.store(46, [AUC_LOW, drift(0.3), drift(0.2, feature="purpose"), NULLS])
    h.run_pass(46.1)
    assert ("data_quality", "firing") in {(a.family, a.state) for a in h.alerts()}
    assert h.client.get("/v1/retrain-requests").json() == []


@pytest.mark.slow
def test_drift_with_an_estimated_drop_requests_retraining(h: Harness) -> None:
    estimated = figure("estimated_performance", "roc_auc", 0.62, 0.75, "alert")
    for hour in (40, 41):
        h.store(hour, [drift(0.3), estimated])
        h.run_pass(hour + 0.1)
    (request,) = h.client.get("/v1/retrain-requests").json()
    assert {r["family"] for r in request["evidence"]["reasons"]} == {"drift", "estimated_performance"}


@pytest.mark.slow
def test_a_silence_created_after_the_firing_mutes_the_alert_from_the_next_pass(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    h.store(49, [drift(0.3)])
    h.run_pass(48.1)
    assert events(h) == ["alert.firing"]
    muted = silence(h, [{"name": "feature", "value": "income"}], duration="1h")
    h.run_pass(48.2)
    (alert,) = h.alerts()
    assert alert.silenced_by == muted["id"]  # no longer pushed to Alertmanager
    h.store(50, [drift(0.01)])
    h.run_pass(48.3)
    assert events(h) == ["alert.firing"]  # the resolve is muted too
