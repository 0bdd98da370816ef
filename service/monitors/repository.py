"""SQL of monitor configurations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.engine_tables import Monitor


def stored_config(session: Session, model_id: int) -> tuple[dict[str, Any], datetime] | None:
    row = session.get(Monitor, model_id)
    return None if row is None else (row.config, row.updated_at)


def all_configs(session: Session) -> dict[int, dict[str, Any]]:
    return {int(m): c for m, c in session.execute(select(Monitor.model_id, Monitor.config)).all()}


def save_config(session: Session, model_id: int, config: dict[str, Any], now: datetime) -> None:
    row = session.get(Monitor, model_id, with_for_update=True)
    if row is None:
        session.add(Monitor(model_id=model_id, config=config, updated_at=now))
    else:
        row.config, row.updated_at = config, now
    session.flush()
