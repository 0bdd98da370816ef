"""Rejection rates of the discrete-column drift decision, by simulation on seeded laws.

Each scenario draws ``reps`` (reference, window) pairs from known laws on a few values, fits
the layout on the reference with ``fit_numeric`` and decides with the service's own code
(``discrete_statistics``; a single column, so Benjamini-Hochberg changes nothing):

- ``test``: the pooled chi-square rejects (p < α = 0.05); on quiet scenarios (same law)
  this is the false-alarm rate of the test, which must stay ≤ α;
- ``drift``: the verdict's rule, p < α and normed Wasserstein ≥ 0.1;
- ``ks``: the KS p-value (continuous law) on the same cells rejects, for comparison.

``python -m tests.stats.discrete_simulation [--reps N]`` prints the table quoted in
docs/statistics.md; ``test_drift_discrete.py`` runs the same scenarios with fewer reps.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from service.stats.discrete import discrete_statistics
from service.stats.drift import ks_p_value
from service.stats.layout import fit_numeric
from service.stats.summaries import summarize_numeric

ALPHA = 0.05
EFFECT = 0.1


@dataclass(frozen=True, slots=True)
class Scenario:
    """Reference law (values, probabilities) and window law, with their sizes."""

    name: str
    values: tuple[float, ...]
    reference: tuple[float, ...]
    window: tuple[float, ...]
    n_reference: int
    n_window: int

    @property
    def quiet(self) -> bool:
        return self.reference == self.window


def _poisson(mean: float, top: int) -> tuple[float, ...]:
    k = np.arange(top + 1)
    log_p = k * np.log(mean) - mean - np.cumsum(np.log(np.maximum(k, 1)))
    p = np.exp(log_p)
    return tuple((p / p.sum()).tolist())


FLAG = (0.0, 1.0)
LEVELS = (0.0, 1.0, 2.0, 3.0, 4.0)
SPREAD = (0.1, 0.2, 0.3, 0.3, 0.1)
COUNTS = tuple(float(k) for k in range(13))
PERCENT = tuple(float(k) for k in range(100))
UNIFORM = tuple([0.01] * 100)
QUIET = (
    Scenario("flag 0.3, 2,000 vs 2,000", FLAG, (0.7, 0.3), (0.7, 0.3), 2_000, 2_000),
    Scenario("flag 0.02, 500 vs 100", FLAG, (0.98, 0.02), (0.98, 0.02), 500, 100),
    Scenario("5 levels, 1,000 vs 200", LEVELS, SPREAD, SPREAD, 1_000, 200),
    Scenario("Poisson(2), 3,000 vs 1,000", COUNTS, _poisson(2.0, 12), _poisson(2.0, 12), 3_000, 1_000),
    Scenario("100 levels, 5,000 vs 300", PERCENT, UNIFORM, UNIFORM, 5_000, 300),
    Scenario("flag 0.3, 100,000 vs 50,000", FLAG, (0.7, 0.3), (0.7, 0.3), 100_000, 50_000),
)
SHIFTED = (
    Scenario("flag 0.3 → 0.4, 2,000 vs 2,000", FLAG, (0.7, 0.3), (0.6, 0.4), 2_000, 2_000),
    Scenario("flag 0.3 → 0.8, 1,000 vs 500", FLAG, (0.7, 0.3), (0.2, 0.8), 1_000, 500),
    Scenario("mass 3 → 4, 2,000 vs 1,000", LEVELS, SPREAD, (0.1, 0.2, 0.3, 0.15, 0.25), 2_000, 1_000),
    Scenario("constant 5 → 30 % at 6, 1,000 vs 500", (5.0, 6.0), (1.0, 0.0), (0.7, 0.3), 1_000, 500),
)


@dataclass(frozen=True, slots=True)
class Rates:
    scenario: str
    reps: int
    test: float
    drift: float
    ks: float


def _sample(
    rng: np.random.Generator, values: tuple[float, ...], probs: tuple[float, ...], n: int
) -> np.ndarray:
    counts = rng.multinomial(n, probs)
    return np.repeat(np.asarray(values, dtype=np.float64), counts)


def rates(scenario: Scenario, reps: int, seed: int, *, with_ks: bool = True) -> Rates:
    """Share of ``reps`` draws where the test rejects, the verdict says drift, KS rejects
    (Smirnov's law at the cell-grid D, as the continuous path would compute it)."""
    rng = np.random.default_rng(seed)
    test = drift = ks = 0
    for _ in range(reps):
        ref = _sample(rng, scenario.values, scenario.reference, scenario.n_reference)
        win = _sample(rng, scenario.values, scenario.window, scenario.n_window)
        bins = fit_numeric("x", ref)
        assert bins.discrete, scenario.name
        result = discrete_statistics(
            bins, summarize_numeric(bins, ref, rows=ref.size), summarize_numeric(bins, win, rows=win.size)
        )
        assert result.chi2_p_value is not None and result.ks is not None
        assert result.wasserstein_norm is not None
        rejected = result.chi2_p_value < ALPHA
        test += rejected
        drift += rejected and result.wasserstein_norm >= EFFECT
        if with_ks:
            ks += ks_p_value(result.ks, ref.size, win.size) < ALPHA
    return Rates(scenario.name, reps, test / reps, drift / reps, ks / reps if with_ks else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    print("| scenario | reps | chi-square rejects | verdict: drift | KS rejects |")
    print("|---|---|---|---|---|")
    for i, scenario in enumerate(QUIET + SHIFTED):
        r = rates(scenario, args.reps, args.seed + i)
        print(f"| {r.scenario} | {r.reps} | {r.test:.3f} | {r.drift:.3f} | {r.ks:.3f} |")


if __name__ == "__main__":
    main()
