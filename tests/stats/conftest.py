"""Shared seeded data factories for the statistics tests.

``make_credit_data(rows, seed=..., shift={...})`` draws a credit-scoring-like dataset:
15 continuous numeric features, 5 categorical ones, protected attributes ``sex`` and
``age_band``, a binary label (``"default"`` is the positive class), a model score and
the predicted label at threshold 0.5. ``shift`` injects drift in chosen columns:
numeric columns move by ``magnitude`` reference standard deviations, categorical columns
move ``magnitude`` of their probability mass to their rarest level.

Use it through the ``credit_data`` fixture (it returns the factory) or call
``make_credit_data`` from a fixture of your own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from service.stats.layout import Batch

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]

NUMERIC = (
    "age",
    "income",
    "loan_amount",
    "loan_term_months",
    "credit_history_years",
    "debt_to_income",
    "utilization",
    "savings",
    "monthly_expenses",
    "employment_years",
    "credit_limit",
    "inquiry_rate",
    "avg_balance",
    "payment_ratio",
    "residence_years",
)
CATEGORICAL: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "purpose": (
        ("car", "home", "education", "business", "medical", "travel", "debt", "other"),
        (0.25, 0.2, 0.12, 0.1, 0.1, 0.08, 0.1, 0.05),
    ),
    "housing": (("own", "rent", "mortgage", "free"), (0.3, 0.35, 0.3, 0.05)),
    "employment_type": (
        ("salaried", "self_employed", "contract", "unemployed", "retired"),
        (0.55, 0.15, 0.15, 0.05, 0.1),
    ),
    "region": (tuple(f"r{i:02d}" for i in range(10)), tuple(np.full(10, 0.1))),
    "education": (("primary", "secondary", "bachelor", "master", "doctorate"), (0.1, 0.4, 0.3, 0.15, 0.05)),
}
AGE_BANDS = ("18-25", "26-35", "36-50", "51-65", "65+")
SHIFTED_DEFAULT: dict[str, float] = {
    "income": 0.6,
    "debt_to_income": 0.5,
    "utilization": -0.4,
    "purpose": 0.3,
}


@dataclass(frozen=True)
class CreditData:
    """One draw: the ``Batch`` for modelmon and plain columns (e.g. for a pandas frame)."""

    batch: Batch
    columns: dict[str, Any]
    labels: ObjectArray
    scores: FloatArray

    @property
    def numeric_names(self) -> tuple[str, ...]:
        return NUMERIC

    @property
    def categorical_names(self) -> tuple[str, ...]:
        return tuple(CATEGORICAL)


def _numeric_columns(rng: np.random.Generator, n: int) -> dict[str, FloatArray]:
    age = np.clip(rng.normal(42.0, 12.0, n), 18.0, 90.0)
    income = rng.lognormal(10.6, 0.5, n)
    return {
        "age": age,
        "income": income,
        "loan_amount": rng.lognormal(9.3, 0.8, n),
        "loan_term_months": rng.uniform(6.0, 72.0, n),
        "credit_history_years": rng.gamma(3.0, 3.0, n),
        "debt_to_income": rng.beta(2.0, 5.0, n),
        "utilization": rng.beta(2.0, 3.0, n),
        "savings": rng.lognormal(8.0, 1.2, n),
        "monthly_expenses": income / 12.0 * rng.beta(5.0, 4.0, n),
        "employment_years": rng.gamma(2.0, 4.0, n),
        "credit_limit": rng.lognormal(9.0, 0.6, n),
        "inquiry_rate": rng.gamma(1.5, 0.8, n),
        "avg_balance": rng.lognormal(7.5, 1.0, n),
        "payment_ratio": rng.beta(6.0, 2.0, n),
        "residence_years": rng.exponential(6.0, n),
    }


def _categorical(rng: np.random.Generator, n: int, name: str, shift: float) -> ObjectArray:
    levels, probs = CATEGORICAL[name]
    p = np.asarray(probs, dtype=np.float64)
    if shift:
        target = np.zeros_like(p)
        target[int(np.argmin(p))] = 1.0
        p = (1.0 - shift) * p + shift * target
    return np.asarray(levels, dtype=object)[rng.choice(len(levels), size=n, p=p / p.sum())]


def _age_band(age: FloatArray) -> ObjectArray:
    idx = np.searchsorted(np.array([26.0, 36.0, 51.0, 66.0]), age, side="right")
    return np.asarray(AGE_BANDS, dtype=object)[idx]


def _with_missing(rng: np.random.Generator, column: Any, rate: float) -> Any:
    if rate <= 0:
        return column
    out = column.copy()
    out[rng.random(out.size) < rate] = np.nan if out.dtype.kind == "f" else None
    return out


def make_credit_data(
    rows: int,
    *,
    seed: int,
    shift: Mapping[str, float] | None = None,
    missing_rate: float = 0.01,
    labelled_fraction: float = 1.0,
) -> CreditData:
    """Draw ``rows`` seeded rows; see the module docstring for ``shift``.

    The label follows a logistic model of income, debt-to-income, utilization, late
    history and purpose; the score is a slightly mis-specified logistic fit of it, so the
    model is good but not perfect (AUC ≈ 0.75). ``labelled_fraction`` < 1 leaves that
    share of rows unlabelled (``None``).
    """
    rng = np.random.default_rng(seed)
    shift = dict(shift or {})
    numeric = _numeric_columns(rng, rows)
    for name in NUMERIC:
        if shift.get(name):
            numeric[name] = numeric[name] + shift[name] * float(np.std(numeric[name]))
    categorical = {name: _categorical(rng, rows, name, shift.get(name, 0.0)) for name in CATEGORICAL}
    risky = np.isin(categorical["purpose"], ["business", "travel", "debt"])
    logit = (
        -1.2
        - 1.2 * (np.log(numeric["income"]) - 10.6)
        + 3.0 * (numeric["debt_to_income"] - 0.29)
        + 1.5 * (numeric["utilization"] - 0.4)
        + 0.6 * risky
        - 0.02 * (numeric["age"] - 42.0)
    )
    actual = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    scores = 1.0 / (1.0 + np.exp(-(0.9 * logit + rng.normal(0.0, 0.4, rows))))
    labels = np.where(actual, "default", "repaid").astype(object)
    labels[rng.random(rows) >= labelled_fraction] = None
    predictions = np.where(scores >= 0.5, "default", "repaid").astype(object)
    attributes = {
        "sex": np.where(rng.random(rows) < 0.48, "F", "M").astype(object),
        "age_band": _age_band(numeric["age"]),
    }
    numeric = {name: _with_missing(rng, col, missing_rate) for name, col in numeric.items()}
    categorical = {name: _with_missing(rng, col, missing_rate) for name, col in categorical.items()}
    batch = Batch(
        rows=rows,
        numeric=numeric,
        categorical=categorical,
        predictions=predictions,
        scores=scores,
        labels=labels,
        attributes=attributes,
    )
    return CreditData(batch, {**numeric, **categorical}, labels, scores)


@pytest.fixture(scope="session")
def credit_data() -> Callable[..., CreditData]:
    """The ``make_credit_data`` factory (a pure function, so one per session)."""
    return make_credit_data
