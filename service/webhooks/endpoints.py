"""``/v1/webhooks``: endpoints that receive signed events, their secrets and deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from service.audit.service import Action, record
from service.context import AppContext, Context
from service.errors import ErrorBody
from service.kernel.principal import Actor, Principal
from service.storage.database import unit_of_work
from service.webhooks import service
from service.webhooks.netguard import Guard
from service.webhooks.redact import redacted_url
from service.webhooks.schemas import (
    DeliveryList,
    DeliveryView,
    EndpointCreate,
    EndpointList,
    EndpointPatch,
    EndpointView,
    EndpointWithSecret,
)
from service.webhooks.sealing import sealer_for
from service.webhooks.states import DeliveryState

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

EndpointId = Annotated[int, Path(ge=1, le=2**31 - 1, examples=[1])]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, examples=[1])]
_MALFORMED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON (the message gives the byte position)."},
}
_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown webhook endpoint or delivery."},
    422: {"model": ErrorBody, "description": "Invalid parameter; `errors` names it."},
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "Invalid body; `errors` names each field (`url`, `events.0`, …). A URL whose "
        "host resolves into a private, loopback or link-local network is refused unless "
        "MODELMON_WEBHOOK_ALLOWED_NETWORKS allows it.",
    },
}
_DISABLED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The endpoint is disabled; enable it first."},
}


def _guard(context: AppContext) -> Guard:
    return Guard.from_cidrs(context.settings.webhook_networks)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook endpoint",
    responses={**_MALFORMED, **_INVALID},
)
def create_endpoint(body: EndpointCreate, actor: Actor, context: Context) -> EndpointWithSecret:
    """Add a receiver for the listed events. The answer holds the signing `secret`: it is
    shown this once — store it where the receiver verifies signatures."""
    with unit_of_work(context.sessions) as session:
        sealer = sealer_for(context.settings)
        created = service.create(session, body, _guard(context), context.clock(), sealer)
        target = ("webhook", str(created.id))
        record(session, actor, Action.WEBHOOK_CREATED, target, context.clock(), after=_public(created))
        return created


def _public(view: EndpointView) -> dict[str, object]:
    """What the audit log keeps of an endpoint: never its secret, the URL redacted (the log
    is kept for good, and read by admins who may not need the receiver's token)."""
    public = view.model_dump(mode="json", exclude={"secret"})
    public["url"] = redacted_url(view.url)
    return public


def _shown(view: EndpointView, actor: Principal) -> EndpointView:
    """The URL whole for an admin, redacted for any other reader."""
    return view if actor.is_admin else view.model_copy(update={"url": redacted_url(view.url)})


@router.get("", summary="List webhook endpoints")
def list_endpoints(actor: Actor, context: Context) -> EndpointList:
    """Every endpoint, oldest first; secrets are never shown. Keys other than admin see each
    URL without credentials and with every query value replaced by `REDACTED`."""
    with unit_of_work(context.sessions) as session:
        listed = service.list_all(session)
    return EndpointList(endpoints=[_shown(view, actor) for view in listed.endpoints])


@router.get("/{endpoint_id}", summary="Show a webhook endpoint", responses=_UNKNOWN)
def get_endpoint(endpoint_id: EndpointId, actor: Actor, context: Context) -> EndpointView:
    """The endpoint; its URL redacted as in the list for keys other than admin."""
    with unit_of_work(context.sessions) as session:
        return _shown(service.view(service.load(session, endpoint_id)), actor)


@router.patch(
    "/{endpoint_id}", summary="Change a webhook endpoint", responses={**_MALFORMED, **_UNKNOWN, **_INVALID}
)
def patch_endpoint(
    endpoint_id: EndpointId, body: EndpointPatch, actor: Actor, context: Context
) -> EndpointView:
    """Change the URL (checked again), events, description, or enable/disable it.

    Re-enabling an endpoint that answered 410 resumes its pending deliveries; those that
    ended `disabled` can be sent again with `…/redeliver`.
    """
    with unit_of_work(context.sessions) as session:
        before = _public(service.view(service.load(session, endpoint_id)))
        after = service.patch(session, endpoint_id, body, _guard(context), context.clock())
        target = ("webhook", str(endpoint_id))
        now = context.clock()
        record(session, actor, Action.WEBHOOK_CHANGED, target, now, before=before, after=_public(after))
        return after


@router.post("/{endpoint_id}/rotate-secret", summary="Rotate the signing secret", responses=_UNKNOWN)
def rotate_secret(endpoint_id: EndpointId, actor: Actor, context: Context) -> EndpointWithSecret:
    """A new secret, shown once. For 24 h every message is signed with both the new and
    the previous secret (two space-separated signatures), so receivers can switch over."""
    with unit_of_work(context.sessions) as session:
        rotated = service.rotate_secret(session, endpoint_id, context.clock(), sealer_for(context.settings))
        target = ("webhook", str(endpoint_id))
        record(session, actor, Action.WEBHOOK_SECRET_ROTATED, target, context.clock())
        return rotated


@router.post(
    "/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a test event",
    responses={**_UNKNOWN, **_DISABLED},
)
def send_test(endpoint_id: EndpointId, actor: Actor, context: Context) -> DeliveryView:
    """Queue a `webhook.test` event to this endpoint only; follow it in `…/deliveries`."""
    with unit_of_work(context.sessions) as session:
        delivery = service.send_test(session, endpoint_id, context.clock())
        record(session, actor, Action.WEBHOOK_TESTED, ("webhook", str(endpoint_id)), context.clock())
        return delivery


@router.get("/{endpoint_id}/deliveries", summary="List deliveries and their attempts", responses=_UNKNOWN)
def list_deliveries(
    endpoint_id: EndpointId,
    actor: Actor,
    context: Context,
    state: Annotated[DeliveryState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="A delivery id (paging).")] = None,
) -> DeliveryList:
    """Newest first, each with every attempt: time, status, error, the first 1 kB of the
    answer (admin keys only: a receiver's answer may echo what it was sent or its own
    secrets; other keys get `null`) and its duration."""
    with unit_of_work(context.sessions) as session:
        listed = service.deliveries(session, endpoint_id, state=state, before=before, limit=limit)
    return listed if actor.is_admin else service.without_excerpts(listed)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again",
    responses={**_UNKNOWN, **_DISABLED},
)
def redeliver(
    endpoint_id: EndpointId, delivery_id: DeliveryId, actor: Actor, context: Context
) -> DeliveryView:
    """Make the delivery pending now with a fresh attempt budget (a dead letter, a
    delivered one, or one disabled by a 410). The `webhook-id` stays the same."""
    with unit_of_work(context.sessions) as session:
        delivery = service.redeliver(session, endpoint_id, delivery_id, context.clock())
        target = ("webhook", str(endpoint_id))
        after = {"delivery_id": delivery_id}
        record(session, actor, Action.WEBHOOK_REDELIVERED, target, context.clock(), after=after)
        return delivery
