"""Erasure of a subject's raw events, and deletion of raw events past the retention period.

Both delete only raw rows (``predictions``, ``outcomes``). Bucket profiles — counts and sums
per time bucket, with no record-level value and no subject id — and evaluation results are
kept: they are what windows are evaluated from, and they identify no one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from service.audit.service import Action, record
from service.kernel.principal import Principal
from service.privacy import repository
from service.registry import queries as registry


@dataclass(frozen=True, slots=True)
class Erasure:
    subject: str  # the pseudonym: the raw id is not kept, not even in the audit log
    predictions: int
    outcomes: int


def erase_subject(
    session: Session, actor: Principal, subject_id: str, pseudonymise: Callable[[str], str], now: datetime
) -> Erasure:
    """Delete every prediction of the subject and the outcomes of those predictions, and
    record it in the audit log. Rows stored before pseudonymisation existed (schema 0003 and
    older) hold the raw id, so both forms are matched."""
    pseudonym = pseudonymise(subject_id)
    rows = repository.subject_predictions(session, [pseudonym, subject_id])
    predictions, outcomes = repository.delete_events(session, rows)
    erasure = Erasure(pseudonym, predictions, outcomes)
    after = {"predictions_erased": predictions, "outcomes_erased": outcomes}
    record(session, actor, Action.SUBJECT_ERASED, ("subject", pseudonym), now, after=after)
    return erasure


@dataclass(frozen=True, slots=True)
class RetentionPass:
    predictions: int
    outcomes: int
    more: bool  # a batch was full: call again


def retention_pass(session: Session, now: datetime, retention_days: int, batch: int) -> RetentionPass:
    """Delete up to ``batch`` predictions older than ``retention_days`` (with their outcomes)
    and ``batch`` outcomes received before then; on Postgres, a partition wholly older than
    that is dropped instead, whatever its size (storage/partitions.py).

    By time alone: a row past retention is deleted whether or not aggregation folded it, so a
    stuck or failing aggregation never keeps personal data past the period. An event sent
    just inside the event horizon (default: the retention period) is folded seconds after it
    arrives, normally well before the next hourly retention run deletes it.
    """
    cutoff = now - timedelta(days=retention_days)
    # Postgres: whole partitions first, one per transaction; the one straddling the cutoff is
    # then trimmed row by row below, as every table is on SQLite.
    dropped = repository.drop_expired_partition(session, cutoff)
    if dropped is not None:
        return RetentionPass(*dropped, more=True)
    predictions = outcomes = 0
    full = False
    for model_id in registry.model_ids(session):
        left = batch - predictions
        if left <= 0:
            full = True
            break
        rows = repository.expired_predictions(session, model_id, cutoff, left)
        deleted, joined = repository.delete_events(session, rows)
        predictions += deleted
        outcomes += joined
        full = full or len(rows) == left
    orphans = repository.delete_expired_outcomes(session, cutoff, batch)
    return RetentionPass(predictions, outcomes + orphans, full or orphans == batch)
