"""The small-cell rule (service/reports/suppression.py) on hand-made tables, checked by brute
force: after suppression, no stated sum has exactly one hidden member; and the per-group impact
ratio (service/stats/impact.py) against an independent Katz interval."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence

import numpy as np
import pytest
from scipy import stats

from service.reports.suppression import Relation, suppress
from service.stats.impact import impact_ratios


def _exposed(hidden: frozenset[Hashable], relations: list[Relation]) -> list[Relation]:
    return [
        r for r in relations if sum(m in hidden for m in (*r.parts, r.total)) == 1 and r.total is not None
    ]


def test_one_small_group_takes_the_smallest_other_with_it() -> None:
    counts: dict[Hashable, int] = {"rows": 1_000, "a": 600, "b": 395, "c": 5}
    relations = [Relation("rows", ("a", "b", "c"))]
    assert suppress(counts, relations, 10) == {"c", "b"}
    assert suppress(counts, relations, 3) == set()  # nothing below the minimum, nothing hidden


def test_two_small_groups_protect_each_other() -> None:
    counts: dict[Hashable, int] = {"rows": 1_000, "a": 985, "b": 7, "c": 8}
    assert suppress(counts, [Relation("rows", ("a", "b", "c"))], 10) == {"b", "c"}


def test_a_cell_about_nobody_stays() -> None:
    counts: dict[Hashable, int] = {"rows": 1_000, "a": 1_000, "b": 0}
    assert suppress(counts, [Relation("rows", ("a", "b"))], 10) == set()


def test_an_unpublished_total_gives_nothing_away() -> None:
    counts: dict[Hashable, int] = {"a": 500, "b": 4}
    assert suppress(counts, [Relation(None, ("a", "b"))], 10) == {"b"}


def test_a_hidden_row_hides_its_cells_before_complements_are_chosen() -> None:
    counts: dict[Hashable, int] = {
        "rows": 100,
        "a": 80,
        "b": 15,
        "c": 5,
        "tp": 40,
        "a.tp": 30,
        "b.tp": 8,
        "c.tp": 2,
    }
    relations = [Relation("rows", ("a", "b", "c")), Relation("tp", ("a.tp", "b.tp", "c.tp"))]
    together: dict[Hashable, Sequence[Hashable]] = {"a": ["a.tp"], "b": ["b.tp"], "c": ["c.tp"]}
    # c is small; b complements it and takes b.tp along, so a.tp stays published.
    assert suppress(counts, relations, 10, together) == {"b", "c", "b.tp", "c.tp"}


@pytest.mark.parametrize("seed", range(40))
def test_two_way_tables_end_with_no_sum_exposing_one_cell(seed: int) -> None:
    """Random 3×4 tables with margins and a grand total, some cells small: iterated row and
    column complements leave every stated sum with zero or at least two hidden members."""
    rng = np.random.default_rng(seed)
    cells = rng.choice([2, 5, 9, 30, 120, 400], size=(3, 4), p=[0.1, 0.1, 0.1, 0.2, 0.3, 0.2])
    counts: dict[Hashable, int] = {(i, j): int(cells[i, j]) for i, j in itertools.product(range(3), range(4))}
    counts |= {("row", i): int(cells[i].sum()) for i in range(3)}
    counts |= {("col", j): int(cells[:, j].sum()) for j in range(4)}
    counts["all"] = int(cells.sum())
    relations = [Relation(("row", i), tuple((i, j) for j in range(4))) for i in range(3)]
    relations += [Relation(("col", j), tuple((i, j) for i in range(3))) for j in range(4)]
    relations += [Relation("all", tuple(("row", i) for i in range(3)))]
    relations += [Relation("all", tuple(("col", j) for j in range(4)))]
    hidden = suppress(counts, relations, 10)
    assert {k for k, n in counts.items() if n < 10} <= hidden
    assert _exposed(hidden, relations) == []


def _katz(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float) -> tuple[float, float]:
    ratio = (x_a / n_a) / (x_b / n_b)
    se = math.sqrt(1 / x_a - 1 / n_a + 1 / x_b - 1 / n_b)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return ratio * math.exp(-z * se), ratio * math.exp(z * se)


def test_impact_ratios_divide_by_the_highest_selection_rate() -> None:
    groups = {"F": (136, 797), "M": (419, 803), "X": (30, 100)}
    ratios = {r.group: r for r in impact_ratios(groups=groups, confidence=0.9)}
    assert ratios["M"].value == 1.0 and ratios["M"].ci_low is None and ratios["M"].reference == "M"
    for name in ("F", "X"):
        x, n = groups[name]
        assert ratios[name].value == pytest.approx((x / n) / (419 / 803), rel=1e-12)
        assert (ratios[name].ci_low, ratios[name].ci_high) == pytest.approx(_katz(x, n, 419, 803, 0.9))
        assert ratios[name].n == n and ratios[name].reference == "M"
    nobody = impact_ratios(groups={"F": (0, 50), "M": (0, 60)}, confidence=0.95)
    assert [r.value for r in nobody] == [None, None]
