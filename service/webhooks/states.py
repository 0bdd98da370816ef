"""The states of a webhook delivery and the outcomes of one attempt, one spelling for the
table (``webhook_deliveries.state``), the deliverer, the API, the export and the demo.

A delivery is ``pending`` until an attempt ends it: ``delivered`` on a 2xx answer, ``dead``
once its attempts are spent (``settings.webhook_max_attempts``), ``disabled`` when the
receiver answered 410 Gone (its endpoint is disabled too). A redelivery makes it ``pending``
again. An attempt's ``Outcome`` is one of those ends, or ``retry`` (the delivery stays
pending, due again after the back-off of ``webhooks/delivery.py``); it is also the
``outcome`` label of ``modelmon_webhook_deliveries_total``.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    DISABLED = "disabled"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    DISABLED = "disabled"


def state_after(outcome: Outcome) -> DeliveryState:
    """The delivery's state once an attempt had ``outcome``: pending again on a retry."""
    return DeliveryState.PENDING if outcome is Outcome.RETRY else DeliveryState(outcome.value)
