"""The fairness disparities, one table: ``DISPARITIES``.

Each entry names the per-group rate it compares (two rates: the worse of their two
differences, sharing one error budget, as equalized odds does), its form — ``difference``
= max_g − min_g (≥ 0, alerts above its bound) or ``ratio`` = min_g / max_g (≤ 1, alerts below
its bound) —, whether it needs labels (then it is provisional in early windows) and scores
(then only scored binary models have it), the model tasks that have it, the bound documented
as its default, and the field
of the monitor's fairness settings that overrides that bound. A default bound of None makes
the disparity reported but not alerted on unless a monitor sets its bound: its figure has no
threshold, never alerts or watches, and stays out of the family its intervals are sized for.

The table drives the statistics (``fairness.fairness_report`` computes the rate disparities
in its order; ``group_calibration`` the score one), the figures (limits, provisional rule,
family size), the monitor schema's defaults and the docs' list. Adding a disparity over an
existing rate is one entry here; over a new rate, that rate's function too.

Tasks: the rate disparities of a binary classifier apply to a multiclass one once per class,
one-vs-rest (``multiclass_fairness``); a regression model compares per-group error means
(``group_errors``), whose bounds are in the target's unit, so they have no default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DisparityForm = Literal["difference", "ratio"]
CLASSIFIERS = ("binary_classification", "multiclass_classification")


@dataclass(frozen=True, slots=True)
class DisparitySpec:
    name: str
    rates: tuple[str, ...]
    form: DisparityForm
    needs_labels: bool
    needs_scores: bool
    default_bound: float | None
    setting: str
    tasks: tuple[str, ...] = CLASSIFIERS


DISPARITIES: tuple[DisparitySpec, ...] = (
    DisparitySpec(
        name="statistical_parity_difference",
        rates=("selection_rate",),
        form="difference",
        needs_labels=False,
        needs_scores=False,
        default_bound=0.1,
        setting="max_parity_difference",
    ),
    DisparitySpec(
        name="disparate_impact_ratio",
        rates=("selection_rate",),
        form="ratio",
        needs_labels=False,
        needs_scores=False,
        default_bound=0.8,
        setting="min_impact_ratio",
    ),
    DisparitySpec(
        name="equal_opportunity_difference",
        rates=("tpr",),
        form="difference",
        needs_labels=True,
        needs_scores=False,
        default_bound=0.1,
        setting="max_equal_opportunity_difference",
    ),
    DisparitySpec(
        name="equalized_odds_difference",
        rates=("tpr", "fpr"),
        form="difference",
        needs_labels=True,
        needs_scores=False,
        default_bound=0.1,
        setting="max_equalized_odds_difference",
    ),
    DisparitySpec(
        name="predictive_parity_difference",
        rates=("ppv",),
        form="difference",
        needs_labels=True,
        needs_scores=False,
        default_bound=0.1,
        setting="max_predictive_parity_difference",
    ),
    # max − min FPR: with "default" as the positive class, creditworthy applicants wrongly
    # refused. The FPR half of equalized odds, so by default reported, not alerted (no bound):
    # alerting on both would page twice for one gap.
    DisparitySpec(
        name="predictive_equality_difference",
        rates=("fpr",),
        form="difference",
        needs_labels=True,
        needs_scores=False,
        default_bound=None,
        setting="max_predictive_equality_difference",
    ),
    # Calibration-in-the-large (mean score − observed positive rate) per group: needs scores.
    DisparitySpec(
        name="calibration_difference",
        rates=("calibration_in_the_large",),
        form="difference",
        needs_labels=True,
        needs_scores=True,
        default_bound=0.05,
        setting="max_calibration_difference",
        tasks=("binary_classification",),
    ),
    # Regression, fairlearn's bounded-group-loss view: max − min over groups of the mean error
    # (bias, prediction − label) and of the mean absolute error. Their unit is the target's (a
    # credit limit in euros), so no bound fits every model: reported until a monitor sets one.
    DisparitySpec(
        name="mean_error_difference",
        rates=("mean_error",),
        form="difference",
        needs_labels=True,
        needs_scores=False,
        default_bound=None,
        setting="max_mean_error_difference",
        tasks=("regression",),
    ),
    DisparitySpec(
        name="mae_difference",
        rates=("mae",),
        form="difference",
        needs_labels=True,
        needs_scores=False,
        default_bound=None,
        setting="max_mae_difference",
        tasks=("regression",),
    ),
)

DISPARITY: Mapping[str, DisparitySpec] = {d.name: d for d in DISPARITIES}


def disparities_of(*, scored: bool, task: str = "binary_classification") -> tuple[DisparitySpec, ...]:
    """The disparities a model of ``task`` has: all of its task with scores, else those that
    need none (a multiclass model has each once per class)."""
    return tuple(d for d in DISPARITIES if task in d.tasks and (scored or not d.needs_scores))
