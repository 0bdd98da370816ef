"""How window verdicts become alerts, and when alerts request retraining: the ``alerting``
and ``retraining`` parts of a model's monitor configuration.

Neither changes what a window evaluates to, so neither is part of the configuration hash
that evaluations cite.

These are the API's schema; alerting reads the frozen ``AlertingPolicy`` built from them
(``service/monitors/plans.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from service.kernel.durations import DAY, HOUR, Duration


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FamilyRule(_Strict):
    """When one family's figures fire and resolve.

    Fires after ``fire_after`` consecutive alerting windows. Resolves only when the value is
    back past the *resolve threshold* = threshold moved inside the healthy side by
    ``resolve_margin`` × |threshold| (drift score threshold 0.1, margin 0.2 → resolves below
    0.08): a value wobbling around the threshold keeps one alert instead of twenty.
    """

    enabled: StrictBool = True
    fire_after: Annotated[int, Field(ge=1, le=100)] = 1
    resolve_margin: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    severity: Severity = Severity.WARNING


# Each family's defaults; a partial rule in a configuration ({"fire_after": 3}) keeps the rest.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "drift": {"fire_after": 2, "severity": Severity.WARNING},
    "data_quality": {"fire_after": 1, "severity": Severity.CRITICAL},
    "performance": {"fire_after": 1, "severity": Severity.CRITICAL},
    "estimated_performance": {"fire_after": 2, "severity": Severity.WARNING},
    "fairness": {"fire_after": 2, "severity": Severity.CRITICAL},
    "explanation": {"fire_after": 2, "severity": Severity.WARNING},
}


def _rule(family: str) -> FamilyRule:
    return FamilyRule(**FAMILY_DEFAULTS[family])


class AlertingSettings(_Strict):
    """Per family: consecutive windows to fire, hysteresis and severity; and the no-data rule."""

    drift: FamilyRule = Field(default_factory=lambda: _rule("drift"))
    data_quality: FamilyRule = Field(default_factory=lambda: _rule("data_quality"))
    performance: FamilyRule = Field(default_factory=lambda: _rule("performance"))
    estimated_performance: FamilyRule = Field(default_factory=lambda: _rule("estimated_performance"))
    fairness: FamilyRule = Field(default_factory=lambda: _rule("fairness"))
    explanation: FamilyRule = Field(default_factory=lambda: _rule("explanation"))
    no_data_after: Duration | None = Field(
        2 * HOUR,
        description="Raise a critical no-data alert when a model that has sent predictions sends none "
        "for this long; null disables it.",
    )
    no_data_severity: Severity = Severity.CRITICAL

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for family, defaults in FAMILY_DEFAULTS.items():
            if isinstance(merged.get(family), dict):
                merged[family] = {**defaults, **merged[family]}
        return merged

    def rule_for(self, family: str) -> FamilyRule | None:
        rule = getattr(self, family, None)
        return rule if isinstance(rule, FamilyRule) else None


class RetrainingSettings(_Strict):
    """Which firing alerts request retraining (a ``model.retrain_requested`` webhook).

    A request is made when a performance alert has stayed firing for ``performance_firing_for``,
    or (``drift_with_estimated_drop``) when drift and an estimated-performance drop fire
    together; never while a data-quality alert is open (retraining on broken data makes the
    model worse), and at most once per ``cooldown``.
    """

    enabled: StrictBool = True
    performance_firing_for: Duration = Field(6 * HOUR)
    drift_with_estimated_drop: StrictBool = True
    cooldown: Duration = Field(7 * DAY)
