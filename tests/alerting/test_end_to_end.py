"""From predictions to a signed webhook: the engine's scenario (tests/windows/scenario.py) with a
real receiver on loopback, through ingestion, aggregation, evaluation, alerting and delivery."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from service.app import create_app
from service.config import Settings
from service.runner import Pipeline
from service.webhooks.jobs import Deliverer
from tests.asgi_client import app_client
from tests.webhooks.receivers import Receiver
from tests.windows import scenario


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.stop()


@pytest.mark.slow
def test_injected_drift_reaches_a_receiver_as_signed_webhooks_once_each(
    database_url: str, receiver: Receiver
) -> None:
    settings = Settings(database_url=database_url, run_jobs=False, public_url="http://modelmon.test")
    clock = scenario.MutableClock(scenario.START)
    app = create_app(settings, clock=clock)
    jobs = Pipeline(app.state.context.sessions, settings, clock)
    try:
        with app_client(app) as client, Deliverer(app.state.context.sessions, settings, clock) as deliverer:
            body = {
                "url": receiver.url,
                "events": ["alert.firing", "alert.resolved"],
                "description": "on-call",
            }
            created = client.post("/v1/webhooks", json=body)
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]

            def round_and_deliver() -> None:
                jobs.run_round()
                while deliverer.run_once():
                    pass

            scenario.run(client, clock, round_and_deliver)
            alerts = client.get("/v1/alerts", params={"family": "drift", "limit": 1000}).json()["items"]
    finally:
        app.state.context.engine.dispose()
    payloads = [received.verify(secret) for received in receiver.delivered]
    ids = Counter(received.headers["webhook-id"] for received in receiver.delivered)
    assert ids and max(ids.values()) == 1, "every message is delivered exactly once"
    fired = {
        p["data"]["alert"]["feature"]
        for p in payloads
        if p["type"] == "alert.firing" and p["data"]["alert"]["family"] == "drift"
    }
    assert set(scenario.DRIFTED) <= fired
    assert {a["feature"] for a in alerts if a["state"] in ("firing", "resolved")} >= set(scenario.DRIFTED)
    for payload in payloads:
        assert payload["data"]["links"]["alert"].startswith("http://modelmon.test/v1/alerts/")
