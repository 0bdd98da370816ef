"""The incident rules as pure functions: causes, joining within the gap, the hold, ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.alerting.incident_rules import (
    AlertFacts,
    Kind,
    Neighbour,
    Span,
    cause_of,
    excess,
    joins,
    rank_causes,
    resolves,
    severity_of,
)

T0 = datetime(2026, 11, 20, tzinfo=UTC)
DAY = timedelta(days=1)


def facts(
    end_days: float,
    *,
    family: str = "drift",
    feature: str = "income",
    value: float = 0.2,
    open_: bool = True,
    resolved_days: float | None = None,
    severity: str = "warning",
) -> AlertFacts:
    end = T0 + end_days * DAY
    resolved = None if resolved_days is None else T0 + resolved_days * DAY
    return AlertFacts(1, family, "m", feature, "", severity, open_, value, 0.1, (end - DAY, end), resolved)


@pytest.mark.parametrize(
    ("family", "feature", "attribute", "expected"),
    [
        ("data_quality", "income", "", (Kind.DATA, "data")),
        ("no_data", "", "", (Kind.DATA, "data")),
        ("drift", "income", "", (Kind.INPUT, "input:income")),
        ("explanation", "purpose", "", (Kind.INPUT, "input:purpose")),
        ("drift", "score", "", (Kind.PERFORMANCE, "performance")),
        ("estimated_performance", "", "", (Kind.PERFORMANCE, "performance")),
        ("performance", "", "", (Kind.PERFORMANCE, "performance")),
        ("fairness", "", "age_band", (Kind.FAIRNESS, "fairness:age_band")),
    ],
)
def test_each_family_has_one_cause(
    family: str, feature: str, attribute: str, expected: tuple[Kind, str]
) -> None:
    assert cause_of(family, feature, attribute) == expected


def test_an_alert_joins_when_its_window_starts_within_one_window_of_the_span() -> None:
    span = Span(T0, T0 + DAY)
    assert joins(span, facts(2))  # starts where the span ends
    assert joins(span, facts(3))  # starts one window (the gap) after it ends
    assert not joins(span, facts(3.01))


def test_an_incident_resolves_only_after_all_its_alerts_stayed_resolved_for_a_window() -> None:
    done = [facts(1, open_=False, resolved_days=2), facts(1, open_=False, resolved_days=2.5)]
    assert not resolves(done, T0 + 3.49 * DAY)
    assert resolves(done, T0 + 3.5 * DAY)
    assert not resolves([*done, facts(3)], T0 + 9 * DAY)  # one still open


def test_causes_rank_data_first_then_inputs_by_relative_excess() -> None:
    span = Span(T0, T0 + 2 * DAY)
    own = Neighbour(1, Kind.PERFORMANCE, "performance", span, [facts(2, family="performance", feature="")])
    others = [
        Neighbour(2, Kind.INPUT, "input:purpose", span, [facts(2, feature="purpose", value=0.15)]),
        Neighbour(3, Kind.INPUT, "input:income", span, [facts(2, value=0.4)]),
        Neighbour(4, Kind.DATA, "data", span, [facts(2, family="data_quality", value=0.11)]),
        Neighbour(
            5, Kind.INPUT, "input:debt", Span(T0 + 9 * DAY, T0 + 10 * DAY), [facts(10, feature="debt")]
        ),
    ]
    ranked = rank_causes(Kind.PERFORMANCE, span, others, own)
    assert [(c.kind, c.subject, c.incident_id) for c in ranked] == [
        ("data", "data", 4),
        ("input", "income", 3),  # 300 % past its threshold
        ("input", "purpose", 2),  # 50 %; debt drifted a week later and is not a candidate
    ]
    assert excess(0.4, 0.1) == pytest.approx(3.0) and excess(0.6, 0.8) == pytest.approx(0.25)


def test_with_no_candidate_a_performance_incident_is_unexplained_and_an_input_one_names_itself() -> None:
    span = Span(T0, T0 + DAY)
    drop = Neighbour(1, Kind.PERFORMANCE, "performance", span, [facts(1, family="performance")])
    assert [c.kind for c in rank_causes(Kind.PERFORMANCE, span, [], drop)] == ["unexplained"]
    drifted = Neighbour(2, Kind.INPUT, "input:income", span, [facts(1)])
    assert [c.subject for c in rank_causes(Kind.INPUT, span, [drop], drifted)] == ["income"]
    assert severity_of([facts(1), facts(1, severity="critical")]) == "critical"


def test_a_realised_drop_the_estimate_did_not_see_ranks_a_concept_shift_after_data_only() -> None:
    span = Span(T0, T0 + DAY)
    drop = Neighbour(1, Kind.PERFORMANCE, "performance", span, [facts(1, family="performance")])
    others = [
        Neighbour(2, Kind.INPUT, "input:income", span, [facts(1, value=0.5)]),
        Neighbour(3, Kind.DATA, "data", span, [facts(1, family="data_quality")]),
    ]
    kinds = [c.kind for c in rank_causes(Kind.PERFORMANCE, span, others, drop, estimate_held=True)]
    assert kinds == ["data", "concept", "input"]
    estimated = Neighbour(
        1, Kind.PERFORMANCE, "performance", span, [facts(1, family="estimated_performance")]
    )
    kinds = [c.kind for c in rank_causes(Kind.PERFORMANCE, span, others, estimated, estimate_held=True)]
    assert kinds == ["data", "input"]  # an estimated drop alone is the inputs' doing
