"""Group fairness of a multiclass classifier: the binary disparities once per class, one-vs-rest.

For class c, a group's confusion matrix M (rows true class, columns predicted; labelled rows)
and prediction counts P (every row) give the binary counts of "c" against "not c":

    predicted_positive = P_c            selection rate SR_c = P_c / n
    tp = M_cc    fn = Σ_j M_cj − M_cc   TPR_c = tp / (tp + fn)   (recall of c)
    fp = Σ_i M_ic − M_cc                FPR_c = fp / (fp + tn)   (c predicted for another class)
    tn = labelled − tp − fn − fp

and ``fairness.fairness_report`` does the rest: per-group rates with Wilson intervals and the
rate disparities of ``disparities.DISPARITIES`` (statistical parity, impact ratio, equal
opportunity, equalized odds, predictive parity and equality) over groups, with the same
simultaneous intervals. This matches fairlearn's ``MetricFrame`` on the one-vs-rest labels
(y == c, ŷ == c). The counts are ``aggregates.MulticlassCounts`` per group, stored in every
bucket profile and mergeable by addition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.stats.aggregates import BinaryCounts, MulticlassCounts
from service.stats.fairness import MIN_DENOMINATOR, MIN_GROUP_N, FairnessReport, fairness_report


def one_vs_rest(counts: MulticlassCounts, index: int) -> BinaryCounts:
    """The binary counts of class ``classes[index]`` against every other class (module doc)."""
    k = len(counts.classes)
    row = sum(counts.matrix[index * k : (index + 1) * k])
    column = sum(counts.matrix[index::k])
    tp = counts.matrix[index * k + index]
    labelled = counts.labelled
    return BinaryCounts(
        n=counts.n,
        predicted_positive=counts.predicted[index],
        labelled=labelled,
        tp=tp,
        fn=row - tp,
        fp=column - tp,
        tn=labelled - row - column + tp,
    )


def multiclass_fairness_reports(
    *,
    attribute: str,
    classes: Sequence[str],
    groups: Mapping[str, MulticlassCounts],
    expected_groups: Sequence[str] = (),
    min_group_n: int = MIN_GROUP_N,
    min_denominator: int = MIN_DENOMINATOR,
    confidence: float = 0.95,
) -> tuple[tuple[str, FairnessReport], ...]:
    """(class, its one-vs-rest ``FairnessReport``) for each class in order, for one attribute."""
    return tuple(
        (
            name,
            fairness_report(
                attribute=attribute,
                groups={g: one_vs_rest(c, index) for g, c in groups.items()},
                expected_groups=expected_groups,
                min_group_n=min_group_n,
                min_denominator=min_denominator,
                confidence=confidence,
            ),
        )
        for index, name in enumerate(classes)
    )
