"""Deliveries to real receivers on loopback, driven by a clock the test moves (no sleeping
through backoff): signatures, retries until a receiver is back, exactly one receipt, 410,
dead letters, redelivery with the same webhook-id, rotation, and the guard at send time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import WebhookVerificationError

from service.storage.database import unit_of_work
from service.storage.webhook_tables import WebhookDelivery
from service.webhooks.jobs import Deliverer
from service.webhooks.service import enqueue
from tests.asgi_client import AppClient
from tests.webhooks.receivers import Receiver, free_port
from tests.windows.scenario import MutableClock

HOOKS = "/v1/webhooks"
# Later than any jittered retry delay up to the 4 h cap (+20 %).
MUCH_LATER = timedelta(hours=5)


def create(client: AppClient, url: str, events: tuple[str, ...] = ("alert.firing",)) -> dict[str, Any]:
    response = client.post(HOOKS, json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def fire(sessions: sessionmaker[Session], clock: MutableClock, **data: Any) -> str:
    with unit_of_work(sessions) as session:
        message = enqueue(session, event_type="alert.firing", data=data, now=clock())
        assert message is not None
        return message.message_id


def deliveries(client: AppClient, endpoint_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"{HOOKS}/{endpoint_id}/deliveries").json()["deliveries"]
    return found


@pytest.mark.slow
def test_a_delivery_is_signed_in_the_standard_webhooks_format(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers(answer=b"x" * 5000)
    endpoint = create(client, receiver.url)
    message_id = fire(sessions, clock, alert_id=7)
    assert deliverer().run_once() == 1
    [got] = receiver.received
    payload = got.verify(endpoint["secret"])
    assert payload == {"type": "alert.firing", "timestamp": "2026-11-22T12:00:00Z", "data": {"alert_id": 7}}
    assert got.headers["webhook-id"] == message_id
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("modelmon/")
    [delivery] = deliveries(client, endpoint["id"])
    assert delivery["state"] == "delivered" and delivery["last_status"] == 200
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["duration_ms"] > 0
    assert attempt["response_excerpt"] == "x" * 1024


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["503", "port closed"])
def test_a_receiver_that_was_down_gets_the_delivery_later_exactly_once(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
    outage: str,
) -> None:
    port = free_port()
    if outage == "503":
        receiver = receivers([503, 503], port=port)
    endpoint = create(client, f"http://127.0.0.1:{port}/hook")
    message_id = fire(sessions, clock)
    worker = deliverer()
    assert worker.run_once() == 1
    assert worker.run_once() == 0  # not due before its backoff
    clock.at += timedelta(seconds=15 * 1.2)
    assert worker.run_once() == 1
    if outage == "port closed":
        receiver = receivers(port=port)
    clock.at += timedelta(seconds=30 * 1.2)
    assert worker.run_once() == 1
    clock.at += MUCH_LATER
    assert worker.run_once() == 0
    assert len(receiver.delivered) == 1
    assert {r.headers["webhook-id"] for r in receiver.received} == {message_id}
    [delivery] = deliveries(client, endpoint["id"])
    assert delivery["state"] == "delivered" and delivery["attempts_made"] == 3
    statuses = [a["status_code"] for a in delivery["attempts"]]
    assert statuses == ([503, 503, 200] if outage == "503" else [None, None, 200])
    if outage == "port closed":
        assert "ConnectError" in delivery["attempts"][0]["error"]


@pytest.mark.slow
def test_after_the_last_attempt_a_delivery_is_dead_and_redelivery_keeps_its_webhook_id(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers([500, 500, 500])
    endpoint = create(client, receiver.url)
    message_id = fire(sessions, clock)
    worker = deliverer(webhook_max_attempts=3)
    for _ in range(3):
        assert worker.run_once() == 1
        clock.at += MUCH_LATER
    assert worker.run_once() == 0
    [dead] = deliveries(client, endpoint["id"])
    assert dead["state"] == "dead" and dead["next_attempt_at"] is None and len(dead["attempts"]) == 3
    redone = client.post(f"{HOOKS}/{endpoint['id']}/deliveries/{dead['id']}/redeliver")
    assert redone.status_code == 200, redone.text
    assert redone.json()["state"] == "pending" and redone.json()["attempts_made"] == 0
    assert worker.run_once() == 1
    assert [r.headers["webhook-id"] for r in receiver.received] == [message_id] * 4
    assert receiver.delivered[0].verify(endpoint["secret"])["type"] == "alert.firing"
    [delivered] = deliveries(client, endpoint["id"])
    assert delivered["state"] == "delivered" and len(delivered["attempts"]) == 4


@pytest.mark.slow
def test_410_disables_the_endpoint_and_nothing_more_is_sent_to_it(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers([410])
    endpoint = create(client, receiver.url)
    fire(sessions, clock, n=1)
    fire(sessions, clock, n=2)
    worker = deliverer()
    assert worker.run_once(limit=1) == 1
    shown = client.get(f"{HOOKS}/{endpoint['id']}").json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    clock.at += MUCH_LATER
    assert worker.run_once() == 0
    fire(sessions, clock, n=3)  # written while disabled: no delivery to this endpoint
    assert [d["state"] for d in deliveries(client, endpoint["id"])] == ["pending", "disabled"]
    assert len(receiver.received) == 1
    client.request("PATCH", f"{HOOKS}/{endpoint['id']}", json={"enabled": True})
    assert worker.run_once() == 1
    assert [r.payload["data"] for r in receiver.received] == [{"n": 1}, {"n": 2}]


@pytest.mark.slow
def test_during_the_rotation_overlap_old_and_new_secrets_both_verify(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers()
    endpoint = create(client, receiver.url)
    old = endpoint["secret"]
    new = client.post(f"{HOOKS}/{endpoint['id']}/rotate-secret").json()["secret"]
    worker = deliverer()
    fire(sessions, clock)
    assert worker.run_once() == 1
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verify(old) == during.verify(new)
    clock.at += timedelta(hours=24, seconds=1)
    fire(sessions, clock)
    assert worker.run_once() == 1
    after = receiver.received[-1]
    assert after.verify(new)["type"] == "alert.firing"
    with pytest.raises(WebhookVerificationError):
        after.verify(old)


@pytest.mark.slow
def test_the_address_is_checked_again_before_every_attempt(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers()
    endpoint = create(client, receiver.url.replace("127.0.0.1", "localhost"))
    fire(sessions, clock)
    # The name now points into a private network (DNS rebinding).
    rebound = deliverer(resolver=lambda _host, _port: ["10.0.0.7"])
    assert rebound.run_once() == 1
    # And a policy that allows no network refuses loopback too.
    clock.at += MUCH_LATER
    assert deliverer(webhook_allowed_networks="").run_once() == 1
    assert receiver.received == []
    [delivery] = deliveries(client, endpoint["id"])
    assert delivery["state"] == "pending"
    first, second = delivery["attempts"]
    assert first["status_code"] is None and first["error"].startswith("refused:")
    assert "10.0.0.7" in first["error"] and "127.0.0.1" in second["error"]


@pytest.mark.slow
def test_a_test_event_reaches_only_its_endpoint(
    client: AppClient, receivers: Callable[..., Receiver], deliverer: Callable[..., Deliverer]
) -> None:
    pinged, other = receivers(), receivers()
    endpoint = create(client, pinged.url)
    create(client, other.url)
    assert client.post(f"{HOOKS}/{endpoint['id']}/test").status_code == 202
    assert deliverer().run_once() == 1
    assert pinged.received[0].verify(endpoint["secret"])["type"] == "webhook.test"
    assert other.received == []


def test_an_event_goes_to_every_enabled_subscriber_once_per_idempotency_key(
    client: AppClient, sessions: sessionmaker[Session], clock: MutableClock
) -> None:
    firing = create(client, "http://127.0.0.1:9/a", ("alert.firing",))
    both = create(client, "http://127.0.0.1:9/b", ("alert.firing", "model.retrain_requested"))
    create(client, "http://127.0.0.1:9/c", ("alert.resolved",))
    with unit_of_work(sessions) as session:
        first = enqueue(
            session, event_type="model.retrain_requested", data={}, now=clock(), idempotency_key="m1:w1"
        )
        again = enqueue(
            session, event_type="model.retrain_requested", data={}, now=clock(), idempotency_key="m1:w1"
        )
        enqueue(session, event_type="alert.firing", data={}, now=clock())
    assert first is not None and again is None
    with unit_of_work(sessions) as session:
        count = session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert count == 3
    assert len(deliveries(client, firing["id"])) == 1 and len(deliveries(client, both["id"])) == 2
    with unit_of_work(sessions) as session, pytest.raises(ValueError, match="unknown webhook event"):
        enqueue(session, event_type="alert.exploded", data={}, now=clock())
