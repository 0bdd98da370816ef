"""Simulated coverage of the performance intervals (benchmarks/coverage/performance.py).

Each test re-runs scenarios of the benchmark table with 1,000 windows: a 95 % interval's
coverage then has a Monte Carlo SE of ~0.007, so 0.93 sits 3 SE below a coverage of 0.95.
The scenarios kept here are those whose 4,000-window coverage in the table is ≥ 0.943
(pre-existing Wilson rates oscillate around 0.935-0.95 at some (n, p); those rows are in the
table only, as are the documented heavy-tail misses that ``claimed`` excludes). Rows at
nominal 0.999 must reach 0.99 (10 misses in 1,000 where about 1 is expected).
"""

from __future__ import annotations

import pytest

from benchmarks.coverage.common import CoverageRow
from benchmarks.coverage.performance import (
    ERROR_LAWS,
    STRICT,
    binary_rows,
    cbpe_rows,
    claimed,
    floor,
    multiclass_rows,
    regression_rows,
)

REPS = 1_000


def _check(rows: list[CoverageRow]) -> None:
    assert rows
    for row in rows:
        assert row.reps - row.skipped >= 200, row  # enough windows served an interval to judge
        if claimed(row):
            assert row.coverage >= floor(row), row


@pytest.mark.slow
def test_binary_intervals_cover() -> None:
    scenarios = (
        ("beta", 150),
        ("beta", 20_000),
        ("strong", 20_000),
        ("rare_calibrated", 300),
        ("overconfident", 2_000),
    )
    rows = binary_rows(REPS, 101, scenarios)
    assert {row.interval for row in rows} == {"accuracy", "precision", "recall", "specificity", "f1"} | {
        "brier",
        "log_loss",
        "roc_auc",
        "pr_auc",
        "ece",
    }
    _check(rows)


@pytest.mark.slow
def test_multiclass_intervals_cover() -> None:
    _check(multiclass_rows(REPS, 102))


@pytest.mark.slow
def test_regression_intervals_cover_except_where_documented() -> None:
    rows = regression_rows(REPS, 103, ERROR_LAWS[:3] + ERROR_LAWS[4:5], (100, 1_000))
    _check(rows)
    # the documented t₃ miss is real: RMSE's interval cannot cover when Var(e²) is infinite
    t3 = regression_rows(REPS, 104, ERROR_LAWS[3:4], (1_000,))
    assert [r.coverage < 0.93 for r in t3 if r.interval == "rmse"] == [True]


@pytest.mark.slow
def test_cbpe_intervals_cover_the_realised_figures() -> None:
    _check(cbpe_rows(REPS, 105, (1_000, 100_000), (1,)))
    _check(cbpe_rows(REPS, 106, (10_000,), (2,)))


@pytest.mark.slow
def test_intervals_stay_valid_at_confidence_0_999() -> None:
    # the scenarios of ``strict_rows`` that are cheapest to re-run
    _check(binary_rows(REPS, 107, (("strong", 400),), STRICT))
    _check(regression_rows(REPS, 108, ERROR_LAWS[:2], (30,), STRICT))
    _check(cbpe_rows(REPS, 109, (10_000,), (2,), STRICT))
