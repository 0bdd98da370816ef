"""Drift effect sizes: coverage of the lower limit effect − z·se, quiet-data alarms, power.

Each draw takes a reference and a window from known laws, fits the column's bins on the
reference (``fit_numeric`` / ``fit_vocabulary``), builds both profiles with the service's
summarisers and computes the statistics with the service's own functions
(``numeric_statistics``, ``discrete_statistics``, ``categorical_statistics``), so every
draw exercises the real path, layout fitting included. L = effect − z·``effect_se``:

- **coverage**: P(L ≤ true effect), z = Φ⁻¹(nominal) one-sided, at nominal 0.975 (one
  column) and 0.9995 (the two-sided 0.999 of a family); the true effect is analytic (normal
  shift δ: δ; scale ×s: |s − 1|·√(2/π); lognormal log-shift δ: e^{s²/2}(e^δ − 1)/σ; a 0/1
  flag: |Δp|/√(p(1 − p))) or, for categories, the JS distance of the population shares
  pooled onto the draw's vocabulary cells (top 20 + other), which is what the profile sees;
- **quiet**: no change (true effect 0): the share of draws whose L at z = Φ⁻¹(0.975)
  reaches the 0.1 threshold, and the largest L seen;
- **power**: the share of draws with L ≥ 0.1 at z = Φ⁻¹(0.975).

``python -m benchmarks.coverage.drift [--reps N]`` prints the three tables quoted in
docs/statistics.md; ``rows`` feeds ``python -m benchmarks.coverage``;
``tests/stats/test_drift_error.py`` re-runs scenarios with fewer draws.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special
from scipy.spatial.distance import jensenshannon

from benchmarks.coverage.common import CoverageRow, markdown, summarise
from service.stats.discrete import discrete_statistics
from service.stats.drift import DriftStatistics, categorical_statistics, numeric_statistics
from service.stats.layout import fit_numeric, fit_vocabulary
from service.stats.summaries import summarize_categorical, summarize_numeric

FloatArray = npt.NDArray[np.float64]
Sampler = Callable[[np.random.Generator, int], FloatArray]
THRESHOLD = 0.1
NOMINALS = (0.975, 0.9995)
SIZES = ((200, 20_000), (2_000, 20_000), (20_000, 20_000), (200, 200))  # (window, reference)


@dataclass(frozen=True)
class Law:
    """A column's law. Numeric: ``sample`` draws values. Categorical: ``shares`` over levels."""

    name: str
    sample: Sampler | None = None
    shares: tuple[float, ...] = ()


@dataclass(frozen=True)
class Pair:
    """Reference and window laws; ``truth`` the true numeric effect (categorical: per draw)."""

    name: str
    reference: Law
    window: Law
    truth: float = 0.0

    @property
    def categorical(self) -> bool:
        return bool(self.reference.shares)


@dataclass(frozen=True)
class Draws:
    """Per draw: effect size, its se (NaN when none was served) and the true effect."""

    effect: FloatArray
    se: FloatArray
    truth: FloatArray

    def lower(self, z: float) -> FloatArray:
        out: FloatArray = self.effect - z * self.se
        return out


def normal(mean: float = 0.0, scale: float = 1.0) -> Law:
    return Law(f"normal({mean:g}, {scale:g})", lambda r, n: r.normal(mean, scale, n))


def lognormal(shift: float = 0.0, sigma: float = 0.5) -> Law:
    return Law(f"lognormal({shift:g}, {sigma:g})", lambda r, n: r.lognormal(shift, sigma, n))


def student_t(dof: float) -> Law:
    return Law(f"t{dof:g}", lambda r, n: r.standard_t(dof, n))


def on_values(name: str, values: Sequence[float], probs: Sequence[float]) -> Law:
    grid = np.asarray(values, dtype=np.float64)
    return Law(name, lambda r, n: np.repeat(grid, r.multinomial(n, probs)))


def levels(name: str, shares: Sequence[float]) -> Law:
    total = float(np.sum(shares))
    return Law(name, shares=tuple(float(s) / total for s in shares))


def lognormal_effect(shift: float, sigma: float) -> float:
    """W / σ between lognormal(0, σ) and lognormal(shift, σ) (stochastically ordered)."""
    mean_gap = math.exp(sigma**2 / 2) * (math.exp(shift) - 1)
    return mean_gap / math.sqrt((math.exp(sigma**2) - 1) * math.exp(sigma**2))


def mixed_towards_rarest(shares: Sequence[float], js: float) -> tuple[float, ...]:
    """(1 − λ) p + λ·(all on the rarest level), λ solved so that the JS distance is ``js``."""
    p = np.asarray(shares, dtype=np.float64)
    target = np.eye(p.size)[int(np.argmin(p))]

    def gap(lam: float) -> float:
        return float(jensenshannon(p, (1 - lam) * p + lam * target)) - js

    lam = optimize.brentq(gap, 0.0, 1.0, xtol=1e-12)
    return tuple(((1 - lam) * p + lam * target).tolist())


