"""Multivariate drift: false alerts on quiet data, power on correlation shifts, profiling cost.

Data: P independent pairs of N(0, 1) features (a_i, b_i) with corr(a_i, b_i) = ρ; the
reference has ρ = +0.8 in every pair (20,000 rows, and 1,000 in the last quiet row; a new
reference every 10 windows, profiled as the service does: ``reference_profile``). A shifted
window moves the correlation of the first pair only, to ρ_w, so every marginal stays
N(0, 1): no univariate test can see it. Each window is profiled (``build_profile``) and
judged by the drift family exactly as a stored window is
(``windows.figures_drift.drift_figures`` with the default monitor configuration: BH at
α = 0.05 over the family, effect lower limit ≥ 0.1 at the family's simultaneous level).

Printed:

1. quiet windows (ρ_w = +0.8), per (pairs, reference rows, rows per window): per 1,000 windows, how often the
   multivariate KS p-value is below α (the test alone, against the held-out reference
   errors the service stores, and *in-sample*: against the errors of the rows the axes were
   fitted on, same n), how often the multivariate figure alerts, and how often any
   univariate drift figure alerts;
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
from service.stats.profile import Profile, build_profile, reference_profile
from service.stats.verdict import DriftConfig, evaluate_drift
from service.windows.figures import decider_of
from service.windows.figures_drift import drift_figures
from service.windows.policy import evaluation_policy

REFERENCE_ROWS = 20_000
WINDOWS_PER_REFERENCE = 10
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


def _judge(layout: Layout, reference: Profile, window: Profile) -> tuple[bool, bool]:
    """(multivariate figure alerts, any univariate figure alerts)."""
    figures = drift_figures(layout, reference, window, POLICY, DECIDER)
    (mv,) = [f for f in figures if f.metric == NAME]
    return mv.status == "alert", any(f.status == "alert" for f in figures if f.metric == "drift_score")


def _rejects(layout: Layout, reference: Profile, window: Profile) -> bool:
    """The multivariate KS test alone (no BH, no effect size) rejects at α."""
    report = evaluate_drift(layout=layout, reference=reference, window=window, config=DriftConfig(fdr=False))
    (mv,) = [f for f in report.features if f.role == "multivariate"]
    return mv.p_value is not None and mv.p_value < POLICY.drift.alpha


def _fitting_rows(batch: Batch) -> Batch:
    """The reference's even rows: those the standardisation and the axes are fitted on."""
    return Batch(rows=(batch.rows + 1) // 2, numeric={n: c[0::2] for n, c in batch.numeric.items()})


def _rates(
    pairs: int, rows: int, rho: float, windows: int, seed: int, reference_rows: int = REFERENCE_ROWS
) -> tuple[float, float, float, float]:
    """Per-window rates: KS rejects against the held-out reference profile (what the service
    stores), KS rejects against the fitting rows' own errors (in-sample, same n), the
    multivariate figure alerts, a univariate figure alerts. ``WINDOWS_PER_REFERENCE`` windows
    per fitted reference: a rate measured on one reference is conditional on its draw."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(4)
    references = max(1, windows // WINDOWS_PER_REFERENCE)
    for _ in range(references):
        reference_batch = pairs_batch(rng, pairs, reference_rows, RHO)
        layout = fit_layout(task="regression", reference=reference_batch)
        held_out = reference_profile(layout, reference_batch)
        in_sample = build_profile(layout, _fitting_rows(reference_batch))
        for _ in range(WINDOWS_PER_REFERENCE):
            window = build_profile(layout, pairs_batch(rng, pairs, rows, rho))
            events = (_rejects(layout, held_out, window), _rejects(layout, in_sample, window))
            counts += np.array((*events, *_judge(layout, held_out, window)), dtype=float)
    done = references * WINDOWS_PER_REFERENCE
    ks, ks_in, mv, uni = (float(c / done) for c in counts)
    return ks, ks_in, mv, uni


# (pairs, reference rows, rows per window): the last row is a small reference, where the
# in-sample errors' bias shows.
QUIET_ROWS = (
    (1, REFERENCE_ROWS, 1_000),
    (1, REFERENCE_ROWS, 10_000),
    (5, REFERENCE_ROWS, 1_000),
    (5, REFERENCE_ROWS, 10_000),
    (5, 1_000, 10_000),
)


def quiet_table(windows: int) -> None:
    print(f"\nQuiet windows (ρ = {RHO} in reference and window), per 1,000 windows, {windows} windows each")
    header = f"{'features':>8} {'reference':>9} {'rows':>7} {'KS p<α':>8} {'in-sample':>9} {'mv alert':>9}"
    print(f"{header} {'univariate alert':>17}")
    for pairs, reference_rows, rows in QUIET_ROWS:
        progress(f"quiet: {2 * pairs} features, reference {reference_rows}, {rows} rows")
        seed = 100 * pairs + rows + reference_rows
        ks, ks_in, mv, uni = _rates(pairs, rows, RHO, windows, seed=seed, reference_rows=reference_rows)
        rates = f"{1000 * ks:>8.1f} {1000 * ks_in:>9.1f} {1000 * mv:>9.1f} {1000 * uni:>17.1f}"
        print(f"{2 * pairs:>8} {reference_rows:>9} {rows:>7} {rates}")


def power_table(windows: int) -> None:
    print(f"\nShifted windows (first pair's ρ: {RHO} → ρ_w), share alerting, {windows} windows each")
    print(f"{'features':>8} {'rows':>7} {'ρ_w':>6} {'mv alert':>9} {'univariate alert':>17}")
    for pairs in (1, 5):
        for rows in (1_000, 10_000):
            for rho in SHIFTS:
                progress(f"power: {2 * pairs} features, {rows} rows, ρ_w = {rho}")
                _, _, mv, uni = _rates(pairs, rows, rho, windows, seed=7 * pairs + rows + int(100 * rho))
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
