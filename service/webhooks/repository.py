"""SQL of webhook endpoints, the outbox (messages and deliveries) and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from service.storage.claim import skip_locked
from service.storage.dialect import insert_ignoring_duplicates
from service.storage.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from service.webhooks.states import DeliveryState


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id)


def list_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()


def add_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    session.add(endpoint)
    session.flush()


def insert_message(session: Session, values: dict[str, Any]) -> int | None:
    """Insert one message; None when its ``idempotency_key`` is taken.

    ``ON CONFLICT DO NOTHING``: a second transaction inserting the same key on Postgres
    waits on the unique index until the first ends, then inserts nothing — no error to
    catch and no savepoint needed.
    """
    table = WebhookMessage.__table__
    statement = insert_ignoring_duplicates(session, table, ["idempotency_key"])
    return session.execute(statement.values(values).returning(table.c.id)).scalar_one_or_none()


def enabled_endpoints(session: Session, endpoint_id: int | None) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
    if endpoint_id is not None:
        query = query.where(WebhookEndpoint.id == endpoint_id)
    return session.scalars(query.order_by(WebhookEndpoint.id)).all()


def add_deliveries(session: Session, message_pk: int, endpoint_ids: Sequence[int], now: datetime) -> None:
    rows = [
        {
            "message_id": message_pk,
            "endpoint_id": endpoint_id,
            "state": DeliveryState.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in endpoint_ids
    ]
    if rows:
        session.execute(insert(WebhookDelivery), rows)


def delivery_of(session: Session, message_pk: int, endpoint_id: int) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(
        WebhookDelivery.message_id == message_pk, WebhookDelivery.endpoint_id == endpoint_id
    )
    return session.scalars(query).one_or_none()


def get_delivery(session: Session, endpoint_id: int, delivery_id: int) -> WebhookDelivery | None:
    delivery = session.get(WebhookDelivery, delivery_id)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint_id else None


def get_message(session: Session, message_pk: int) -> WebhookMessage:
    message = session.get(WebhookMessage, message_pk)
    assert message is not None  # the foreign key guarantees it
    return message


def deliveries_page(
    session: Session, endpoint_id: int, *, state: DeliveryState | None, before: int | None, limit: int
) -> Sequence[tuple[WebhookDelivery, WebhookMessage]]:
    """An endpoint's deliveries, newest (highest id) first, below ``before``."""
    query = (
        select(WebhookDelivery, WebhookMessage)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit)).all()


def attempts_of(session: Session, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
    )
    for row in session.scalars(query):
        found[row.delivery_id].append(row)
    return found


def lock_due(
    session: Session, *, now: datetime, limit: int, per_endpoint: int
) -> Sequence[tuple[WebhookDelivery, WebhookMessage, WebhookEndpoint]]:
    """Lock up to ``limit`` due deliveries of enabled endpoints, at most ``per_endpoint``
    of each, oldest due first; :func:`lease` then takes those the caller keeps.

    The per-endpoint cap keeps one slow receiver (each request hanging until the timeout)
    from filling every slot of the worker. The candidates are picked by a window function
    without locks, then locked with ``FOR UPDATE … SKIP LOCKED`` (Postgres; SQLite has one
    writer anyway) re-checking that they are still due, so concurrent workers claim
    disjoint rows.
    """
    rank = (
        func.row_number()
        .over(
            partition_by=WebhookDelivery.endpoint_id,
            order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id),
        )
        .label("rank")
    )
    ranked = (
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at, rank)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(*_due(now), WebhookEndpoint.enabled.is_(True))
        .subquery()
    )
    picked = (
        select(ranked.c.id)
        .where(ranked.c.rank <= per_endpoint)
        .order_by(ranked.c.next_attempt_at, ranked.c.id)
        .limit(limit)
    )
    query = (
        select(WebhookDelivery, WebhookMessage, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.id.in_(picked), *_due(now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
    )
    return session.execute(skip_locked(query, of=WebhookDelivery)).all()


def lease(session: Session, deliveries: Sequence[WebhookDelivery], lease_until: datetime) -> None:
    """Move ``next_attempt_at`` to the lease's end: other workers skip the rows once this
    transaction commits, and they come due again if this worker dies before recording."""
    for delivery in deliveries:
        delivery.next_attempt_at = lease_until
    session.flush()


def _due(now: datetime) -> tuple[Any, ...]:
    return (WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.next_attempt_at <= now)


def held_leases(session: Session, leases: dict[int, datetime]) -> set[int]:
    """The deliveries among ``leases`` (id → lease end) still held by those leases, locked
    until the transaction ends.

    A lease is gone when the delivery was redelivered or another worker re-claimed it
    after the lease expired; its attempt is still logged but decides nothing.
    """
    if not leases:
        return set()
    query = (
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.id.in_(list(leases)), WebhookDelivery.state == DeliveryState.PENDING)
        .with_for_update()
    )
    return {row.id for row in session.execute(query) if row.next_attempt_at == leases[row.id]}


def update_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key (one executemany): each row holds ``id`` and the same columns."""
    if rows:
        session.execute(update(WebhookDelivery), rows)


def add_attempts(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(WebhookAttempt), rows)


def disable_endpoint(session: Session, endpoint_id: int, reason: str, now: datetime) -> None:
    statement = (
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)


def delivery_counts(session: Session, states: Sequence[DeliveryState]) -> dict[str, int]:
    """The number of deliveries in each of ``states``, by state."""
    query = (
        select(WebhookDelivery.state, func.count())
        .where(WebhookDelivery.state.in_(states))
        .group_by(WebhookDelivery.state)
    )
    return {str(s): int(c) for s, c in session.execute(query)}
