"""What other packages read of the monitor configurations.

Callers pass their own session; the SQL stays in `monitors/repository.py`, and parsing a
stored body is `monitors/service.py: config_from_stored` (a stored body that no longer
validates fails in the caller's unit of work, where it is recorded as that model's failure).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.monitors import repository


def all_configs(session: Session) -> dict[int, dict[str, Any]]:
    """Every stored configuration body (JSON, as stored) by model id, in one query."""
    return repository.all_configs(session)
