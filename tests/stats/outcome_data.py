"""Seeded synthetic outcome data for the performance / fairness / estimation tests.

Every generator takes a ``numpy.random.Generator`` so each test owns its seed. The
binary model is calibrated by construction: y ~ Bernoulli(score), so P(y = 1 | score) =
score exactly, which is the assumption confidence-based estimation relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

UNIFORM_EDGES: tuple[float, ...] = tuple(float(e) for e in np.linspace(0.0, 1.0, 21))


@dataclass(frozen=True)
class BinaryRows:
    scores: FloatArray
    actual: BoolArray
    predicted: BoolArray
    group: npt.NDArray[np.str_]


def calibrated_binary(
    rng: np.random.Generator, n: int, *, a: float = 2.0, b: float = 3.0, threshold: float = 0.5
) -> BinaryRows:
    """Scores ~ Beta(a, b), y ~ Bernoulli(score), ŷ = score ≥ threshold, one group "all"."""
    scores = rng.beta(a, b, size=n)
    actual = rng.random(n) < scores
    return BinaryRows(scores, actual, scores >= threshold, np.full(n, "all"))


def grouped_binary(rng: np.random.Generator, sizes: dict[str, int], *, shift: dict[str, float]) -> BinaryRows:
    """Per-group calibrated scores Beta(2 + shift, 3); a larger shift raises selection and TPR."""
    parts = [calibrated_binary(rng, size, a=2.0 + shift[g]) for g, size in sizes.items()]
    return BinaryRows(
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.actual for p in parts]),
        np.concatenate([p.predicted for p in parts]),
        np.concatenate([np.full(size, g) for g, size in sizes.items()]),
    )


def scores_on_edges(
    rng: np.random.Generator, n: int, edges: tuple[float, ...]
) -> tuple[FloatArray, BoolArray]:
    """Scores drawn from the lower edges only (one distinct value per bin), y ~ Bernoulli(score)."""
    lower = np.asarray(edges[:-1])
    scores = rng.choice(lower, size=n)
    return scores, rng.random(n) < np.clip(scores + 0.05, 0.0, 1.0)


def multiclass_rows(
    rng: np.random.Generator, n: int, k: int, *, accuracy: float = 0.7
) -> tuple[IntArray, IntArray]:
    """True classes with unequal priors; a prediction is right with prob. ``accuracy``."""
    priors = np.arange(1, k + 1, dtype=np.float64)
    actual = rng.choice(k, size=n, p=priors / priors.sum())
    wrong = rng.integers(0, k, size=n)
    predicted = np.where(rng.random(n) < accuracy, actual, wrong)
    return predicted.astype(np.int64), actual.astype(np.int64)


def regression_rows(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    """y ~ N(10, 3²) shifted away from 0; prediction = y + bias 0.3 + t₅ noise (heavy-ish tails)."""
    y = 10.0 + 3.0 * rng.standard_normal(n)
    return y + 0.3 + rng.standard_t(5, size=n), y
