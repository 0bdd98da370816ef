"""Reading and changing a model's monitor configuration."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from service.errors import Conflict, FieldError, Invalid
from service.monitors import repository
from service.monitors.schemas import MonitorConfig
from service.registry.service import RegisteredModel
from service.stats.disparities import DISPARITIES


def config_from_stored(stored: dict[str, Any] | None) -> MonitorConfig:
    return MonitorConfig() if stored is None else MonitorConfig.model_validate(stored)


# The sections a window's evaluation depends on, named one by one (alerting and retraining
# decide what happens to a verdict, not the verdict). A new section enters the hash by being
# listed here.
EVALUATED_SECTIONS = (
    "window",
    "step",
    "bucket",
    "reference",
    "bootstrap_rows",
    "min_rows",
    "label_coverage",
    "label_wait",
    "decision",
    "confidence",
    "drift",
    "data_quality",
    "performance",
    "fairness",
    "explanation",
)
# Fields added after hashes were first stored: they enter the hash only when set away from their
# default, so every configuration stored before them keeps the hash its window runs cite. The
# bound of a disparity whose table default is None (reported, never alerted on) decides nothing
# until a monitor sets it, so adding such a disparity to the table keeps every stored hash.
ADDED_LATER: dict[str, tuple[str, ...]] = {
    "drift": ("numeric_method", "categorical_method", "multivariate"),
    "fairness": tuple(d.setting for d in DISPARITIES if d.default_bound is None),
}


def _evaluated(config: MonitorConfig) -> dict[str, Any]:
    body = config.model_dump(mode="json", include=set(EVALUATED_SECTIONS))
    for section, fields in ADDED_LATER.items():
        default = type(getattr(config, section))()
        for field in fields:
            if field in body[section] and getattr(getattr(config, section), field) == getattr(default, field):
                del body[section][field]
    return body


def config_hash(config: MonitorConfig) -> str:
    """sha256 of the canonical JSON (sorted keys) of ``EVALUATED_SECTIONS``, cited by every
    window run."""
    body = orjson.dumps(_evaluated(config), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def load_config(session: Session, model_id: int) -> tuple[MonitorConfig, datetime | None]:
    """The stored configuration (the defaults without one); 409 when it no longer validates
    (stored before a stricter check): the fix is to PUT a valid one."""
    stored = repository.stored_config(session, model_id)
    if stored is None:
        return MonitorConfig(), None
    try:
        return config_from_stored(stored[0]), stored[1]
    except ValueError as error:  # pydantic's ValidationError
        problem = FieldError(None, "config", " ".join(str(error).split())[:500])
        raise Conflict(
            "the model's stored monitor configuration no longer validates; PUT a valid one to "
            "/v1/models/{name}/monitor",
            [problem],
        ) from error


def check_against_model(config: MonitorConfig, model: RegisteredModel) -> None:
    """422 for names the model's newest version does not have (features, attributes)."""
    spec = model.latest
    errors: list[FieldError] = []
    for i, name in enumerate(config.drift.features or []):
        if name not in spec.feature_types:
            errors.append(FieldError(None, f"drift.features.{i}", f"unknown feature {name!r}"))
    for i, combo in enumerate(config.fairness.intersections or []):
        for name in combo:
            if name not in spec.protected_attributes:
                errors.append(
                    FieldError(None, f"fairness.intersections.{i}", f"unknown protected attribute {name!r}")
                )
    if errors:
        raise Invalid("the monitor configuration names what the model does not have", errors)


def stored_document(session: Session, model_id: int) -> dict[str, Any] | None:
    """The configuration as stored, valid or not (the audit log's ``before``); None without one."""
    stored = repository.stored_config(session, model_id)
    return None if stored is None else stored[0]


def save(session: Session, model: RegisteredModel, config: MonitorConfig, now: datetime) -> None:
    check_against_model(config, model)
    repository.save_config(session, model.model_id, config.model_dump(mode="json"), now)
