"""A seeded credit-scoring world for the verdict benchmarks (``benchmarks.false_alerts``).

Rows: four continuous features (``income`` standard normal, ``debt_ratio`` lognormal,
``utilisation`` beta, ``tenure`` gamma), a 0/1 ``flag`` (P = 0.3), an integer ``dependants``
(0–4) and two categorical ones; protected attributes ``sex`` (2 groups) and, for 6 or 12
groups, ``age_band`` (3 or 6 bands) with their intersection. The label is Bernoulli(true
probability); the model's score IS the true probability (a perfectly calibrated model,
AUC ≈ 0.77, prevalence ≈ 0.24), ŷ = score ≥ 0.5. Nothing depends on the protected
attributes, so quiet windows have no drift, no bias and no performance change.

Changes of known size (``Change``): a mean shift of ``income`` in standard deviations, the
``flag`` rate, a parity gap (extra selection of group F, in selection-rate points), and
noise on the score's logit that lowers the AUC by a chosen amount (``noise_for_auc_drop``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.stats.layout import Batch

FloatArray = npt.NDArray[np.float64]
PURPOSES = ("car", "home", "education", "business", "consolidation", "other")
HOUSING = ("rent", "own", "mortgage")
BANDS = {2: (), 6: ("18-30", "31-50", "51+"), 12: ("18-25", "26-35", "36-45", "46-55", "56-65", "66+")}
DEPENDANTS_P = (0.3, 0.25, 0.2, 0.15, 0.1)


@dataclass(frozen=True, slots=True)
class Change:
    """What moves in the window (all zero: a quiet window drawn from the reference's law)."""

    income_shift: float = 0.0
    flag_rate: float = 0.3
    parity_gap: float = 0.0
    score_noise: float = 0.0


QUIET = Change()


def _logit(p: FloatArray) -> FloatArray:
    return np.log(p / (1.0 - p))


def _attributes(rng: np.random.Generator, rows: int, groups: int) -> dict[str, npt.NDArray[np.object_]]:
    sex = np.where(rng.random(rows) < 0.5, "F", "M").astype(object)
    bands = BANDS[groups]
    if not bands:
        return {"sex": sex}
    return {"sex": sex, "age_band": np.asarray(bands, dtype=object)[rng.integers(0, len(bands), rows)]}


def _features(rng: np.random.Generator, rows: int, change: Change) -> dict[str, FloatArray]:
    return {
        "income": rng.normal(change.income_shift, 1.0, rows),
        "debt_ratio": rng.lognormal(-1.0, 0.5, rows),
        "utilisation": rng.beta(2.0, 5.0, rows),
        "tenure": rng.gamma(2.0, 3.0, rows),
        "flag": (rng.random(rows) < change.flag_rate).astype(np.float64),
        "dependants": rng.choice(5, rows, p=DEPENDANTS_P).astype(np.float64),
    }


def true_probability(numeric: dict[str, FloatArray]) -> FloatArray:
    """P(default | features): a fixed logistic model of the numeric features."""
    logit = (
        -1.35
        - 0.9 * numeric["income"]
        + 1.2 * (numeric["debt_ratio"] - 0.42)
        + 2.0 * (numeric["utilisation"] - 0.29)
        + 0.5 * numeric["flag"]
        + 0.15 * numeric["dependants"]
    )
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)


def _predictions(
    rng: np.random.Generator, scores: FloatArray, sex: npt.NDArray[np.object_], gap: float
) -> npt.NDArray[np.object_]:
    positive = scores >= 0.5
    if gap > 0:
        female = sex == "F"
        base = float(positive[female].mean()) if female.any() else 0.0
        extra = min(1.0, gap / max(1.0 - base, 1e-9))  # lifts P(ŷ = 1 | F) by ``gap``
        positive = positive | (female & (rng.random(scores.size) < extra))
    return np.where(positive, "default", "repaid").astype(object)


def draw(rows: int, *, groups: int, seed: int, change: Change = QUIET) -> Batch:
    """``rows`` seeded rows of the world, every one labelled."""
    rng = np.random.default_rng(seed)
    numeric = _features(rng, rows, change)
    truth = true_probability(numeric)
    labels = np.where(rng.random(rows) < truth, "default", "repaid").astype(object)
    scores = truth
    if change.score_noise > 0:
        noisy = _logit(np.clip(truth, 1e-9, 1 - 1e-9)) + rng.normal(0.0, change.score_noise, rows)
        scores = 1.0 / (1.0 + np.exp(-noisy))
    attributes = _attributes(rng, rows, groups)
    categorical = {
        "purpose": np.asarray(PURPOSES, dtype=object)[rng.integers(0, len(PURPOSES), rows)],
        "housing": np.asarray(HOUSING, dtype=object)[rng.choice(3, rows, p=(0.45, 0.2, 0.35))],
    }
    return Batch(
        rows=rows,
        numeric=numeric,
        categorical=categorical,
        predictions=_predictions(rng, scores, attributes["sex"], change.parity_gap),
        scores=scores,
        labels=labels,
        attributes=attributes,
    )


def intersections(groups: int) -> list[tuple[str, ...]]:
    return [] if groups == 2 else [("sex", "age_band")]


def auc(scores: FloatArray, positive: npt.NDArray[np.bool_]) -> float:
    """Exact ROC AUC (Mann–Whitney with mid-ranks)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(mid, counts)
    n_pos = int(positive.sum())
    n_neg = scores.size - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def noise_for_auc_drop(drop: float, *, rows: int = 400_000, seed: int = 7) -> float:
    """The logit noise σ that lowers the population AUC by ``drop`` (bisection on one big draw)."""
    base = draw(rows, groups=2, seed=seed)
    assert base.scores is not None and base.labels is not None
    positive = np.asarray(base.labels, dtype=object) == "default"
    target = auc(base.scores, positive) - drop
    low, high = 0.0, 5.0
    for _ in range(30):
        mid = (low + high) / 2.0
        noisy = draw(rows, groups=2, seed=seed, change=Change(score_noise=mid))
        assert noisy.scores is not None
        if auc(noisy.scores, positive) > target:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0
