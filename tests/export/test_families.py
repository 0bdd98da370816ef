"""The cardinality budget (pure: figure rows in, gauges out)."""

from __future__ import annotations

from datetime import UTC, datetime

from service.export.families import Budget, ModelFamilies
from service.export.repository import FigureRow, LatestRun

RUN = LatestRun(
    1,
    "credit",
    "v1",
    datetime(2026, 11, 2, tzinfo=UTC),
    rows=1000,
    labelled=400,
    computed_at=datetime(2026, 11, 2, tzinfo=UTC),
    label_coverage=0.4,
)


def _row(
    family: str,
    metric: str,
    *,
    feature: str = "",
    attribute: str = "",
    group: str = "",
    value: float = 0.0,
    n: int = 100,
    status: str = "ok",
) -> FigureRow:
    return FigureRow(1, family, metric, feature, attribute, group, value, None, None, n, status)


def _rows() -> list[FigureRow]:
    rows = []
    for i in range(50):
        feature = f"f{i:02d}"
        rows.append(
            _row("drift", "drift_score", feature=feature, value=i / 100, status="alert" if i >= 45 else "ok")
        )
        rows.append(_row("drift", "p_value", feature=feature, value=0.5))
        rows.append(_row("data_quality", "missing_rate", feature=feature, value=0.01))
    rows += [_row("drift", "drift_score", feature=name, value=0.0) for name in ("prediction", "score")]
    for g in range(30):
        rows.append(
            _row("fairness", "selection_rate", attribute="region", group=f"r{g}", value=0.3, n=1000 - g)
        )
        rows.append(_row("fairness", "tpr", attribute="region", group=f"r{g}", value=0.5, n=50))
    rows.append(
        _row("fairness", "statistical_parity_difference", attribute="region", value=0.2, status="alert")
    )
    rows.append(_row("performance", "accuracy", value=0.8, status="provisional"))
    return rows


def _labels(health: ModelFamilies, name: str, label: str) -> set[str]:
    family = health.by_name[name]
    index = family.labels.index(label)
    return {values[index] for values in family.samples}


def test_the_feature_budget_keeps_configured_outputs_and_the_most_drifted() -> None:
    health = ModelFamilies(Budget(top_k_features=10, max_groups=5))
    health.add_run(RUN, _rows(), frozenset({"f00", "f01", "unknown"}))
    top = {f"f{i}" for i in range(40, 50)}
    expected = top | {"f00", "f01", "prediction", "score"}
    assert _labels(health, "modelmon_feature_drift_score", "feature") == expected
    assert _labels(health, "modelmon_data_quality_ratio", "feature") == expected - {"prediction", "score"}
    assert sum(health.by_name["modelmon_feature_drifted"].samples.values()) == 5


def test_the_group_budget_keeps_the_largest_groups_of_each_attribute() -> None:
    health = ModelFamilies(Budget(top_k_features=10, max_groups=5))
    health.add_run(RUN, _rows(), frozenset())
    assert _labels(health, "modelmon_fairness_group_rate", "group") == {f"r{g}" for g in range(5)}
    omitted = health.by_name["modelmon_metrics_omitted_subjects"].samples[("credit", "v1")]
    assert omitted == (50 - 10) + (30 - 5)


def test_flags_are_zero_or_one_and_provisional_never_breaches() -> None:
    health = ModelFamilies(Budget(top_k_features=10, max_groups=5))
    health.add_run(RUN, _rows(), frozenset())
    labels = ("credit", "v1", "accuracy")
    assert health.by_name["modelmon_performance_provisional"].samples[labels] == 1
    assert health.by_name["modelmon_performance_breached"].samples[labels] == 0
    assert (
        health.by_name["modelmon_fairness_breached"].samples[
            ("credit", "v1", "region", "statistical_parity_difference")
        ]
        == 1
    )
    assert health.by_name["modelmon_label_coverage_ratio"].samples[("credit", "v1")] == 0.4


def test_watch_is_its_own_flag_and_never_a_breach() -> None:
    """A figure whose point estimate is past its threshold without evidence: watch 1, breached 0;
    the disparity's interval is exported beside it."""
    odds, parity = "equalized_odds_difference", "statistical_parity_difference"
    rows = [
        FigureRow(1, "fairness", odds, "", "sex", "", 0.14, 0.02, 0.27, 800, "watch"),
        FigureRow(1, "fairness", parity, "", "sex", "", 0.2, 0.12, 0.28, 800, "alert"),
        _row("performance", "ece", value=0.06, status="watch"),
        _row("drift", "drift_score", feature="income", value=0.3, status="watch"),
    ]
    health = ModelFamilies(Budget(top_k_features=10, max_groups=5))
    health.add_run(RUN, rows, frozenset())

    def pair(first: str, second: str, *labels: str) -> tuple[float, float]:
        key = ("credit", "v1", *labels)
        return health.by_name[f"modelmon_{first}"].samples[key], health.by_name[f"modelmon_{second}"].samples[
            key
        ]

    assert pair("fairness_watch", "fairness_breached", "sex", odds) == (1, 0)
    assert pair("fairness_watch", "fairness_breached", "sex", parity) == (0, 1)
    assert pair("fairness_ci_lower", "fairness_ci_upper", "sex", odds) == (0.02, 0.27)
    assert pair("performance_watch", "performance_breached", "ece") == (1, 0)
    assert pair("feature_drift_watch", "feature_drifted", "income") == (1, 0)


def test_a_multiclass_disparity_exports_its_worst_class_and_no_per_class_rates() -> None:
    """Per (attribute, metric): the alerting class wins over a larger value that only watches;
    for the ratio the smallest value wins; classes never count as omitted features."""
    spd, ratio = "statistical_parity_difference", "disparate_impact_ratio"
    rows = [
        _row("fairness", spd, feature="approve", attribute="sex", value=0.3, status="watch"),
        _row("fairness", spd, feature="decline", attribute="sex", value=0.2, status="alert"),
        _row("fairness", spd, feature="refer", attribute="sex", value=0.01),
        _row("fairness", ratio, feature="approve", attribute="sex", value=0.9),
        _row("fairness", ratio, feature="refer", attribute="sex", value=0.85),
        _row("fairness", "selection_rate", feature="refer", attribute="sex", group="F", value=0.3),
    ]
    health = ModelFamilies(Budget(top_k_features=1, max_groups=5))
    health.add_run(RUN, rows, frozenset())
    value = health.by_name["modelmon_fairness_value"].samples
    breached = health.by_name["modelmon_fairness_breached"].samples
    assert value[("credit", "v1", "sex", spd)] == 0.2
    assert breached[("credit", "v1", "sex", spd)] == 1.0
    assert value[("credit", "v1", "sex", ratio)] == 0.85
    assert health.by_name["modelmon_fairness_group_rate"].samples == {}
    assert health.by_name["modelmon_metrics_omitted_subjects"].samples[("credit", "v1")] == 0