FLAG = (0.0, 1.0)
EIGHT = (0.25, 0.2, 0.12, 0.1, 0.1, 0.08, 0.1, 0.05)
TWENTY = tuple(1.0 / (i + 1) for i in range(20))  # Zipf: the rarest level holds 1.4 %


def coverage_pairs() -> list[Pair]:
    base = levels("8 levels", EIGHT)
    return [
        *(Pair(f"normal shift {d:g}σ", normal(), normal(d), d) for d in (0.1, 0.2, 0.5)),
        Pair("normal scale x1.25", normal(), normal(0.0, 1.25), 0.25 * math.sqrt(2 / math.pi)),
        Pair("lognormal(0, 0.5) log-shift 0.1", lognormal(), lognormal(0.1), lognormal_effect(0.1, 0.5)),
        Pair(
            "flag 0.3 -> 0.4",
            on_values("flag 0.3", FLAG, (0.7, 0.3)),
            on_values("flag 0.4", FLAG, (0.6, 0.4)),
            0.1 / math.sqrt(0.21),
        ),
        *(
            Pair(f"8 levels, JS {js:g}", base, levels("mixed", mixed_towards_rarest(EIGHT, js)))
            for js in (0.1, 0.2)
        ),
    ]


def quiet_laws() -> list[Law]:
    return [
        normal(),
        lognormal(0.0, 1.0),
        student_t(3.0),
        on_values("flag 0.3", FLAG, (0.7, 0.3)),
        on_values("integers 0-4", (0.0, 1.0, 2.0, 3.0, 4.0), (0.1, 0.2, 0.3, 0.3, 0.1)),
        on_values("constant 5", (5.0,), (1.0,)),
        levels("3 levels", (0.5, 0.3, 0.2)),
        levels("8 levels", EIGHT),
        levels("20 levels (Zipf)", TWENTY),
    ]


def _labels(rng: np.random.Generator, law: Law, n: int) -> npt.NDArray[np.object_]:
    names = np.asarray([f"c{i:02d}" for i in range(len(law.shares))], dtype=object)
    return names[rng.choice(len(law.shares), size=n, p=law.shares)]


def _pooled(shares: tuple[float, ...], kept: tuple[str, ...]) -> FloatArray:
    """Population shares on the vocabulary cells: the kept levels, then the rest pooled."""
    index = [int(name[1:]) for name in kept]
    cells = np.asarray([shares[i] for i in index] + [0.0])
    cells[-1] = 1.0 - cells[:-1].sum()
    return cells


def _categorical(
    rng: np.random.Generator, pair: Pair, n_ref: int, n_win: int
) -> tuple[DriftStatistics, float]:
    ref, win = _labels(rng, pair.reference, n_ref), _labels(rng, pair.window, n_win)
    vocabulary = fit_vocabulary("c", ref)
    stats = categorical_statistics(
        summarize_categorical(vocabulary, ref, rows=n_ref), summarize_categorical(vocabulary, win, rows=n_win)
    )
    p, q = _pooled(pair.reference.shares, vocabulary.values), _pooled(pair.window.shares, vocabulary.values)
    return stats, float(jensenshannon(p, q))


def _numeric(rng: np.random.Generator, pair: Pair, n_ref: int, n_win: int) -> DriftStatistics:
    assert pair.reference.sample is not None and pair.window.sample is not None
    u, v = pair.reference.sample(rng, n_ref), pair.window.sample(rng, n_win)
    bins = fit_numeric("x", u)
    ref, win = summarize_numeric(bins, u, rows=u.size), summarize_numeric(bins, v, rows=v.size)
    return discrete_statistics(bins, ref, win) if bins.discrete else numeric_statistics(bins, ref, win)


def collect(pair: Pair, n_win: int, n_ref: int, reps: int, rng: np.random.Generator) -> Draws:
    """``reps`` draws of the pair at the given sizes."""
    out = np.full((3, reps), np.nan)
    for r in range(reps):
        if pair.categorical:
            stats, truth = _categorical(rng, pair, n_ref, n_win)
            effect: float | None = stats.jensen_shannon
        else:
            stats, truth = _numeric(rng, pair, n_ref, n_win), pair.truth
            effect = stats.wasserstein_norm
        se = stats.effect_se
        out[:, r] = (np.nan if effect is None else effect, np.nan if se is None else se, truth)
    return Draws(out[0], out[1], out[2])


def z_of(confidence: float) -> float:
    return float(special.ndtri(confidence))


def _label(name: str, n_win: int, n_ref: int) -> str:
    return f"{name}, window {n_win:,}, reference {n_ref:,}"


