"""Bodies of the webhook API: endpoints, secrets, deliveries and their attempts.

Event types are checked by the service rather than by an enum here, so that an unknown
one is reported as ``events.0`` like every other per-item error of modelmon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from service.names import DisplayName

# What an endpoint may subscribe to; the `data` of each is described in docs/alerting.md.
EVENT_TYPES = (
    "alert.firing",
    "alert.resolved",
    "model.retrain_requested",
    "incident.opened",
    "incident.resolved",
)
# Sent only by `POST /v1/webhooks/{id}/test`, to that endpoint, whatever it subscribed to.
TEST_EVENT = "webhook.test"

EventName = Annotated[str, Field(max_length=64, json_schema_extra={"enum": list(EVENT_TYPES)})]
Url = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://hooks.example.com/modelmon"])]
Description = Annotated[DisplayName, Field(max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointCreate(_Strict):
    """A receiver of signed events."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/modelmon",
                    "events": ["alert.firing", "alert.resolved"],
                    "description": "on-call bridge",
                }
            ]
        },
    )

    url: Url
    events: list[EventName] = Field(min_length=1, description="One or more of " + ", ".join(EVENT_TYPES))
    description: Description = ""


class EndpointPatch(_Strict):
    """The fields to change; omitted ones stay as they are."""

    url: Url | None = None
    events: list[EventName] | None = Field(None, min_length=1)
    description: Description | None = None
    enabled: StrictBool | None = Field(
        None, description="false stops deliveries (they wait); true resumes them and clears disabled_reason."
    )


_ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "url": "https://hooks.example.com/modelmon",
    "events": ["alert.firing", "alert.resolved"],
    "description": "on-call bridge",
    "enabled": True,
    "disabled_reason": None,
    "previous_secret_expires_at": None,
    "created_at": "2026-11-22T12:00:00Z",
    "updated_at": "2026-11-22T12:00:00Z",
}


_SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1lTbt/rP0d8="


class EndpointView(_Strict):
    """An endpoint as the API shows it: never with its signing secret."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [_ENDPOINT_EXAMPLE]}
    )

    id: int
    url: str = Field(
        description="Whole for admin keys; for other keys without `user:password@` and with every query "
        "value replaced by `REDACTED`."
    )
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="Why modelmon disabled it (the receiver answered 410).")
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs alongside the new one."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointView):
    """The endpoint and its signing secret, answered once: on creation and on rotation."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{**_ENDPOINT_EXAMPLE, "secret": _SECRET_EXAMPLE}]},
    )

    secret: str = Field(
        description="Standard Webhooks key: `whsec_` + base64 of 32 random bytes. Shown only in this answer."
    )


class EndpointList(_Strict):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"endpoints": [_ENDPOINT_EXAMPLE]}]}
    )

    endpoints: list[EndpointView]


class AttemptView(_Strict):
    attempted_at: datetime
    status_code: int | None = Field(description="null when no answer came (network error, timeout, refused).")
    error: str | None
    response_excerpt: str | None = Field(
        description="The first 1,024 bytes of the answer, as text; null for keys other than admin."
    )
    duration_ms: float


class DeliveryView(_Strict):
    """One message to one endpoint, with every attempt (oldest first)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "message_id": "msg_5f0c2b9e4d7a4c1f9b3e8a6d2c0f1e7b",
                    "event_type": "alert.firing",
                    "state": "pending",
                    "attempts_made": 1,
                    "next_attempt_at": "2026-11-22T12:00:16Z",
                    "last_status": 503,
                    "last_error": "HTTP 503",
                    "delivered_at": None,
                    "created_at": "2026-11-22T12:00:00Z",
                    "payload": {"type": "alert.firing", "timestamp": "2026-11-22T12:00:00Z", "data": {}},
                    "attempts": [
                        {
                            "attempted_at": "2026-11-22T12:00:01Z",
                            "status_code": 503,
                            "error": "HTTP 503",
                            "response_excerpt": "upstream unavailable",
                            "duration_ms": 12.5,
                        }
                    ],
                }
            ]
        },
    )

    id: int
    message_id: str = Field(description="The `webhook-id` header; the same on every attempt and redelivery.")
    event_type: str
    state: str = Field(description="pending, delivered, dead (attempts exhausted) or disabled (410).")
    attempts_made: int = Field(description="Attempts since it was created or last redelivered.")
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]
    attempts: list[AttemptView]


class DeliveryList(_Strict):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"deliveries": [], "next_before": None}]}
    )

    deliveries: list[DeliveryView] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next page; null on the last.")
