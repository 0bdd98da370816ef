"""Every table, in one ``Base.metadata``: the migration test and alembic compare against it.

The tables live one module per domain (``registry_tables``, ``event_tables``, ``engine_tables``,
``alerting_tables``, ``webhook_tables``, ``trust_tables``, ``upload_tables``) on ``base.Base``;
code imports the table classes from those modules. Importing this one registers all of them,
which foreign keys across domains (``alerts.model_id`` → ``models.id``) need before the first
flush.
"""

from __future__ import annotations

from service.storage import (  # noqa: F401  (imported for their tables)
    alerting_tables,
    engine_tables,
    event_tables,
    registry_tables,
    trust_tables,
    upload_tables,
    webhook_tables,
)
from service.storage.base import Base

__all__ = ["Base"]