def coverage_rows(
    reps: int, seed: int, pairs: Sequence[Pair] | None = None, sizes: Sequence[tuple[int, int]] = SIZES
) -> list[CoverageRow]:
    """P(L ≤ true effect) at each nominal one-sided level; mean width = mean z·se."""
    rng = np.random.default_rng(seed)
    out: list[CoverageRow] = []
    for pair in coverage_pairs() if pairs is None else pairs:
        interval = "drift lower limit (JS)" if pair.categorical else "drift lower limit (W/σ)"
        for n_win, n_ref in sizes:
            draws = collect(pair, n_win, n_ref, reps, rng)
            served = np.isfinite(draws.se)
            for nominal in NOMINALS:
                z = z_of(nominal)
                hits = draws.lower(z)[served] <= draws.truth[served]
                widths = z * draws.se[served]
                skipped = int(reps - served.sum())
                # the shared table prints nominal levels with two decimals: say which one
                label = _label(pair.name, n_win, n_ref) + f" [at {nominal:g}]"
                out.append(summarise(interval, label, nominal, hits.tolist(), widths.tolist(), skipped))
    return out


@dataclass(frozen=True, slots=True)
class RateRow:
    """Share of draws with L ≥ ``THRESHOLD`` (z = Φ⁻¹(0.975)) and the largest L seen."""

    scenario: str
    reps: int
    rate: float
    largest: float
    mean_effect: float


def rate_row(pair: Pair, n_win: int, n_ref: int, reps: int, rng: np.random.Generator) -> RateRow:
    draws = collect(pair, n_win, n_ref, reps, rng)
    lower = draws.lower(z_of(NOMINALS[0]))
    lower = np.where(np.isfinite(lower), lower, -np.inf)  # no se served: no evidence
    largest = float(np.max(lower))
    return RateRow(
        _label(pair.name, n_win, n_ref),
        reps,
        float(np.mean(lower >= THRESHOLD)),
        largest,
        float(np.nanmean(draws.effect)),
    )


def quiet_rows(
    reps: int, seed: int, laws: Sequence[Law] | None = None, sizes: Sequence[tuple[int, int]] = SIZES
) -> list[RateRow]:
    rng = np.random.default_rng(seed)
    return [
        rate_row(Pair(f"quiet {law.name}", law, law), n_win, n_ref, reps, rng)
        for law in (quiet_laws() if laws is None else laws)
        for n_win, n_ref in sizes
    ]


def power_scenarios() -> list[tuple[Pair, int, int]]:
    eight = levels("8 levels", EIGHT)
    flag = Pair("flag 0.3 -> 0.4", on_values("flag", FLAG, (0.7, 0.3)), on_values("flag", FLAG, (0.6, 0.4)))
    return [
        *((Pair(f"normal shift {d:g}σ", normal(), normal(d)), 20_000, 20_000) for d in (0.1, 0.2, 0.3)),
        (flag, 2_000, 20_000),
        (Pair("8 levels, JS 0.2", eight, levels("mixed", mixed_towards_rarest(EIGHT, 0.2))), 2_000, 20_000),
    ]


def power_rows(reps: int, seed: int) -> list[RateRow]:
    rng = np.random.default_rng(seed)
    return [rate_row(pair, n_win, n_ref, reps, rng) for pair, n_win, n_ref in power_scenarios()]


def quiet_as_coverage(row: RateRow) -> CoverageRow:
    """A quiet row in the coverage table: 'coverage' = share of draws with L below 0.1."""
    return CoverageRow("drift quiet: L < 0.1", row.scenario, 0.999, row.reps, 1.0 - row.rate, math.nan)


def rows(reps: int, seed: int) -> list[CoverageRow]:
    """Coverage rows, then the quiet-data rows (nominal 0.999 = the goal of ≤ 1 alarm in 1,000)."""
    return coverage_rows(reps, seed) + [quiet_as_coverage(r) for r in quiet_rows(reps, seed + 1)]


def rate_table(rows_: Sequence[RateRow], what: str) -> str:
    lines = [f"| scenario | draws | {what} | largest L | mean effect |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.scenario} | {r.reps} | {r.rate:.4f} | {r.largest:.3f} | {r.mean_effect:.3f} |" for r in rows_
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--only", choices=("coverage", "quiet", "power"), default=None)
    args = parser.parse_args()
    if args.only in (None, "coverage"):
        print(markdown(coverage_rows(args.reps, args.seed)), "\n", flush=True)
    if args.only in (None, "quiet"):
        print(rate_table(quiet_rows(args.reps, args.seed + 1), "share L ≥ 0.1"), "\n", flush=True)
    if args.only in (None, "power"):
        print(rate_table(power_rows(args.reps, args.seed + 2), "share L ≥ 0.1"), flush=True)


if __name__ == "__main__":
    main()
