"""The numbers behind two design choices: 50 score bins (class-balanced reference quantiles)
and ECE over 10 groups of adjacent bins. docs/statistics-outcomes.md quotes these tables.

    python -m benchmarks.coverage.performance_design [--reps 2000] [--seed 20261206]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import progress
from benchmarks.coverage.performance import Binned, binary_counts, binary_truths
from benchmarks.coverage.score_populations import (
    Population,
    binormal,
    calibrated_beta,
    recalibrated,
    reference_scores,
)
from service.stats.aggregates import ScoreHistogram
from service.stats.calibration import ece_value, group_bounds
from service.stats.layout import score_edges
from service.stats.performance import binary_performance
from service.stats.ranking import ap_binning_range, auc_binning_bound, average_precision_from_masses
from service.stats.ranking import roc_auc_from_masses as auc

WINDOW = 100_000


def _edge_kinds(population: Population, rng: np.random.Generator) -> dict[str, tuple[float, ...]]:
    scores, labels = reference_scores(population, rng, 20_000)
    t = population.threshold
    kinds = {"k/20 equal width": score_edges(bins=20, threshold=t)}
    for bins in (20, 50, 100):
        kinds[f"{bins} score quantiles"] = score_edges(bins=bins, threshold=t, scores=scores)
        kinds[f"{bins} class-balanced quantiles"] = score_edges(
            bins=bins, threshold=t, scores=scores, labels=labels, positive_label="pos"
        )
    return kinds


def binning_table(seed: int) -> str:
    """AUC binning bound, |binned − exact| AUC and the AP binning range on a 100k-row window."""
    rng = np.random.default_rng(seed)
    lines = [
        "| scores | edges | bins | AUC bound | binned − exact AUC | AP range (low, high) − AP |",
        "|---|---|---|---|---|---|",
    ]
    populations = (
        calibrated_beta("calibrated Beta(2,3), 40 %", 2.0, 3.0),
        binormal("binormal 30 %, AUC 0.76", prevalence=0.3, separation=1.0, offset=1.0, threshold=0.5),
        binormal("rare 3 %, AUC 0.86", prevalence=0.03, separation=1.5, offset=4.2, threshold=0.1),
        binormal("rare 3 %, AUC 0.96", prevalence=0.03, separation=2.5, offset=4.2, threshold=0.1),
    )
    for population in populations:
        pos, neg = (a[0].astype(float) for a in population.sample(rng, WINDOW, 1))
        exact = auc(pos, neg)
        for kind, edges in _edge_kinds(population, rng).items():
            index = ScoreHistogram.bin_index(edges, population.support)
            p = np.bincount(index, pos, len(edges) - 1).astype(np.float64)
            q = np.bincount(index, neg, len(edges) - 1).astype(np.float64)
            ap = average_precision_from_masses(p, q)
            low, high = ap_binning_range(p, q)
            lines.append(
                f"| {population.name} | {kind} | {len(edges) - 1} | {auc_binning_bound(p, q):.4f} "
                f"| {auc(p, q) - exact:+.4f} | ({low - ap:+.3f}, {high - ap:+.3f}) |"
            )
    return "\n".join(lines)


def profile_size_table() -> str:
    """Stored bytes of one bucket profile of the 18-group credit layout, by score bins."""
    from service.stats.layout import fit_layout  # heavy test factories only when asked
    from service.stats.profile import build_profile
    from service.stats.serialize import profile_to_bytes
    from tests.stats.conftest import make_credit_data

    reference = make_credit_data(20_000, seed=1)
    lines = ["| score bins | 1,000-row bucket | 100,000-row bucket |", "|---|---|---|"]
    for bins in (20, 50, 100):
        layout = fit_layout(
            task="binary_classification",
            reference=reference.batch,
            positive_label="default",
            intersections=[("sex", "age_band")],
            score_bins=bins,
        )
        sizes = [
            len(profile_to_bytes(build_profile(layout, make_credit_data(rows, seed=2).batch)))
            for rows in (1_000, WINDOW)
        ]
        lines.append(f"| {bins} | {sizes[0] / 1000:.0f} kB | {sizes[1] / 1000:.0f} kB |")
    return "\n".join(lines)


def ece_group_table(reps: int, seed: int) -> str:
    """Debiased ECE by number of groups: mean estimate vs truth, coverage, share flagged."""
    rng = np.random.default_rng(seed)
    beta = calibrated_beta("calibrated Beta(2,3)", 2.0, 3.0)
    mild = recalibrated("overconfident (logit x1.3)", beta, 1.3)
    over = recalibrated("overconfident (logit x2)", beta, 2.0)
    lines = [
        "| model | n | groups | truth | mean estimate | coverage | lower limit > 0 |",
        "|---|---|---|---|---|---|---|",
    ]
    for population, n in (
        (beta, 150),
        (beta, 1_000),
        (beta, 20_000),
        (mild, 2_000),
        (mild, 20_000),
        (over, 1_000),
    ):
        edges = score_edges(threshold=0.5, scores=reference_scores(population, rng, 5_000)[0])
        index = ScoreHistogram.bin_index(edges, population.support)
        pos, neg = population.sample(rng, n, reps)
        for groups in (5, 10, 20, len(edges) - 1):
            truth = population.ece(edges, group_bounds(len(edges) - 1, groups))
            values = [
                _ece(edges, index, population.support, p, q, groups) for p, q in zip(pos, neg, strict=True)
            ]
            est, low, high = (np.asarray(v) for v in zip(*values, strict=True))
            lines.append(
                f"| {population.name} | {n:,} | {groups} | {truth:.4f} | {est.mean():.4f} "
                f"| {np.mean((low <= truth) & (truth <= high)):.3f} | {np.mean(low > 0):.3f} |"
            )
    return "\n".join(lines)


def _ece(
    edges: tuple[float, ...],
    index: np.ndarray,
    support: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    groups: int,
) -> tuple[float, float, float]:
    bins = len(edges) - 1
    p, q = np.bincount(index, pos, bins), np.bincount(index, neg, bins)
    sp, sq = np.bincount(index, pos * support, bins), np.bincount(index, neg * support, bins)
    zeros = (0,) * bins
    hist = ScoreHistogram(
        edges, tuple(map(int, p)), tuple(map(int, q)), zeros, tuple(sp), tuple(sq), (0.0,) * bins
    )
    value = ece_value(hist, groups=groups)
    assert value.value is not None and value.ci_low is not None and value.ci_high is not None
    return value.value, value.ci_low, value.ci_high


ERRORS = frozenset({"brier", "log_loss", "ece"})


def quiet_table(reps: int, seed: int, tolerance: float = 0.05) -> str:
    """Share of windows whose interval puts a figure beyond its reference ± tolerance (what an
    interval-based rule would page on), for a model that did not change and for one that did.

    The reference value is the figure of the (calibrated Beta(2,3)) population itself, as a
    large reference would give; "worse" means below it for rates and AUCs, above it for
    Brier, log loss and ECE.
    """
    rng = np.random.default_rng(seed)
    beta = calibrated_beta("calibrated Beta(2,3)", 2.0, 3.0)
    edges = score_edges(threshold=0.5, scores=reference_scores(beta, rng, 5_000)[0])
    reference = binary_truths(beta, edges)
    lines = [
        "| window model | n | " + " | ".join(reference) + " | any |",
        "|---|---|" + "---|" * (len(reference) + 1),
    ]
    over = recalibrated("overconfident (logit x2)", beta, 2.0)
    for model, n in ((beta, 150), (beta, 2_000), (over, 150), (over, 2_000)):
        flagged = _flagged(model, edges, n, reps, rng, reference, tolerance)
        cells = " | ".join(f"{np.mean(flagged[m]):.3f}" for m in reference)
        lines.append(
            f"| {model.name} | {n:,} | {cells} | {np.mean(np.any(list(flagged.values()), axis=0)):.3f} |"
        )
    return "\n".join(lines)


def _flagged(
    model: Population,
    edges: tuple[float, ...],
    n: int,
    reps: int,
    rng: np.random.Generator,
    reference: dict[str, float],
    tolerance: float,
) -> dict[str, list[bool]]:
    binned = Binned.of(model, edges)
    pos, neg = model.sample(rng, n, reps)
    flagged: dict[str, list[bool]] = {m: [] for m in reference}
    for r, counts in enumerate(binary_counts(model, pos, neg)):
        report = binary_performance(counts=counts, histogram=binned.labelled(pos[r], neg[r], model.support))
        for value in report.metrics:
            worse = (
                value.ci_low is not None and value.ci_low > reference[value.metric] + tolerance
                if value.metric in ERRORS
                else value.ci_high is not None and value.ci_high < reference[value.metric] - tolerance
            )
            flagged[value.metric].append(bool(worse))
    return flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    progress("score bins: binning bounds")
    print(binning_table(args.seed), end="\n\n")
    progress("score bins: profile sizes")
    print(profile_size_table(), end="\n\n")
    progress(f"ECE groups ({args.reps} samples per row)")
    print(ece_group_table(args.reps, args.seed), end="\n\n")
    progress(f"windows beyond reference ± 0.05 ({args.reps} samples per row)")
    print(quiet_table(args.reps, args.seed))


if __name__ == "__main__":
    main()
