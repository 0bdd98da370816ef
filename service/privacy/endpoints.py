"""``DELETE /v1/subjects/{subject_id}``: erase one person's raw events (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from service.context import Context
from service.errors import ErrorBody
from service.kernel.principal import Actor
from service.privacy.pseudonym import settings_pseudonymiser
from service.privacy.schemas import ErasureView
from service.privacy.service import erase_subject
from service.storage.base import ID_LENGTH
from service.storage.database import unit_of_work

router = APIRouter(prefix="/v1/subjects", tags=["privacy"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "The subject id is empty or too long."},
}
SubjectId = Annotated[str, Path(min_length=1, max_length=ID_LENGTH, examples=["applicant-10482"])]


@router.delete("/{subject_id}", summary="Erase a subject's records", responses=_ERRORS)
def erase(subject_id: SubjectId, actor: Actor, context: Context) -> ErasureView:
    """Delete every stored prediction sent with this `subject_id`, and the outcomes of those
    predictions, in one transaction, and record the erasure (by pseudonym) in the audit log.
    Aggregate counts already folded from them are kept: they identify no one. Repeating the
    call is safe and erases whatever arrived since."""
    now = context.clock()
    pseudonymise = settings_pseudonymiser(context.settings)
    with unit_of_work(context.sessions) as session:
        erasure = erase_subject(session, actor, subject_id, pseudonymise, now)
    return ErasureView(
        subject=erasure.subject,
        predictions_erased=erasure.predictions,
        outcomes_erased=erasure.outcomes,
        erased_at=now,
    )
