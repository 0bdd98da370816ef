"""What other packages read of the webhook outbox.

Callers pass their own session; the SQL stays in `webhooks/repository.py`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.webhooks import repository


def delivery_counts(session: Session) -> dict[str, int]:
    """Deliveries waiting for an attempt ("pending") and dead-lettered ones ("dead"), by state;
    a state with none is absent (one query)."""
    return repository.delivery_counts(session)
