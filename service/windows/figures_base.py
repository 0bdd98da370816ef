"""The figure row and the threshold rules shared by every family of ``figures``.

A ``Limit`` is the alert rule of one figure: alert when value < ``low`` or value > ``high``
(strict, so a value equal to its threshold is ``ok``). The single ``threshold`` a figure
reports is the bound nearest its value: the violated bound whenever the figure alerts
(a value below ``low`` ≤ ``high`` is nearer ``low``), ``low`` when it has no value.

``finite`` is the last step of every figure: NaN or ±inf never leave the package; a
non-finite value becomes None, and a figure without a value is ``insufficient_data``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from service.stats.intervals import MetricValue

DRIFT = "drift"
DATA_QUALITY = "data_quality"
PERFORMANCE = "performance"
ESTIMATED_PERFORMANCE = "estimated_performance"
FAIRNESS = "fairness"
EXPLANATION = "explanation"
FAMILIES = (DRIFT, DATA_QUALITY, PERFORMANCE, ESTIMATED_PERFORMANCE, FAIRNESS, EXPLANATION)

OK = "ok"
ALERT = "alert"
INSUFFICIENT = "insufficient_data"
PROVISIONAL = "provisional"


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of one window, flat enough to be one stored row.

    ``attribute`` is a protected attribute or an intersection ("sex×age_band"); ``group``
    one of its values ("F", or "F|18-25" for an intersection). ``n`` is the denominator
    the value was computed on; ``threshold`` the bound the status was decided against.
    ``status``: "ok", "alert", "insufficient_data" (``value`` is None) or "provisional"
    (label-based and computed while labels are still arriving: not to be alerted on).
    """

    family: str
    metric: str
    feature: str | None = None
    attribute: str | None = None
    group: str | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    threshold: float | None = None
    status: str = OK


@dataclass(frozen=True, slots=True)
class Limit:
    """Alert when value < ``low`` or value > ``high`` (either may be None: no bound that side)."""

    low: float | None = None
    high: float | None = None

    def breached(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (self.high is not None and value > self.high)

    def threshold(self, value: float | None) -> float | None:
        """The bound nearest ``value`` (the violated one when breached); ``low`` first without a value."""
        if self.low is None or self.high is None:
            return self.low if self.low is not None else self.high
        if value is None:
            return self.low
        return self.low if abs(value - self.low) <= abs(value - self.high) else self.high


def _clean(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def finite(figure: Figure) -> Figure:
    """The figure with every non-finite float set to None; no value → ``insufficient_data``."""
    value = _clean(figure.value)
    status = figure.status if value is not None else INSUFFICIENT
    low, high = _clean(figure.ci_low), _clean(figure.ci_high)
    if value is None:
        low = high = None  # an interval around nothing would be read as a figure
    return replace(
        figure, value=value, ci_low=low, ci_high=high, threshold=_clean(figure.threshold), status=status
    )


def judged(
    family: str,
    metric: MetricValue,
    limit: Limit | None,
    *,
    feature: str | None = None,
    attribute: str | None = None,
    group: str | None = None,
) -> Figure:
    """A figure from a stats ``MetricValue``: "alert" when its value breaches ``limit``."""
    value = metric.value if metric.status == "ok" else None
    status = INSUFFICIENT if value is None else OK
    if value is not None and limit is not None and limit.breached(value):
        status = ALERT
    return Figure(
        family=family,
        metric=metric.metric,
        feature=feature,
        attribute=attribute,
        group=group,
        value=value,
        ci_low=metric.ci_low if value is not None else None,
        ci_high=metric.ci_high if value is not None else None,
        n=metric.n,
        threshold=None if limit is None else limit.threshold(value),
        status=status,
    )


def provisional(figure: Figure) -> Figure:
    """Mark a computed (ok or alert) label-based figure provisional; insufficient stays so."""
    return replace(figure, status=PROVISIONAL) if figure.status in (OK, ALERT) else figure
