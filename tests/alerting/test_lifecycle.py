"""Alert lifecycle on a real database: windows in, alerts, transitions and outbox rows out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service.kernel import grid
from service.storage.database import unit_of_work
from service.storage.engine_tables import WindowTask
from service.windows import repository as window_repository
from tests.alerting.support import HOUR, T0, Harness, drift, figure


def events(h: Harness) -> list[str]:
    # Incident events have their own tests (tests/alerting/test_incidents.py).
    return [kind for kind, _ in h.messages() if not kind.startswith("incident.")]


@pytest.mark.slow
def test_drift_fires_after_two_windows_and_resolves_with_one_message_each(h: Harness) -> None:
    h.store(1, [drift(0.3), drift(0.01, feature="debt")])
    h.run_pass(1.1)
    (pending,) = h.alerts()
    assert pending.state == "pending" and events(h) == []
    h.store(2, [drift(0.25), drift(0.01, feature="debt")])
    summary = h.run_pass(2.1)
    (firing,) = h.alerts()
    assert (firing.state, firing.severity, firing.feature, summary.fired) == (
        "firing",
        "warning",
        "income",
        1,
    )
    assert firing.resolve_threshold is not None and abs(firing.resolve_threshold - 0.08) < 1e-12
    kind, payload = h.messages()[0]
    assert kind == "alert.firing"
    labels = payload["data"]["alert"]["labels"]
    assert labels == {
        "alertname": "ModelmonFeatureDrift",
        "model": "credit",
        "version": "v1",
        "family": "drift",
        "metric": "drift_score",
        "feature": "income",
        "severity": "warning",
    }
    assert payload["data"]["links"]["alert"].endswith(f"/v1/alerts/{firing.id}")
    h.store(3, [drift(0.05), drift(0.01, feature="debt")])
    h.run_pass(3.1)
    (resolved,) = h.alerts()
    assert resolved.state == "resolved" and resolved.resolved_at == T0 + timedelta(hours=3.1)
    assert events(h) == ["alert.firing", "alert.resolved"]


@pytest.mark.slow
def test_flapping_input_produces_one_alert_not_twenty(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    for hour in range(1, 21):
        h.store(hour, [drift(0.12 if hour % 2 else 0.09)])
        h.run_pass(hour + 0.1)
    assert [(a.state, a.family) for a in h.alerts()] == [("firing", "drift")]
    assert events(h) == ["alert.firing"]


def test_a_pending_alert_that_does_not_persist_never_notifies(h: Harness) -> None:
    for hour, value in enumerate([0.3, 0.01, 0.3, 0.01], start=1):
        h.store(hour, [drift(value)])
        h.run_pass(hour + 0.1)
    assert events(h) == []
    assert [a.state for a in h.alerts()] == []  # dropped pendings leave no alert behind


@pytest.mark.slow
def test_provisional_performance_never_fires_and_the_final_window_does(h: Harness) -> None:
    for hour in range(1, 4):
        h.store(hour, [figure("performance", "roc_auc", 0.6, 0.75, "provisional")])
    h.run_pass(4)
    assert h.alerts() == []
    h.store(1, [figure("performance", "roc_auc", 0.6, 0.75, "alert")])  # labels arrived: final
    h.run_pass(5)
    (alert,) = h.alerts()
    assert (alert.state, alert.severity, alert.direction) == ("firing", "critical", "low")
    assert events(h) == ["alert.firing"]


def test_insufficient_data_never_fires(h: Harness) -> None:
    for hour in range(1, 6):
        h.store(hour, [figure("fairness", "statistical_parity_difference", None, 0.1, "insufficient_data")])
    h.run_pass(6)
    assert h.alerts() == []


@pytest.mark.slow
def test_an_older_window_re_evaluated_does_not_reopen_a_resolved_alert(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    h.store(1, [drift(0.3)])
    h.run_pass(1.1)
    h.store(2, [drift(0.01)])
    h.run_pass(2.1)
    h.store(1, [drift(0.4)])  # revision 2 of the first window
    h.run_pass(3)
    assert [a.state for a in h.alerts()] == ["resolved"]
    assert events(h) == ["alert.firing", "alert.resolved"]


def test_disabling_a_family_resolves_its_open_alerts(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    h.store(1, [drift(0.3)])
    h.run_pass(1.1)
    h.configure({"alerting": {"drift": {"enabled": False}}})
    h.store(2, [drift(0.3)])
    h.run_pass(2.1)
    assert [a.state for a in h.alerts()] == ["resolved"]


def test_a_pass_retried_after_a_crash_sends_nothing_twice(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}})
    h.store(1, [drift(0.3)])
    h.run_pass(1.1)
    h.run_pass(1.2)  # the queue is empty: nothing to apply again
    assert events(h) == ["alert.firing"]


def test_windows_from_before_the_label_wait_do_not_page(h: Harness) -> None:
    h.configure({"alerting": {"drift": {"fire_after": 1}}, "label_wait": "1d"})
    h.store(1, [drift(0.3)])
    h.run_pass(1 + 24 + 24 + 1)  # window end + label wait + window length has passed
    assert h.alerts() == [] and events(h) == []


def test_no_data_fires_when_a_model_goes_quiet_and_resolves_when_it_returns(h: Harness) -> None:
    prediction = {
        "id": "p-1",
        "version": "v1",
        "timestamp": h.clock().isoformat(),
        "features": {"income": 50.0, "debt": 10.0, "age": 30.0, "purpose": "car", "housing": "own"},
        "attributes": {"sex": "F", "age_band": "25-34"},
        "prediction": 1,
        "score": 0.7,
    }
    sent = h.client.post("/v1/models/credit/predictions", json={"predictions": [prediction]})
    assert sent.status_code in (200, 201), sent.text
    started = h.clock()
    h.clock.at = started + timedelta(hours=1)
    h.run_pass()
    assert h.alerts() == []
    h.clock.at = started + timedelta(hours=2, minutes=1)
    h.run_pass()
    (alert,) = h.alerts()
    assert (alert.family, alert.state, alert.severity) == ("no_data", "firing", "critical")
    later = {**prediction, "id": "p-2", "timestamp": h.clock().isoformat()}
    assert h.client.post("/v1/models/credit/predictions", json={"predictions": [later]}).status_code < 300
    h.run_pass()
    assert [a.state for a in h.alerts()] == ["resolved"]
    assert events(h) == ["alert.firing", "alert.resolved"]


@pytest.mark.slow
def test_a_run_waits_for_older_windows_of_its_version_still_being_evaluated(h: Harness) -> None:
    """Two workers: one stored the 3 h window while the other still evaluates the 2 h one.
    Applying 3 h first would make 2 h stale and break the streak; it waits instead."""
    h.configure({"alerting": {"drift": {"fire_after": 2}}})
    h.store(1, [drift(0.3)])
    older = (T0 - 22 * HOUR, T0 + 2 * HOUR)
    with unit_of_work(h.sessions) as session:
        window_repository.schedule(
            session, model_id=h.model_id, version_id=h.version_id, windows=[older],
            generation=1, horizon=grid.EPOCH,
        )  # fmt: skip
    h.store(3, [drift(0.3)])
    summary = h.run_pass(3.1)
    assert (summary.runs, summary.remaining) == (1, 1)  # the 1 h window only; 3 h waits
    h.store(2, [drift(0.3)])
    with unit_of_work(h.sessions) as session:
        session.execute(update(WindowTask).values(done=WindowTask.wanted))
    summary = h.run_pass(3.2)
    assert (summary.runs, summary.remaining) == (2, 0)
    (alert,) = h.alerts()
    assert alert.state == "firing" and alert.window_end == T0 + timedelta(hours=3)
