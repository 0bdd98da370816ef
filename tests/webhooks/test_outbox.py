"""The outbox under concurrency: one message per idempotency key across transactions,
disjoint claims by concurrent workers, and leases that bring back a dead worker's claims."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.storage.database import create_database_engine, create_session_factory, unit_of_work
from service.storage.webhook_tables import WebhookDelivery, WebhookEndpoint, WebhookMessage
from service.webhooks import repository
from service.webhooks.jobs import Deliverer
from service.webhooks.service import enqueue
from tests.conftest import NOW
from tests.webhooks.receivers import Receiver
from tests.windows.scenario import MutableClock


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_database_engine(Settings(database_url=postgres_url))
    yield create_session_factory(engine)
    engine.dispose()


def add_endpoint(sessions: sessionmaker[Session], url: str = "http://127.0.0.1:9/hook") -> int:
    with unit_of_work(sessions) as session:
        endpoint = WebhookEndpoint(
            url=url, events=["alert.firing"], description="", secret="whsec_" + "A" * 43,
            previous_secret=None, previous_expires_at=None, enabled=True, disabled_reason=None,
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add(endpoint)
        session.flush()
        return endpoint.id


def claim(session: Session, lease_until: datetime, limit: int) -> list[WebhookDelivery]:
    deliveries = [row[0] for row in repository.lock_due(session, now=NOW, limit=limit, per_endpoint=limit)]
    repository.lease(session, deliveries, lease_until)
    return deliveries


def _waiting_on_a_lock(sessions: sessionmaker[Session]) -> bool:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    with unit_of_work(sessions) as session:
        return bool(session.scalar(query))


@pytest.mark.postgres
def test_concurrent_enqueues_with_one_key_write_one_message(pg_sessions: sessionmaker[Session]) -> None:
    add_endpoint(pg_sessions)
    first_flushed, release = threading.Event(), threading.Event()
    results: dict[str, WebhookMessage | None] = {}

    def first() -> None:
        with unit_of_work(pg_sessions) as session:
            results["first"] = enqueue(
                session, event_type="alert.firing", data={}, now=NOW, idempotency_key="k"
            )
            first_flushed.set()
            release.wait(10)

    def second() -> None:
        first_flushed.wait(10)
        with unit_of_work(pg_sessions) as session:
            results["second"] = enqueue(
                session, event_type="alert.firing", data={}, now=NOW, idempotency_key="k"
            )

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while not _waiting_on_a_lock(pg_sessions) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the second transaction waits on the first's unique key
    release.set()
    for thread in threads:
        thread.join(10)
    assert results["first"] is not None and results["second"] is None
    with unit_of_work(pg_sessions) as session:
        assert session.scalar(select(func.count()).select_from(WebhookMessage)) == 1


@pytest.mark.postgres
def test_concurrent_workers_claim_disjoint_deliveries(pg_sessions: sessionmaker[Session]) -> None:
    add_endpoint(pg_sessions)
    with unit_of_work(pg_sessions) as session:
        for _ in range(4):
            enqueue(session, event_type="alert.firing", data={}, now=NOW)
    lease = NOW + timedelta(minutes=1)
    with unit_of_work(pg_sessions) as holding:
        mine = claim(holding, lease, limit=2)
        with unit_of_work(pg_sessions) as other:  # runs while the first still holds its rows
            theirs = claim(other, lease, limit=10)
    assert len(mine) == 2 and len(theirs) == 2
    assert {d.id for d in mine}.isdisjoint({d.id for d in theirs})


def test_a_claim_whose_worker_died_comes_due_when_its_lease_ends(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: MutableClock,
    receivers: Callable[..., Receiver],
    deliverer: Callable[..., Deliverer],
) -> None:
    receiver = receivers()
    add_endpoint(sessions, receiver.url)
    with unit_of_work(sessions) as session:
        enqueue(session, event_type="alert.firing", data={}, now=NOW)
    worker = deliverer()
    lease = worker.lease(100)
    with unit_of_work(sessions) as session:  # a worker claims, then dies before sending
        assert len(claim(session, NOW + lease, limit=100)) == 1
    assert worker.run_once() == 0
    clock.at += lease
    assert worker.run_once() == 1
    assert len(receiver.delivered) == 1
