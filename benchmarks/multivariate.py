"""Multivariate drift: false alerts on quiet data, power on correlation shifts, profiling cost.

Data: P independent pairs of N(0, 1) features (a_i, b_i) with corr(a_i, b_i) = ρ; the
reference has ρ = +0.8 in every pair (20,000 rows). A shifted window moves the correlation of
the first pair only, to ρ_w, so every marginal stays N(0, 1): no univariate test can see it.
Each window is profiled (``build_profile``) and judged by the drift family exactly as a stored
window is (``windows.figures_drift.drift_figures`` with the default monitor configuration:
BH at α = 0.05 over the family, effect lower limit ≥ 0.1 at the family's simultaneous level).

Printed:

1. quiet windows (ρ_w = +0.8), per (pairs, rows per window): per 1,000 windows, how often the
   multivariate KS p-value is below α (the test alone), how often the multivariate figure
   alerts, and how often any univariate drift figure alerts;
2. shifted windows: the share of windows whose multivariate figure alerts (power), and of
   windows where any univariate figure alerts;
3. the rule that picks the kept axes, on 40 seeded references of 5 pairs: the share of the
   first pair's low-variance direction (a_0 − b_0)/√2 that lies in the discarded axes (where
   the reconstruction error can see it), for Kaiser's rule (the model's) and for keeping
   95 % of the variance;
4. the cost of the multivariate summary in ``build_profile`` (100,000 rows, 15 numeric
   features): seconds with and without the model, best of 3.

    python -m benchmarks.multivariate [--windows 1000] [--power-windows 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import progress
from service.monitors.schemas import MonitorConfig
from service.stats.layout import Batch, Layout, fit_layout
from service.stats.multivariate import NAME
from service.stats.profile import Profile, build_profile
from service.stats.verdict import DriftConfig, evaluate_drift
from service.windows.figures import decider_of
from service.windows.figures_drift import drift_figures
from service.windows.policy import evaluation_policy

REFERENCE_ROWS = 20_000
RHO = 0.8
SHIFTS = (0.7, 0.6, 0.4, 0.0, -0.8)
POLICY = evaluation_policy(MonitorConfig())
DECIDER = decider_of(POLICY)


def pairs_batch(rng: np.random.Generator, pairs: int, rows: int, first_rho: float) -> Batch:
    """``pairs`` pairs of standard normals; the first pair at ``first_rho``, the rest at ρ."""
    numeric: dict[str, np.ndarray] = {}
    for i in range(pairs):
        rho = first_rho if i == 0 else RHO
        a, noise = rng.normal(size=rows), rng.normal(size=rows)
        numeric[f"a{i}"] = a
        numeric[f"b{i}"] = rho * a + np.sqrt(1.0 - rho * rho) * noise
    return Batch(rows=rows, numeric=numeric)


def _judge(layout: Layout, reference: Profile, window: Profile) -> tuple[bool, bool, bool]:
    """(multivariate KS p < α, multivariate figure alerts, any univariate figure alerts)."""
    figures = drift_figures(layout, reference, window, POLICY, DECIDER)
    q = {f.metric: f for f in figures if f.feature is None}
    univariate = any(f.status == "alert" for f in figures if f.metric == "drift_score")
    raw = _raw_p(layout, reference, window)
    return raw < POLICY.drift.alpha, q[NAME].status == "alert", univariate


def _raw_p(layout: Layout, reference: Profile, window: Profile) -> float:
    """The multivariate KS p-value before BH (the test alone)."""
    report = evaluate_drift(layout=layout, reference=reference, window=window, config=DriftConfig(fdr=False))
    (mv,) = [f for f in report.features if f.role == "multivariate"]
    return 1.0 if mv.p_value is None else mv.p_value


def _rates(pairs: int, rows: int, rho: float, windows: int, seed: int) -> tuple[float, float, float]:
    """Per-window rates of the three events of ``_judge``."""
    rng = np.random.default_rng(seed)
    reference_batch = pairs_batch(rng, pairs, REFERENCE_ROWS, RHO)
    layout = fit_layout(task="regression", reference=reference_batch)
    reference = build_profile(layout, reference_batch)
    counts = np.zeros(3)
    for _ in range(windows):
        window = build_profile(layout, pairs_batch(rng, pairs, rows, rho))
        counts += np.array(_judge(layout, reference, window), dtype=float)
    return float(counts[0] / windows), float(counts[1] / windows), float(counts[2] / windows)


def quiet_table(windows: int) -> None:
    print(f"\nQuiet windows (ρ = {RHO} in reference and window), per 1,000 windows, {windows} windows each")
    print(f"{'features':>8} {'rows':>7} {'KS p<α':>8} {'mv alert':>9} {'univariate alert':>17}")
    for pairs in (1, 5):
        for rows in (1_000, 10_000):
            progress(f"quiet: {2 * pairs} features, {rows} rows")
            ks, mv, uni = _rates(pairs, rows, RHO, windows, seed=100 * pairs + rows)
            print(f"{2 * pairs:>8} {rows:>7} {1000 * ks:>8.1f} {1000 * mv:>9.1f} {1000 * uni:>17.1f}")


def power_table(windows: int) -> None:
    print(f"\nShifted windows (first pair's ρ: {RHO} → ρ_w), share alerting, {windows} windows each")
    print(f"{'features':>8} {'rows':>7} {'ρ_w':>6} {'mv alert':>9} {'univariate alert':>17}")
    for pairs in (1, 5):
        for rows in (1_000, 10_000):
            for rho in SHIFTS:
                progress(f"power: {2 * pairs} features, {rows} rows, ρ_w = {rho}")
                _, mv, uni = _rates(pairs, rows, rho, windows, seed=7 * pairs + rows + int(100 * rho))
                print(f"{2 * pairs:>8} {rows:>7} {rho:>6.1f} {mv:>9.3f} {uni:>17.3f}")


def _discarded_shares(batch: Batch) -> tuple[float, float]:
    """(Kaiser, 95 % of variance): the share of (a_0 − b_0)/√2 in the discarded axes."""
    names = sorted(batch.numeric)
    x = np.column_stack([batch.numeric[n] for n in names])
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    eigenvalues = singular**2 / z.shape[0]
    direction = np.zeros(len(names))
    direction[names.index("a0")], direction[names.index("b0")] = 2**-0.5, -(2**-0.5)
    share = np.cumsum(eigenvalues) / eigenvalues.sum()
    kaiser = max(1, min(int(np.count_nonzero(eigenvalues >= 1.0)), len(names) - 1))
    variance = max(1, min(int(np.searchsorted(share, 0.95, side="right")) + 1, len(names) - 1))
    kept = [1.0 - float(np.sum((vt[:k] @ direction) ** 2)) for k in (kaiser, variance)]
    return kept[0], kept[1]


def rule_table(references: int = 40) -> None:
    progress("axis rules")
    shares = np.array(
        [
            _discarded_shares(pairs_batch(np.random.default_rng(s), 5, REFERENCE_ROWS, RHO))
            for s in range(references)
        ]
    )
    print(f"\nKept axes, {references} references of 10 features: share of pair 0's weak direction discarded")
    print(f"{'rule':>18} {'mean':>6} {'min':>6} {'refs < 0.1':>10}")
    for column, rule in enumerate(("eigenvalue ≥ 1", "95 % of variance")):
        v = shares[:, column]
        print(f"{rule:>18} {v.mean():>6.3f} {v.min():>6.3f} {int((v < 0.1).sum()):>10}")


def cost_table() -> None:
    rng = np.random.default_rng(1)
    batch = Batch(rows=100_000, numeric={f"x{j}": rng.normal(size=100_000) for j in range(15)})
    with_model = fit_layout(task="regression", reference=batch.slice(0, 20_000))
    without = fit_layout(task="regression", reference=batch.slice(0, 20_000), multivariate=False)
    print("\nbuild_profile, 100,000 rows × 15 numeric features (best of 3)")
    for label, layout in (("without the model", without), ("with the model", with_model)):
        best = min(_timed(layout, batch) for _ in range(3))
        print(f"{label:>18}: {best:.3f} s")


def _timed(layout: Layout, batch: Batch) -> float:
    start = time.perf_counter()
    build_profile(layout, batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1000, help="quiet windows per row")
    parser.add_argument("--power-windows", type=int, default=200, help="shifted windows per row")
    args = parser.parse_args()
    quiet_table(args.windows)
    power_table(args.power_windows)
    rule_table()
    cost_table()


if __name__ == "__main__":
    main()
