"""Binary-classifier populations on a fine score grid, for the performance coverage simulations.

A population is a score support s₁ < … < s_S (S = 1,000 points, fine enough that binning
on it costs < 1e-3 of AUC) with P(score = sᵢ, y = 1) and P(score = sᵢ, y = 0). Samples are
multinomial counts over the 2S cells, drawn for all repetitions at once, so a window of
100,000 rows costs as much as one of 100. Every population figure (the truths) is exact
on the grid: AUC with ties at ½, average precision, accuracy at a threshold, ECE over
given bins, Brier score and log loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from service.stats.aggregates import log_loss_terms
from service.stats.ranking import average_precision_from_masses, roc_auc_from_masses

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SUPPORT = 1_000


@dataclass(frozen=True)
class Population:
    """Scores ``support`` (ascending) with joint probabilities ``positive`` / ``negative``."""

    name: str
    support: FloatArray
    positive: FloatArray
    negative: FloatArray
    threshold: float = 0.5
    cells: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        total = float(self.positive.sum() + self.negative.sum())
        object.__setattr__(self, "positive", self.positive / total)
        object.__setattr__(self, "negative", self.negative / total)
        object.__setattr__(self, "cells", np.r_[self.positive, self.negative])

    @property
    def posterior(self) -> FloatArray:
        """P(y = 1 | score = sᵢ)."""
        out: FloatArray = self.positive / np.maximum(self.positive + self.negative, 1e-300)
        return out

    def sample(self, rng: np.random.Generator, n: int, reps: int) -> tuple[IntArray, IntArray]:
        """(positives, negatives) per support point, shape (reps, S) each."""
        counts = rng.multinomial(n, self.cells, size=reps)
        return counts[:, : self.support.size], counts[:, self.support.size :]

    def tilted(self, name: str, weight: FloatArray) -> Population:
        """The same P(y | score) under another score distribution (a covariate shift)."""
        mass = (self.positive + self.negative) * weight
        return Population(
            name, self.support, mass * self.posterior, mass * (1 - self.posterior), self.threshold
        )

    # ------------------------------------------------------------ truths

    def auc(self) -> float:
        return roc_auc_from_masses(self.positive, self.negative)

    def average_precision(self) -> float:
        return average_precision_from_masses(self.positive, self.negative)

    def confusion(self) -> dict[str, float]:
        """Population accuracy, precision, recall, specificity and F1 at ``threshold``."""
        hit = self.support >= self.threshold
        tp, fn = self.positive[hit].sum(), self.positive[~hit].sum()
        fp, tn = self.negative[hit].sum(), self.negative[~hit].sum()
        return {
            "accuracy": float(tp + tn),
            "precision": float(tp / (tp + fp)),
            "recall": float(tp / (tp + fn)),
            "specificity": float(tn / (tn + fp)),
            "f1": float(2 * tp / (2 * tp + fp + fn)),
        }

    def brier(self) -> float:
        return float(self.positive @ (1 - self.support) ** 2 + self.negative @ self.support**2)

    def losses(self) -> tuple[FloatArray, FloatArray]:
        """Per-row log loss of a positive and of a negative at each support point."""
        ones = np.ones(self.support.size, dtype=bool)
        return log_loss_terms(self.support, ones), log_loss_terms(self.support, ~ones)

    def log_loss(self) -> float:
        loss_pos, loss_neg = self.losses()
        return float(self.positive @ loss_pos + self.negative @ loss_neg)

    def ece(self, edges: tuple[float, ...], bounds: list[int]) -> float:
        """Σ_g |Σ_{sᵢ in group g} P(sᵢ, y=1) − sᵢ P(sᵢ)| over groups of histogram bins."""
        bins = np.clip(np.searchsorted(np.asarray(edges), self.support, side="right") - 1, 0, len(edges) - 2)
        group = np.searchsorted(np.asarray(bounds), bins, side="right") - 1
        gap = self.positive - self.support * (self.positive + self.negative)
        return float(np.abs(np.bincount(group, weights=gap)).sum())


def _grid() -> FloatArray:
    return (np.arange(SUPPORT) + 0.5) / SUPPORT


def calibrated_beta(name: str, a: float, b: float, *, threshold: float = 0.5) -> Population:
    """Scores ~ Beta(a, b) and y ~ Bernoulli(score): P(y | s) = s exactly."""
    edges = np.linspace(0.0, 1.0, SUPPORT + 1)
    mass = np.diff(stats.beta.cdf(edges, a, b))
    s = _grid()
    return Population(name, s, mass * s, mass * (1 - s), threshold)


def binormal(
    name: str, *, prevalence: float, separation: float, offset: float, threshold: float
) -> Population:
    """Latent z ~ N(0, 1) for negatives, N(separation, 1) for positives; score σ(z − offset).

    With offset 4.2 and prevalence 0.03 the median score is 0.015: scores crowd near 0, as a
    rare-event (credit default) model's do. The scores are not calibrated.
    """
    z = np.linspace(-6.0, 6.0 + separation, SUPPORT + 1)
    pos = prevalence * np.diff(stats.norm.cdf(z - separation))
    neg = (1 - prevalence) * np.diff(stats.norm.cdf(z))
    return Population(name, special.expit((z[1:] + z[:-1]) / 2 - offset), pos, neg, threshold)


def recalibrated(name: str, base: Population, logit_scale: float, logit_shift: float = 0.0) -> Population:
    """``base`` with scores made exact (s = P(y | s)), then mapped through σ(k·logit s + b):
    k > 1 is overconfident, b ≠ 0 biased; k = 1, b = 0 is perfectly calibrated."""
    p = np.clip(base.posterior, 1e-12, 1 - 1e-12)
    scores = special.expit(logit_scale * special.logit(p) + logit_shift)
    order = np.argsort(scores, kind="stable")
    mass = base.positive + base.negative
    return Population(name, scores[order], (mass * p)[order], (mass * (1 - p))[order], base.threshold)


def reference_scores(
    population: Population, rng: np.random.Generator, n: int
) -> tuple[FloatArray, list[str]]:
    """A labelled reference sample as rows (scores and "pos"/"neg" labels), for ``score_edges``."""
    pos, neg = population.sample(rng, n, 1)
    scores = np.r_[np.repeat(population.support, pos[0]), np.repeat(population.support, neg[0])]
    return scores, ["pos"] * int(pos.sum()) + ["neg"] * int(neg.sum())
