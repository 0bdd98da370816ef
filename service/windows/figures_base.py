"""The figure row and the decision rule shared by every family of ``figures``.

A ``Limit`` is the tolerance of one figure: the true value should stay ≥ ``low`` and
≤ ``high`` (either may be None). The single ``threshold`` a figure reports is the bound
nearest its value: the violated bound whenever the point estimate is past one, ``low``
when it has no value.

**The decision** (``Decider.status``), for a figure whose point estimate is past a bound:

- ``interval`` mode (default): ``alert`` only when the figure's interval lies wholly
  beyond the bound — for an upper bound ci_low > high, for a lower bound ci_high < low —
  i.e. the evidence places the true value past the tolerance at the interval's confidence;
  otherwise ``watch`` (reported, never paged). When the bound is relative to a reference
  estimate R (threshold = R ± margin) the reference is uncertain too, so the decision is on
  the difference value − R with the MOVER interval (Newcombe 1998; Zou & Donner 2008) built
  from the two intervals: L = d − √((v − l_v)² + (u_R − R)²), U = d + √((u_v − v)² + (R − l_R)²),
  alert when L > margin (upper bound) or U < −margin (lower bound). A figure with no
  interval (R², MAPE, nDCG: no sampling model is stored for them) is decided on its point.
- ``point`` mode: the point estimate past the bound is ``alert`` (the behaviour before
  decisions on intervals).

A value equal to its threshold is not past it. ``finite`` is the last step of every figure:
NaN or ±inf never leave the package; a non-finite value becomes None, and a figure without
a value is ``insufficient_data``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from service.kernel.states import COMPUTED, FigureStatus
from service.monitors.schemas import DecisionMode
from service.stats.intervals import MetricValue

DRIFT = "drift"
DATA_QUALITY = "data_quality"
PERFORMANCE = "performance"
ESTIMATED_PERFORMANCE = "estimated_performance"
FAIRNESS = "fairness"
EXPLANATION = "explanation"
FAMILIES = (DRIFT, DATA_QUALITY, PERFORMANCE, ESTIMATED_PERFORMANCE, FAIRNESS, EXPLANATION)


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of one window, flat enough to be one stored row.

    ``attribute`` is a protected attribute or an intersection ("sex×age_band"); ``group``
    one of its values ("F", or "F|18-25" for an intersection). ``n`` is the denominator
    the value was computed on; ``threshold`` the bound the status was decided against.
    ``status``: see ``service/kernel/states.py``; ``insufficient_data`` exactly when
    ``value`` is None.
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
    status: FigureStatus = FigureStatus.OK


@dataclass(frozen=True, slots=True)
class Estimate:
    """A reference's value of a metric with its interval (None sides: no interval)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """Tolerance: the value should stay within [``low``, ``high``] (None: no bound that side).

    ``reference``: set when the bounds are the reference's value ± a margin; the decision
    then also accounts for the reference's interval (module docstring).
    """

    low: float | None = None
    high: float | None = None
    reference: Estimate | None = None

    def breached(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (self.high is not None and value > self.high)

    def threshold(self, value: float | None) -> float | None:
        """The bound nearest ``value`` (the violated one when breached); ``low`` first without a value."""
        if self.low is None or self.high is None:
            return self.low if self.low is not None else self.high
        if value is None:
            return self.low
        return self.low if abs(value - self.low) <= abs(value - self.high) else self.high

    def evidenced(self, value: float, ci_low: float | None, ci_high: float | None) -> bool:
        """Does the interval (with the reference's, when relative) lie wholly past a bound?"""
        if ci_low is None or ci_high is None:
            return self.breached(value)  # no sampling model: the point decides (module docstring)
        if self.reference is None:
            return (self.high is not None and ci_low > self.high) or (
                self.low is not None and ci_high < self.low
            )
        ref = self.reference
        r_low = ref.value if ref.ci_low is None else ref.ci_low
        r_high = ref.value if ref.ci_high is None else ref.ci_high
        d = value - ref.value
        lower = d - math.hypot(value - ci_low, r_high - ref.value)
        upper = d + math.hypot(ci_high - value, ref.value - r_low)
        above = self.high is not None and lower > self.high - ref.value
        below = self.low is not None and upper < self.low - ref.value
        return above or below


@dataclass(frozen=True, slots=True)
class Decider:
    """The decision rule and confidence of one monitor (module docstring)."""

    mode: DecisionMode = DecisionMode.INTERVAL
    confidence: float = 0.95

    def level(self, decisions: int) -> float:
        """Confidence of each interval in a family of ``decisions`` simultaneous decisions:
        1 − (1 − confidence) / m (Bonferroni), so that with probability ≥ ``confidence`` every
        interval of the family holds its true value; the nominal level in ``point`` mode."""
        if self.mode is DecisionMode.POINT or decisions <= 1:
            return self.confidence
        return 1.0 - (1.0 - self.confidence) / decisions

    def status(
        self, value: float | None, ci_low: float | None, ci_high: float | None, limit: Limit | None
    ) -> FigureStatus:
        if value is None:
            return FigureStatus.INSUFFICIENT_DATA
        if limit is None or not limit.breached(value):
            return FigureStatus.OK
        if self.mode is DecisionMode.POINT or limit.evidenced(value, ci_low, ci_high):
            return FigureStatus.ALERT
        return FigureStatus.WATCH


def _clean(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def finite(figure: Figure) -> Figure:
    """The figure with every non-finite float set to None; no value → ``insufficient_data``."""
    value = _clean(figure.value)
    status = figure.status if value is not None else FigureStatus.INSUFFICIENT_DATA
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
    decider: Decider,
    *,
    feature: str | None = None,
    attribute: str | None = None,
    group: str | None = None,
) -> Figure:
    """A figure from a stats ``MetricValue``, its status decided by ``decider`` against ``limit``."""
    value = metric.value if metric.status == "ok" else None
    low = metric.ci_low if value is not None else None
    high = metric.ci_high if value is not None else None
    return Figure(
        family=family,
        metric=metric.metric,
        feature=feature,
        attribute=attribute,
        group=group,
        value=value,
        ci_low=low,
        ci_high=high,
        n=metric.n,
        threshold=None if limit is None else limit.threshold(value),
        status=decider.status(value, low, high, limit),
    )


def provisional(figure: Figure) -> Figure:
    """Mark a computed (ok, watch or alert) label-based figure provisional; insufficient stays so."""
    return replace(figure, status=FigureStatus.PROVISIONAL) if figure.status in COMPUTED else figure
