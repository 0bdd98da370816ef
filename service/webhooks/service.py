"""Webhook endpoints and the outbox: what the API and the alerting code call.

Everything here runs inside the caller's transaction and only flushes.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from service.errors import Conflict, FieldError, Invalid, NotFound
from service.storage.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from service.webhooks import repository
from service.webhooks.netguard import Guard, RefusedUrl
from service.webhooks.schemas import (
    EVENT_TYPES,
    TEST_EVENT,
    AttemptView,
    DeliveryList,
    DeliveryView,
    EndpointCreate,
    EndpointList,
    EndpointPatch,
    EndpointView,
    EndpointWithSecret,
)
from service.webhooks.sealing import Sealer, is_sealed
from service.webhooks.states import DeliveryState

# 32 random bytes = 256 bits, the HMAC-SHA256 block's worth of key; Standard Webhooks
# accepts 24 to 64.
SECRET_BYTES = 32
# How long the secret before a rotation keeps signing: a day for receivers to deploy the new one.
ROTATION_OVERLAP = timedelta(hours=24)
KNOWN_EVENTS = frozenset((*EVENT_TYPES, TEST_EVENT))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    # 16 random bytes as 32 hex digits: unique without coordination between workers.
    return "msg_" + secrets.token_hex(16)


def iso_utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def enqueue(
    session: Session,
    *,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
    idempotency_key: str | None = None,
    endpoint_id: int | None = None,
) -> WebhookMessage | None:
    """Write one message and a pending delivery to every enabled endpoint subscribed to
    ``event_type`` (or only to ``endpoint_id``, whatever it subscribed to).

    Returns None, writing nothing, when ``idempotency_key`` was used before — also when
    another transaction holding that key commits first. Call it in the transaction of
    the change the event reports, so both commit or neither does.
    """
    if event_type not in KNOWN_EVENTS:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    values = {
        "message_id": new_message_id(),
        "event_type": event_type,
        "idempotency_key": idempotency_key,
        "payload": {"type": event_type, "timestamp": iso_utc(now), "data": data},
        "created_at": now,
    }
    message_pk = repository.insert_message(session, values)
    if message_pk is None:
        return None
    endpoints = repository.enabled_endpoints(session, endpoint_id)
    targets = [e.id for e in endpoints if endpoint_id is not None or event_type in e.events]
    repository.add_deliveries(session, message_pk, targets, now)
    return repository.get_message(session, message_pk)


def check_url(url: str, guard: Guard) -> None:
    try:
        guard.vet_url(url)
    except RefusedUrl as refused:
        raise Invalid("the webhook URL is refused", [FieldError(None, "url", str(refused))]) from refused


def check_events(events: Sequence[str]) -> None:
    errors = [
        FieldError(None, f"events.{i}", f"unknown event type {name!r}; one of {', '.join(EVENT_TYPES)}")
        for i, name in enumerate(events)
        if name not in EVENT_TYPES
    ]
    if errors:
        raise Invalid("the webhook subscribes to unknown events", errors)


def _distinct(events: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(events))


def create(
    session: Session, body: EndpointCreate, guard: Guard, now: datetime, sealer: Sealer
) -> EndpointWithSecret:
    check_events(body.events)
    check_url(body.url, guard)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=body.url,
        events=_distinct(body.events),
        description=body.description,
        secret="",  # sealed below, once the id it is bound to exists
        previous_secret=None,
        previous_expires_at=None,
        enabled=True,
        disabled_reason=None,
        created_at=now,
        updated_at=now,
    )
    repository.add_endpoint(session, endpoint)
    endpoint.secret = sealer.seal(secret, endpoint.id)
    session.flush()
    return EndpointWithSecret(**view(endpoint).model_dump(), secret=secret)


def load(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = repository.get_endpoint(session, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist; list them with GET /v1/webhooks")
    return endpoint


def view(endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        previous_secret_expires_at=endpoint.previous_expires_at,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def list_all(session: Session) -> EndpointList:
    return EndpointList(endpoints=[view(e) for e in repository.list_endpoints(session)])


def patch(
    session: Session, endpoint_id: int, body: EndpointPatch, guard: Guard, now: datetime
) -> EndpointView:
    endpoint = load(session, endpoint_id)
    if body.events is not None:
        check_events(body.events)
        endpoint.events = _distinct(body.events)
    if body.url is not None:
        check_url(body.url, guard)
        endpoint.url = body.url
    if body.description is not None:
        endpoint.description = body.description
    if body.enabled is not None:
        endpoint.enabled = body.enabled
        endpoint.disabled_reason = None if body.enabled else "disabled through the API"
    endpoint.updated_at = now
    session.flush()
    return view(endpoint)


def rotate_secret(session: Session, endpoint_id: int, now: datetime, sealer: Sealer) -> EndpointWithSecret:
    """A new secret; the current one keeps signing alongside it for ``ROTATION_OVERLAP``.

    A second rotation within the overlap drops the oldest secret: only one previous
    secret is kept.
    """
    endpoint = load(session, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_expires_at = now + ROTATION_OVERLAP
    secret = new_secret()
    endpoint.secret = sealer.seal(secret, endpoint.id)
    endpoint.updated_at = now
    session.flush()
    return EndpointWithSecret(**view(endpoint).model_dump(), secret=secret)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime, sealer: Sealer) -> tuple[str, ...]:
    """The current secret, and the previous one while its overlap lasts, decrypted."""
    current = sealer.open(endpoint.secret, endpoint.id)
    previous, expires = endpoint.previous_secret, endpoint.previous_expires_at
    if previous is not None and expires is not None and expires > now:
        return current, sealer.open(previous, endpoint.id)
    return (current,)


def seal_plaintext_secrets(session: Session, sealer: Sealer) -> int:
    """Encrypt the secrets stored before encryption at rest (``modelmon migrate`` runs it);
    how many endpoints it sealed."""
    sealed = 0
    for endpoint in repository.list_endpoints(session):
        if not is_sealed(endpoint.secret):
            endpoint.secret = sealer.seal(endpoint.secret, endpoint.id)
            sealed += 1
        if endpoint.previous_secret is not None and not is_sealed(endpoint.previous_secret):
            endpoint.previous_secret = sealer.seal(endpoint.previous_secret, endpoint.id)
    session.flush()
    return sealed


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        reason = endpoint.disabled_reason or "disabled"
        raise Conflict(
            f"webhook endpoint {endpoint.id} is disabled ({reason}); "
            'enable it first with PATCH {"enabled": true}'
        )


def send_test(session: Session, endpoint_id: int, now: datetime) -> DeliveryView:
    """Enqueue a ``webhook.test`` ping to this endpoint only."""
    endpoint = load(session, endpoint_id)
    _require_enabled(endpoint)
    data = {"endpoint_id": endpoint.id, "message": "test event from modelmon; no action needed"}
    message = enqueue(session, event_type=TEST_EVENT, data=data, now=now, endpoint_id=endpoint.id)
    assert message is not None  # no idempotency key
    delivery = repository.delivery_of(session, message.id, endpoint.id)
    assert delivery is not None
    return delivery_view(delivery, message, [])


def delivery_view(
    delivery: WebhookDelivery, message: WebhookMessage, attempts: list[AttemptView]
) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        message_id=message.message_id,
        event_type=message.event_type,
        state=delivery.state,
        attempts_made=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        payload=message.payload,
        attempts=attempts,
    )


def deliveries(
    session: Session, endpoint_id: int, *, state: DeliveryState | None, before: int | None, limit: int
) -> DeliveryList:
    load(session, endpoint_id)
    rows = repository.deliveries_page(session, endpoint_id, state=state, before=before, limit=limit)
    attempts = repository.attempts_of(session, [delivery.id for delivery, _ in rows])
    views = [
        delivery_view(delivery, message, [_attempt_view(a) for a in attempts[delivery.id]])
        for delivery, message in rows
    ]
    next_before = rows[-1][0].id if len(rows) == limit else None
    return DeliveryList(deliveries=views, next_before=next_before)


def without_excerpts(listed: DeliveryList) -> DeliveryList:
    """The same page with every attempt's ``response_excerpt`` set to None."""
    deliveries = [
        delivery.model_copy(
            update={"attempts": [a.model_copy(update={"response_excerpt": None}) for a in delivery.attempts]}
        )
        for delivery in listed.deliveries
    ]
    return listed.model_copy(update={"deliveries": deliveries})


def _attempt_view(row: WebhookAttempt) -> AttemptView:
    return AttemptView(
        attempted_at=row.attempted_at,
        status_code=row.status_code,
        error=row.error,
        response_excerpt=row.response_excerpt,
        duration_ms=row.duration_ms,
    )


def redeliver(session: Session, endpoint_id: int, delivery_id: int, now: datetime) -> DeliveryView:
    """Make a delivery pending again, due now, with a fresh attempt budget; the message
    (and so its ``webhook-id``) is the same, so receivers can recognise the repeat."""
    endpoint = load(session, endpoint_id)
    _require_enabled(endpoint)
    delivery = repository.get_delivery(session, endpoint_id, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} of webhook endpoint {endpoint_id} does not exist")
    delivery.state = DeliveryState.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    session.flush()
    message = repository.get_message(session, delivery.message_id)
    attempts = repository.attempts_of(session, [delivery.id])[delivery.id]
    return delivery_view(delivery, message, [_attempt_view(a) for a in attempts])
