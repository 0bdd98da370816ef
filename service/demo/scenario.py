"""The simulated world of the demo: loan applicants, the scorer that decides on them, the
truth that later repays or defaults, and the problems injected along the way.

Everything is drawn from one seeded ``numpy`` generator, so a seed gives the same
applicants, decisions and outcomes on every run. Times are *scenario seconds* from the
start (a day is 86,400 of them); :class:`Timeline` maps them onto the server's clock.

The deployed scorer never changes. Its score is P(repay) = σ(z) with

    z = 0.5 + 1.1·ln(income / 42,000) − 0.8·ln(loan / 12,000) + 0.08·(history − 8)
        − 4·(debt_to_income − 0.25) + purpose effect + employment effect

and it approves (prediction 1) when the score is at least the cut-off, 0.5. Outcomes come
from a true model that equals the scorer until the concept shift, then moves towards

    z_new = 0.2 − 0.6·ln(income / 42,000) − 0.4·ln(loan / 12,000) − 2·(debt_to_income − 0.25)
            − 0.05·(history − 8) + employment effect after the shift

(rising rates: high earners carrying variable-rate debt start to default while contract
workers repay better than before), 60 % of the way, so the scorer's ranking and calibration
decay while its inputs look unchanged: ROC AUC ≈ 0.75 → 0.61, accuracy ≈ 0.70 → 0.60.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

DAY = 86_400.0
HOUR = 3_600.0
FloatArray = npt.NDArray[np.float64]
TextArray = npt.NDArray[np.str_]

SEXES = ("F", "M")
SEX_SHARES = (0.5, 0.5)
AGE_BANDS = ("18-25", "26-40", "41-60", "61+")
AGE_SHARES = (0.18, 0.37, 0.32, 0.13)
TARGET_BAND = "18-25"
EMPLOYMENTS = ("salaried", "self_employed", "contract", "part_time")
EMPLOYMENT_SHARES = (0.62, 0.14, 0.16, 0.08)
EMPLOYMENT_EFFECT = (0.3, -0.2, -0.3, -0.4)
EMPLOYMENT_EFFECT_AFTER = (-0.4, 0.3, 0.5, 0.1)
PURPOSES = ("car", "home_improvement", "debt_consolidation", "education", "business")
PURPOSE_SHARES = (0.30, 0.25, 0.20, 0.10, 0.15)
PURPOSE_EFFECT = (0.2, 0.3, -0.3, -0.1, -0.4)
# After the switch a broker sends mostly debt consolidation: its share goes 20 % → 55 %.
CONSOLIDATION = PURPOSES.index("debt_consolidation")
CONSOLIDATION_SHARE_AFTER = 0.55

INCOME_MEDIAN = 42_000.0
LOAN_MEDIAN = 12_000.0
INCOME_RISE = 0.30  # incomes end 30 % higher (a new, wealthier customer segment)
CUT_OFF = 0.5
TARGET_CUT_OFF_RISE = 0.17  # the cut-off for 18-25 ends at 0.67
CONCEPT_WEIGHT = 0.6  # the truth ends 60 % of the way to z_new
NEVER_LABELLED = 0.05  # withdrawn applications: no outcome ever arrives
LABEL_HOUR = 2.0  # the collections system's nightly batch posts outcomes at 02:00

FEATURES = (
    ("income", "numeric"),
    ("loan_amount", "numeric"),
    ("credit_history_years", "numeric"),
    ("debt_to_income", "numeric"),
    ("employment", "categorical"),
    ("purpose", "categorical"),
)
ATTRIBUTES = ("sex", "age_band")


@dataclass(frozen=True, slots=True)
class Plan:
    """When each problem starts and reaches full strength, in scenario seconds, for a run of
    ``days``; every moment is a fixed share of the run, so shorter runs keep the story."""

    days: float
    income_start: float
    income_full: float
    purpose_at: float
    concept_start: float
    concept_full: float
    gap_start: float
    gap_full: float
    label_delay: float
    label_spread: float

    @property
    def end(self) -> float:
        return self.days * DAY


def plan_for(weeks: float) -> Plan:
    """The schedule of a ``weeks``-long run (6 weeks: income from day 8, purpose on day 15,
    concept from day 10, the age gap from day 17; labels 14–16 days late)."""
    days = weeks * 7.0

    def at(share: float) -> float:
        return round(share * days * 24.0) * HOUR  # on the hour, so it reads well

    return Plan(
        days=days,
        income_start=at(0.20),
        income_full=at(0.70),
        purpose_at=at(0.35),
        concept_start=at(0.25),
        concept_full=at(0.40),
        gap_start=at(0.40),
        gap_full=at(0.52),
        label_delay=at(1 / 3),
        label_spread=at(1 / 21),
    )


def ramp(t: FloatArray, start: float, full: float) -> FloatArray:
    """0 before ``start``, 1 from ``full`` on, linear in between."""
    return np.clip((t - start) / max(full - start, 1.0), 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class Applicants:
    """A batch of applications with the scorer's answer and the outcome the world holds for
    each (known to the demo at once, posted to modelmon only when it "arrives")."""

    t: FloatArray  # scenario seconds
    income: FloatArray
    loan_amount: FloatArray
    credit_history_years: FloatArray
    debt_to_income: FloatArray
    employment: TextArray
    purpose: TextArray
    sex: TextArray
    age_band: TextArray
    score: FloatArray
    decision: npt.NDArray[np.int64]
    label: npt.NDArray[np.int64]
    label_at: FloatArray  # when the outcome arrives (scenario seconds); inf: never

    def __len__(self) -> int:
        return len(self.t)

    def features(self, i: int) -> dict[str, Any]:
        return {
            "income": round(float(self.income[i]), 2),
            "loan_amount": round(float(self.loan_amount[i]), 2),
            "credit_history_years": round(float(self.credit_history_years[i]), 2),
            "debt_to_income": round(float(self.debt_to_income[i]), 4),
            "employment": str(self.employment[i]),
            "purpose": str(self.purpose[i]),
        }

    def attributes(self, i: int) -> dict[str, Any]:
        return {"sex": str(self.sex[i]), "age_band": str(self.age_band[i])}


def _choice(rng: np.random.Generator, values: tuple[str, ...], shares: FloatArray) -> TextArray:
    """One category per row, with per-row shares (rows × categories, each row summing to 1)."""
    cumulative = np.cumsum(shares, axis=1)
    picks = (rng.random(len(shares))[:, None] > cumulative).sum(axis=1)
    chosen: TextArray = np.asarray(values)[np.minimum(picks, len(values) - 1)]
    return chosen


def _effect(column: TextArray, values: tuple[str, ...], effects: tuple[float, ...]) -> FloatArray:
    by_name = dict(zip(values, effects, strict=True))
    return np.vectorize(by_name.__getitem__, otypes=[float])(column) if len(column) else np.zeros(0)


def scorer_logit(f: dict[str, Any]) -> FloatArray:
    """z of the deployed scorer (module docstring)."""
    z: FloatArray = (
        0.5
        + 1.1 * np.log(f["income"] / INCOME_MEDIAN)
        - 0.8 * np.log(f["loan_amount"] / LOAN_MEDIAN)
        + 0.08 * (f["credit_history_years"] - 8.0)
        - 4.0 * (f["debt_to_income"] - 0.25)
        + _effect(f["purpose"], PURPOSES, PURPOSE_EFFECT)
        + _effect(f["employment"], EMPLOYMENTS, EMPLOYMENT_EFFECT)
    )
    return z


def shifted_logit(f: dict[str, Any]) -> FloatArray:
    """z_new, where the truth moves after the concept shift (module docstring)."""
    z: FloatArray = (
        0.2
        - 0.6 * np.log(f["income"] / INCOME_MEDIAN)
        - 0.4 * np.log(f["loan_amount"] / LOAN_MEDIAN)
        - 2.0 * (f["debt_to_income"] - 0.25)
        - 0.05 * (f["credit_history_years"] - 8.0)
        + _effect(f["employment"], EMPLOYMENTS, EMPLOYMENT_EFFECT_AFTER)
    )
    return z


class World:
    """Draws applicants at given scenario times under the plan's injected problems."""

    def __init__(self, seed: int, plan: Plan) -> None:
        self.rng = np.random.default_rng(seed)
        self.plan = plan

    def applicants(self, t: FloatArray) -> Applicants:
        """One applicant per time in ``t`` (scenario seconds), decided and with its outcome."""
        p = self.plan
        features = self._features(t)
        z = scorer_logit(features)
        score = 1.0 / (1.0 + np.exp(-z))
        young = features["age_band"] == TARGET_BAND
        cut_off = CUT_OFF + TARGET_CUT_OFF_RISE * ramp(t, p.gap_start, p.gap_full) * young
        weight = CONCEPT_WEIGHT * ramp(t, p.concept_start, p.concept_full)
        truth = 1.0 / (1.0 + np.exp(-((1.0 - weight) * z + weight * shifted_logit(features))))
        label = (self.rng.random(len(t)) < truth).astype(np.int64)
        return Applicants(
            t=t,
            **features,
            score=score,
            decision=(score >= cut_off).astype(np.int64),
            label=label,
            label_at=self._label_times(t),
        )

    def _features(self, t: FloatArray) -> dict[str, Any]:
        """Inputs and protected attributes, independent of each other; incomes rise and the
        purpose mix switches on the plan's schedule."""
        p, rng, n = self.plan, self.rng, len(t)
        income = INCOME_MEDIAN * np.exp(rng.normal(0.0, 0.45, n))
        income *= 1.0 + INCOME_RISE * ramp(t, p.income_start, p.income_full)
        return {
            "income": income,
            "loan_amount": LOAN_MEDIAN * np.exp(rng.normal(0.0, 0.6, n)),
            "credit_history_years": rng.gamma(2.5, 3.4, n),
            "debt_to_income": rng.beta(2.0, 6.0, n),
            "employment": _choice(rng, EMPLOYMENTS, np.tile(EMPLOYMENT_SHARES, (n, 1))),
            "purpose": _choice(rng, PURPOSES, self._purpose_shares(t)),
            "sex": _choice(rng, SEXES, np.tile(SEX_SHARES, (n, 1))),
            "age_band": _choice(rng, AGE_BANDS, np.tile(AGE_SHARES, (n, 1))),
        }

    def _purpose_shares(self, t: FloatArray) -> FloatArray:
        base = np.asarray(PURPOSE_SHARES)
        after = base * (1.0 - CONSOLIDATION_SHARE_AFTER) / (1.0 - base[CONSOLIDATION])
        after[CONSOLIDATION] = CONSOLIDATION_SHARE_AFTER
        switched = (t >= self.plan.purpose_at)[:, None]
        return np.where(switched, after[None, :], base[None, :])

    def _label_times(self, t: FloatArray) -> FloatArray:
        """Known ``label_delay`` + U(0, ``label_spread``) after the decision, posted by the
        next nightly batch (02:00); 5 % never arrive."""
        p = self.plan
        known = t + p.label_delay + self.rng.uniform(0.0, p.label_spread, len(t))
        nightly = (np.floor((known - LABEL_HOUR * HOUR) / DAY) + 1.0) * DAY + LABEL_HOUR * HOUR
        return np.where(self.rng.random(len(t)) < NEVER_LABELLED, np.inf, nightly)

    def arrivals(self, start: float, end: float, per_day: float) -> FloatArray:
        """Application times in [start, end): a Poisson process of ``per_day`` a day."""
        count = int(self.rng.poisson(per_day * (end - start) / DAY))
        return np.sort(self.rng.uniform(start, end, count))


