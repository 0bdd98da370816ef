"""What other packages read of the webhook outbox.

Callers pass their own session; the SQL stays in `webhooks/repository.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.webhooks import repository
from service.webhooks.states import DeliveryState


def delivery_counts(session: Session, states: Sequence[DeliveryState]) -> dict[str, int]:
    """The number of deliveries in each of ``states``, by state; a state with none is absent
    (one query)."""
    return repository.delivery_counts(session, states)
