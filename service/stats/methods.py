"""The drift methods a monitor chooses per column kind: the registry ``DRIFT_METHODS``.

A drift method is the effect size a column's decision compares with its threshold (the test
that gives its p-value stays KS for continuous columns and chi-square otherwise,
``verdict.py``). Each entry names the column kinds it applies to, reads its statistic from
the column's ``DriftStatistics``, gives the statistic's standard error when one is known
(else None: the decision then rests on the point value, ``windows/figures_drift.py``), the
direction in which the value means drift, and the threshold documented as its default.

Adding a method is one entry here plus its pure function (here or in ``drift.py``): the
monitor configuration, the decision and the docs' table read this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from service.stats.drift import DriftStatistics

ColumnKind = Literal["numeric", "discrete", "categorical"]
# Every distance here grows with drift: a value at or above the threshold is large. A method
# whose value fell with drift would need the interval rule of the decision layer flipped too.
Direction = Literal["above"]
NUMERIC_KINDS: frozenset[ColumnKind] = frozenset({"numeric", "discrete"})
ALL_KINDS: frozenset[ColumnKind] = frozenset({"numeric", "discrete", "categorical"})


@dataclass(frozen=True, slots=True)
class DriftMethod:
    """One selectable effect size; ``statistic`` and ``standard_error`` read a column's
    ``DriftStatistics`` (None: not computable, e.g. a profile's sums were lost)."""

    name: str
    kinds: frozenset[ColumnKind]
    statistic: Callable[[DriftStatistics], float | None]
    standard_error: Callable[[DriftStatistics], float | None]
    direction: Direction
    default_threshold: float
    summary: str

    def reaches(self, value: float, threshold: float) -> bool:
        """Whether ``value`` is at or past ``threshold`` on the drift side."""
        return value >= threshold


def _effect_se(statistics: DriftStatistics) -> float | None:
    return statistics.effect_se


def _unknown_se(_statistics: DriftStatistics) -> float | None:
    return None


DRIFT_METHODS: Mapping[str, DriftMethod] = {
    "wasserstein_norm": DriftMethod(
        name="wasserstein_norm",
        kinds=NUMERIC_KINDS,
        statistic=lambda s: s.wasserstein_norm,
        standard_error=_effect_se,
        direction="above",
        default_threshold=0.1,
        summary="Wasserstein-1 distance / reference std (floored at 0.001), from the fine bins",
    ),
    "jensen_shannon": DriftMethod(
        name="jensen_shannon",
        kinds=frozenset({"categorical"}),
        statistic=lambda s: s.jensen_shannon,
        standard_error=_effect_se,
        direction="above",
        default_threshold=0.1,
        summary="Jensen-Shannon distance (natural log, 0 to 0.833) over the categories plus other",
    ),
    "hellinger": DriftMethod(
        name="hellinger",
        kinds=ALL_KINDS,
        statistic=lambda s: s.hellinger,
        standard_error=_unknown_se,
        direction="above",
        default_threshold=0.1,
        summary="Hellinger distance √(1 − Σ √(p q)) (0 to 1) over the coarse bins or the categories",
    ),
}

# What a monitor uses without a choice (Evidently's defaults): the configuration's
# ``numeric_method`` covers continuous and discrete numeric columns.
DEFAULT_METHODS: Mapping[ColumnKind, str] = {
    "numeric": "wasserstein_norm",
    "discrete": "wasserstein_norm",
    "categorical": "jensen_shannon",
}


def methods_for(kind: ColumnKind) -> tuple[str, ...]:
    """The names of the methods that apply to ``kind``, sorted."""
    return tuple(sorted(name for name, method in DRIFT_METHODS.items() if kind in method.kinds))
