"""Ingestion: validate a whole batch, store it atomically, count duplicates, refuse conflicts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from service.errors import Conflict, FieldError, Invalid
from service.ingestion import repository, workload
from service.ingestion.records import (
    OutcomeRecord,
    PredictionRecord,
    ReferenceRecord,
    outcome_content,
    prediction_content,
)
from service.ingestion.repository import Event
from service.ingestion.schemas import IngestResult, OutcomeResult, ReferenceResult
from service.registry import queries as registry
from service.registry.service import RegisteredModel, VersionSpec
from service.storage.event_tables import Outcome, Prediction


class Keyed(Protocol):
    @property
    def prediction_id(self) -> str: ...

    def content_hash(self) -> bytes: ...

    def comparable(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Keyed)


def _dedupe_batch(records: Sequence[R], id_field: str) -> tuple[list[tuple[int, R]], int]:
    """First occurrence of each id with its batch index, and how many repeats were identical."""
    first: dict[str, tuple[int, bytes]] = {}
    unique: list[tuple[int, R]] = []
    repeats = 0
    errors: list[FieldError] = []
    for index, record in enumerate(records):
        digest = record.content_hash()
        seen = first.get(record.prediction_id)
        if seen is None:
            first[record.prediction_id] = (index, digest)
            unique.append((index, record))
        elif seen[1] == digest:
            repeats += 1
        else:
            errors.append(
                FieldError(
                    index,
                    id_field,
                    f"id {record.prediction_id!r} appears earlier in this "
                    f"batch (index {seen[0]}) with different content",
                )
            )
    if errors:
        raise Invalid(
            f"{len(errors)} records repeat an id with different content; nothing was stored", errors
        )
    return unique, repeats


def _differing_fields(stored: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    fields: list[str] = []
    for key, value in sent.items():
        old = stored.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            fields += [
                f"{key}.{name}" for name in sorted(set(value) | set(old)) if value.get(name) != old.get(name)
            ]
        elif value != old:
            fields.append(key)
    return fields


def _refuse_conflicts(
    leftovers: list[tuple[int, R]],
    stored_hashes: dict[str, bytes],
    load_stored: Callable[[list[str]], dict[str, dict[str, Any]]],
    id_field: str,
    kind: str,
) -> None:
    clashing = [
        (i, r)
        for i, r in leftovers
        if stored_hashes.get(r.prediction_id, r.content_hash()) != r.content_hash()
    ]
    if not clashing:
        return
    stored = load_stored([r.prediction_id for _, r in clashing])
    errors = []
    for index, record in clashing:
        fields = _differing_fields(stored.get(record.prediction_id, {}), record.comparable())
        message = (
            f"{kind} {record.prediction_id!r} is already stored with different content "
            f"(differs in: {', '.join(fields) or 'content'})"
        )
        errors.append(FieldError(index, id_field, message))
    raise Conflict(f"{len(errors)} {kind}s conflict with stored ones; nothing was stored", errors)


def _stored_prediction_view(model: RegisteredModel) -> Callable[[Prediction], dict[str, Any]]:
    names = {spec.version_id: spec.version for spec in model.versions.values()}

    def view(row: Prediction) -> dict[str, Any]:
        return prediction_content(row, names.get(row.version_id))

    return view


def _store_new(
    session: Session,
    entity: Event,
    model_id: int,
    unique: list[tuple[int, R]],
    rows: list[dict[str, Any]],
    stored_view: Callable[[Any], dict[str, Any]],
    id_field: str,
) -> tuple[set[str], int]:
    """Insert the ``rows`` of the ``unique`` records whose id is new; every other record must
    equal what is stored (else 409, nothing stored). Returns (ids inserted, already stored)."""
    inserted = repository.insert_new(session, entity, rows)
    leftovers = [(i, r) for i, r in unique if r.prediction_id not in inserted]
    if leftovers:
        ids = [r.prediction_id for _, r in leftovers]
        _refuse_conflicts(
            leftovers,
            repository.stored_hashes(session, entity, model_id, ids),
            lambda keys: {
                k: stored_view(v) for k, v in repository.stored_rows(session, entity, model_id, keys).items()
            },
            id_field,
            entity.__tablename__.removesuffix("s"),
        )
    return inserted, len(leftovers)


def ingest_predictions(
    session: Session,
    model: RegisteredModel,
    records: Sequence[PredictionRecord],
    now: datetime,
    delays: list[float] | None = None,
    max_windows: int | None = None,
) -> IngestResult:
    """Store new predictions; with ``delays``, append the label delay (seconds) of each one
    that joined an outcome already stored (service/kernel/instruments.py); with
    ``max_windows``, refuse a batch that would schedule more window evaluations (workload.py)."""
    unique, repeats = _dedupe_batch(records, "id")
    if max_windows is not None:
        spread = workload.by_version((f"version {r.version.version!r}", r.event_time) for _, r in unique)
        workload.check_batch_windows(session, model, spread, max_windows, "predictions")
    rows = [repository.prediction_row(model.model_id, r, now) for _, r in unique]
    view = _stored_prediction_view(model)
    inserted, stored = _store_new(session, Prediction, model.model_id, unique, rows, view, "id")
    arrived = repository.matching_times(session, Outcome, model.model_id, list(inserted)) if inserted else {}
    if delays is not None and arrived:
        times = {r.prediction_id: r.event_time for _, r in unique}
        delays.extend((at - times[key]).total_seconds() for key, at in arrived.items())
    return IngestResult(accepted=len(inserted), duplicates=repeats + stored, outcomes_joined=len(arrived))


def ingest_outcomes(
    session: Session,
    model: RegisteredModel,
    records: Sequence[OutcomeRecord],
    now: datetime,
    delays: list[float] | None = None,
    max_windows: int | None = None,
) -> OutcomeResult:
    """Store new outcomes; with ``delays``, append the label delay (seconds) of each one that
    joined a stored prediction; with ``max_windows``, refuse a batch whose joined predictions
    would schedule more window evaluations (their labels revise those windows)."""
    unique, repeats = _dedupe_batch(records, "prediction_id")
    rows = [repository.outcome_row(model.model_id, r, now) for _, r in unique]
    inserted, stored = _store_new(
        session, Outcome, model.model_id, unique, rows, outcome_content, "prediction_id"
    )
    made = repository.matching_times(session, Prediction, model.model_id, list(inserted)) if inserted else {}
    if max_windows is not None and made:
        joined_times = workload.by_version(("the predictions they join", at) for at in made.values())
        workload.check_batch_windows(session, model, joined_times, max_windows, "outcomes")
    if delays is not None:
        delays.extend((now - at).total_seconds() for at in made.values())
    joined = len(made)
    return OutcomeResult(
        accepted=len(inserted), duplicates=repeats + stored, joined=joined, waiting=len(inserted) - joined
    )


def reference_hash(records: Sequence[ReferenceRecord]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.content_hash())
    return digest.hexdigest()


def store_reference(
    session: Session, spec: VersionSpec, records: Sequence[ReferenceRecord], *, replace: bool, now: datetime
) -> ReferenceResult:
    """Store the reference of a version; replacing a different one must be asked for explicitly."""
    content_hash = reference_hash(records)
    current = registry.lock_active_reference(session, spec.version_id)
    if current is not None and current.content_hash == content_hash:
        return ReferenceResult(
            accepted=0,
            duplicates=len(records),
            version=spec.version,
            rows=current.row_count,
            content_hash=content_hash,
            created_at=current.created_at,
            replaced=False,
        )
    if current is not None and not replace:
        raise Conflict(
            f"version {spec.version!r} already has a reference ({current.row_count} rows, sha256 "
            f"{current.content_hash[:12]}…); send ?replace=true to replace it",
            [FieldError(None, "replace", "must be true to replace an existing reference")],
        )
    reference = registry.replace_reference(session, spec.version_id, records, content_hash, now, current)
    return ReferenceResult(
        accepted=len(records),
        duplicates=0,
        version=spec.version,
        rows=len(records),
        content_hash=content_hash,
        created_at=reference.created_at,
        replaced=current is not None,
    )
