"""The worker loop: one endpoint gets at most a quarter of the slots, and a receiver that
hangs until the timeout delays only its own deliveries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service.storage.database import unit_of_work
from service.webhooks.jobs import Deliverer
from service.webhooks.service import enqueue
from tests.asgi_client import AppClient
from tests.webhooks.receivers import Receiver
from tests.windows.scenario import MutableClock

HOOKS = "/v1/webhooks"


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"


def subscribe(client: AppClient, url: str) -> int:
    response = client.post(HOOKS, json={"url": url, "events": ["alert.firing"]})
    assert response.status_code == 201, response.text
    endpoint_id: int = response.json()["id"]
    return endpoint_id


def fire(sessions: sessionmaker[Session], clock: MutableClock, count: int) -> None:
    with unit_of_work(sessions) as session:
        for n in range(count):
            enqueue(session, event_type="alert.firing", data={"n": n}, now=clock())


@pytest.mark.slow
def test_one_round_takes_at_most_a_quarter_of_the_slots_per_endpoint(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    busy, quiet = receivers(), receivers()
    subscribe(client, busy.url)
    fire(sessions, clock, 10)
    subscribe(client, quiet.url)
    fire(sessions, clock, 1)
    worker = deliverer(webhook_concurrency=8)
    assert worker.run_once() == 3  # 2 of the 8 slots to the busy endpoint, and the quiet one
    assert (len(busy.received), len(quiet.received)) == (2, 1)


@pytest.mark.slow
def test_a_hanging_receiver_does_not_hold_back_the_others(
    client: AppClient,
    sessions: sessionmaker[Session],
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
    hanging_url: str,
) -> None:
    healthy = receivers()
    stuck = subscribe(client, hanging_url)
    subscribe(client, healthy.url)
    fire(sessions, clock, 20)
    worker, stop = deliverer(http_timeout_seconds=3.0), threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while len(healthy.received) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    attempts_before = [d["attempts"] for d in client.get(f"{HOOKS}/{stuck}/deliveries").json()["deliveries"]]
    stop.set()
    thread.join(15)
    assert len(healthy.delivered) == 20
    assert all(not attempts for attempts in attempts_before)  # none had timed out yet
    stuck_deliveries = client.get(f"{HOOKS}/{stuck}/deliveries").json()["deliveries"]
    timed_out = [d for d in stuck_deliveries if d["attempts"]]
    assert 1 <= len(timed_out) <= 4  # its share: 4 of the 16 slots, queued ones included
    assert all("Timeout" in d["attempts"][0]["error"] for d in timed_out)
    assert all(d["state"] == "pending" for d in stuck_deliveries)
