"""The simulated world: deterministic per seed, and each injected problem really present."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from service.demo.scenario import (
    AGE_BANDS,
    DAY,
    HOUR,
    LABEL_HOUR,
    TARGET_BAND,
    Applicants,
    Timeline,
    World,
    injections,
    plan_for,
)

PLAN = plan_for(6)


def _day(world: World, day: float, per_day: float = 20_000) -> Applicants:
    return world.applicants(world.arrivals(day * DAY, (day + 1) * DAY, per_day))


def _auc(batch: Applicants) -> float:
    """ROC AUC of the scorer against the outcomes (Mann-Whitney U / n₁n₀)."""
    ranks = rankdata(batch.score)
    positives = batch.label == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def test_the_same_seed_gives_the_same_world() -> None:
    first, second = _day(World(3, PLAN), 20), _day(World(3, PLAN), 20)
    assert np.array_equal(first.t, second.t) and np.array_equal(first.income, second.income)
    assert np.array_equal(first.purpose, second.purpose) and np.array_equal(first.label, second.label)
    assert not np.array_equal(first.income[:100], _day(World(4, PLAN), 20).income[:100])


def test_the_plan_scales_with_the_run_and_keeps_its_order() -> None:
    short = plan_for(3)
    assert short.days == 21 and short.label_delay == 7 * DAY
    assert PLAN.days == 42 and PLAN.label_delay == 14 * DAY
    for plan in (short, PLAN):
        starts = [i.start for i in injections(plan)]
        assert starts == sorted(starts) and starts[0] > 0 and starts[-1] < plan.end / 2
        assert all(s % HOUR == 0 for s in starts)


def test_incomes_rise_gradually_by_thirty_percent() -> None:
    world = World(1, PLAN)
    before, middle, after = (np.median(_day(world, d).income) for d in (2, 18, 35))
    assert 0.97 < before / 42_000 < 1.03
    assert 1.08 < middle / before < 1.22  # halfway up the ramp
    assert 1.25 < after / before < 1.35


def test_debt_consolidation_jumps_overnight() -> None:
    world = World(1, PLAN)
    switch = PLAN.purpose_at / DAY
    share = [float(np.mean(_day(world, d).purpose == "debt_consolidation")) for d in (switch - 1, switch)]
    assert abs(share[0] - 0.20) < 0.02 and abs(share[1] - 0.55) < 0.02


def test_the_scorer_decays_after_the_concept_shift() -> None:
    world = World(1, PLAN)
    assert _auc(_day(world, 3)) > 0.72
    assert _auc(_day(world, 30)) < 0.65


def test_young_applicants_are_approved_less_once_the_gap_opens() -> None:
    world = World(1, PLAN)
    for day, widest in ((5, 0.04), (35, None)):
        batch = _day(world, day)
        rates = {band: float(batch.decision[batch.age_band == band].mean()) for band in AGE_BANDS}
        others = [rate for band, rate in rates.items() if band != TARGET_BAND]
        if widest is not None:
            assert max(rates.values()) - min(rates.values()) < widest
        else:
            assert min(others) - rates[TARGET_BAND] > 0.15


def test_labels_arrive_weeks_late_in_a_nightly_batch() -> None:
    batch = _day(World(1, PLAN), 10)
    arrived = np.isfinite(batch.label_at)
    assert 0.93 < arrived.mean() < 0.97  # 5 % of applications never get an outcome
    delay = batch.label_at[arrived] - batch.t[arrived]
    assert delay.min() >= PLAN.label_delay and delay.max() <= PLAN.label_delay + PLAN.label_spread + DAY
    assert np.all(batch.label_at[arrived] % DAY == LABEL_HOUR * HOUR)


def test_a_timeline_maps_scenario_time_onto_the_server_clock() -> None:
    from datetime import UTC, datetime

    start = datetime(2026, 10, 11, tzinfo=UTC)
    fast, real = Timeline(start), Timeline(start, scale=60 / DAY)
    assert fast.at(DAY) == datetime(2026, 10, 12, tzinfo=UTC)
    assert real.at(DAY) == datetime(2026, 10, 11, 0, 1, tzinfo=UTC)
    assert real.offset(real.at(5 * HOUR)) == 5 * HOUR and real.seconds(DAY) == 60