@dataclass(frozen=True, slots=True)
class Timeline:
    """Scenario seconds → the server's clock: ``start`` + offset × ``scale`` (1 when the demo
    runs its own accelerated server; a day of ``scale`` × 86,400 s against a real one)."""

    start: datetime
    scale: float = 1.0

    def at(self, offset: float) -> datetime:
        return self.start + timedelta(seconds=offset * self.scale)

    def offset(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds() / self.scale

    def seconds(self, scenario_seconds: float) -> float:
        """A scenario duration in server seconds."""
        return scenario_seconds * self.scale


@dataclass(frozen=True, slots=True)
class Injection:
    """One problem put into the world, and the alerts that count as catching it: any alert of
    ``family`` on ``feature`` / ``attribute`` (when given) with a metric in ``metrics`` (any
    when empty)."""

    name: str
    detail: str
    start: float  # scenario seconds
    family: str
    feature: str | None = None
    attribute: str | None = None
    metrics: frozenset[str] = frozenset()

    def caught_by(self, family: str, metric: str, feature: str | None, attribute: str | None) -> bool:
        return (
            family == self.family
            and (self.feature is None or feature == self.feature)
            and (self.attribute is None or attribute == self.attribute)
            and (not self.metrics or metric in self.metrics)
        )


def _days(seconds: float) -> str:
    return f"{round(seconds / DAY, 1):g}"


def injections(plan: Plan) -> list[Injection]:
    """What the run injects, in the order it starts."""

    def day(seconds: float) -> str:
        return f"day {seconds / DAY:.0f}"

    items = [
        Injection(
            "income shift",
            f"incomes drift up gradually, +{INCOME_RISE:.0%} by {day(plan.income_full)}",
            plan.income_start,
            "drift",
            feature="income",
        ),
        Injection(
            "concept shift",
            f"repayment stops following the scorer (complete by {day(plan.concept_full)}); "
            f"labels come {_days(plan.label_delay)}–{_days(plan.label_delay + plan.label_spread)} days late",
            plan.concept_start,
            "performance",
        ),
        Injection(
            "purpose mix change",
            f"a broker switches on: debt consolidation jumps from {PURPOSE_SHARES[CONSOLIDATION]:.0%} "
            f"to {CONSOLIDATION_SHARE_AFTER:.0%} of applications overnight",
            plan.purpose_at,
            "drift",
            feature="purpose",
        ),
        Injection(
            f"selection gap, age {TARGET_BAND}",
            f"a rule after the model raises the cut-off for {TARGET_BAND} from {CUT_OFF} to "
            f"{CUT_OFF + TARGET_CUT_OFF_RISE:.2f} by {day(plan.gap_full)}",
            plan.gap_start,
            "fairness",
            attribute="age_band",
            metrics=frozenset({"statistical_parity_difference", "disparate_impact_ratio"}),
        ),
    ]
    return sorted(items, key=lambda item: item.start)
