"""The table of failed units of work. Why it looks as it does: docs/schema.md.

Imported by ``tables.py`` so that ``Base.metadata`` holds every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.tables import Base
from service.storage.types import BigIntId, UtcDateTime


class JobFailure(Base):
    """A unit of work that raised and waits for its retry: one model's aggregation
    (``unit`` ""), one window evaluation (``unit`` names version and window), one model's
    alerting (""). The row exists while the unit keeps failing; its next success deletes it.
    """

    __tablename__ = "job_failures"
    __table_args__ = (UniqueConstraint("job", "model_id", "unit", name="uq_job_failures_unit"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retry_at: Mapped[datetime] = mapped_column(UtcDateTime)
