"""The compliance report's figure tables from one version's period figures, small cells hidden.

Every value is the engine's figure of the period (``windows.queries.period_figures``, the same
computation as ``POST …/evaluate``) except the per-group impact ratio, computed from the same
merged counts (``stats.impact``). Suppression: ``suppression.py``; the relations it is given
are stated in ``_relations``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from service.kernel.states import FigureStatus
from service.reports.suppression import Key, Relation, suppress
from service.stats.impact import impact_ratios
from service.windows.figures import Figure
from service.windows.figures_fairness import GROUP_JOIN, INTERSECTION_JOIN
from service.windows.queries import PeriodFigures

GROUP_RATES = ("selection_rate", "tpr", "fpr", "ppv")
CALIBRATION = ("calibration_in_the_large", "ece")
# A regression model's per-group errors (``stats.group_errors``): their n is the group's
# labelled rows, as is the overall figure's of the same name.
GROUP_ERRORS = ("mean_error", "mae")
# The cell whose n is a group's size, by what the model's task gives: hiding it hides the row.
SIZE_METRICS = ("selection_rate", "mae")
# A multiclass model's one-vs-rest cell of class c is kept under "<metric> class <c>": metric
# names hold no space, so the first CLASS_JOIN splits it back whatever the class's name.
CLASS_JOIN = " class "
# The overall figure whose n the groups' n add up to (selection rate: the period's rows).
OVERALL = {"tpr": "recall", "fpr": "specificity", "ppv": "precision", "ece": "ece"}
ROWS = "rows"


@dataclass(frozen=True, slots=True)
class Shown:
    """One cell as printed; ``hidden``: suppressed (value, interval and n withheld)."""

    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    status: str
    threshold: float | None = None
    feature: str | None = None
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class GroupRow:
    group: str
    # By metric. A classifier's n is its selection rate's cell and "impact_ratio" comes from
    # stats.impact; a regression model's n is its MAE's cell (labelled rows); a multiclass
    # model's cells are one-vs-rest, under ``class_metric`` (no impact ratio).
    cells: dict[str, Shown]


@dataclass(frozen=True, slots=True)
class FairnessTable:
    attribute: str
    rows: tuple[GroupRow, ...]
    disparities: tuple[Shown, ...]


@dataclass(frozen=True, slots=True)
class VersionTables:
    performance: tuple[Shown, ...]
    estimated: tuple[Shown, ...]
    fairness: tuple[FairnessTable, ...]
    hidden_cells: int
    rows_hidden: bool


NO_RATIO = Shown("impact_ratio", None, None, None, 0, "insufficient_data")


def shown(figure: Figure) -> Shown:
    return Shown(
        figure.metric, figure.value, figure.ci_low, figure.ci_high, figure.n, str(figure.status),
        figure.threshold, figure.feature,
    )  # fmt: skip


def _hide(cell: Shown) -> Shown:
    return replace(cell, value=None, ci_low=None, ci_high=None, n=0, hidden=True)


def class_metric(metric: str, label: str) -> str:
    return f"{metric}{CLASS_JOIN}{label}"


def split_class(key: str) -> tuple[str, str | None]:
    """(metric, class) of a cell's key; class None for a cell about every class."""
    metric, _, label = key.partition(CLASS_JOIN)
    return metric, (label if _ else None)


def _group_cells(period: PeriodFigures) -> dict[tuple[str, str], dict[str, Shown]]:
    """(attribute, group) → metric → the engine's cell; a multiclass model's one-vs-rest cells
    (``feature`` = the class) under ``class_metric``."""
    cells: dict[tuple[str, str], dict[str, Shown]] = {}
    for f in period.figures:
        if f.family == "fairness" and f.group is not None and f.attribute is not None:
            key = f.metric if f.feature is None else class_metric(f.metric, f.feature)
            cells.setdefault((f.attribute, f.group), {})[key] = shown(f)
    return cells


def size_metric(cells: Mapping[str, Shown]) -> str | None:
    """The metric of the cell that gives a group's size: the selection rate (classifiers: n =
    the group's rows; multiclass: any class's, all the same), else the MAE (regression: n = its
    labelled rows); None without either."""
    found = next((m for m in SIZE_METRICS if m in cells), None)
    per_class = (m for m in cells if m.startswith(f"selection_rate{CLASS_JOIN}"))
    return found if found is not None else min(per_class, default=None)


def _compared(cells: Mapping[str, Shown]) -> bool:
    """The engine compared the group by selection rate (big enough for its disparities)."""
    rate = cells.get("selection_rate")
    return rate is not None and rate.status != FigureStatus.INSUFFICIENT_DATA


def _impact(period: PeriodFigures, attribute: str, published: Iterable[str]) -> dict[str, Shown]:
    """Impact ratios among the published groups the engine compared: a hidden group is never
    the divisor, so no published ratio gives its rate away."""
    counts = period.groups.get(attribute, {})
    pairs = {g: (counts[g].predicted_positive, counts[g].n) for g in published if g in counts}
    return {
        r.group: Shown(
            "impact_ratio",
            r.value,
            r.ci_low,
            r.ci_high,
            r.n,
            "ok" if r.value is not None else "insufficient_data",
        )
        for r in impact_ratios(groups=pairs, confidence=period.confidence)
    }


def _relations(
    cells: Mapping[tuple[str, str], Mapping[str, Shown]], attributes: Iterable[str]
) -> list[Relation]:
    """Per metric: each attribute's groups add up to the overall figure's n; an intersection's
    cells sharing one attribute's value add up to that marginal group's cell. Selection rates
    (group sizes) first: hiding a group's size hides its whole row (``_rows``)."""
    relations = []
    present = {m for by_metric in cells.values() for m in by_metric}
    ordered = (*GROUP_RATES, *CALIBRATION, *GROUP_ERRORS)
    per_class = sorted(m for m in present if split_class(m)[1] is not None)
    # A class's selection rates first (their n is the group's size); its other cells' totals
    # (a class's labelled rows, …) are published nowhere: unknown totals, which protect.
    for metric in (*ordered, *sorted(per_class, key=lambda m: split_class(m)[0] != "selection_rate")):
        base, label = split_class(metric)
        overall: Key = (
            (ROWS,) if base == "selection_rate"
            else ("overall", OVERALL.get(base, base)) if label is None
            else ("overall", metric)
        )  # fmt: skip
        for attribute in attributes:
            groups = sorted(g for a, g in cells if a == attribute)
            relations.append(Relation(overall, tuple((attribute, g, metric) for g in groups)))
            names = attribute.split(INTERSECTION_JOIN)
            for position, name in enumerate(names if len(names) > 1 else []):
                for value in sorted({g.split(GROUP_JOIN)[position] for g in groups}):
                    parts = tuple(
                        (attribute, g, metric) for g in groups if g.split(GROUP_JOIN)[position] == value
                    )
                    relations.append(Relation((name, value, metric), parts))
    return relations


def _rows(cells: Mapping[tuple[str, str], Mapping[str, Shown]]) -> dict[Key, list[Key]]:
    """A group's size (``size_metric``'s n) hidden hides every cell of its row."""
    return {
        (a, g, size): [(a, g, m) for m in by_metric if m != "impact_ratio"]
        for (a, g), by_metric in cells.items()
        if (size := size_metric(by_metric)) is not None
    }


def _counts(period: PeriodFigures, cells: Mapping[tuple[str, str], Mapping[str, Shown]]) -> dict[Key, int]:
    counts: dict[Key, int] = {(ROWS,): period.rows}
    for f in period.figures:
        if f.family == "performance" and f.group is None:
            counts[("overall", f.metric)] = f.n
    for (attribute, group), by_metric in cells.items():
        for metric, cell in by_metric.items():
            if metric != "impact_ratio":
                counts[(attribute, group, metric)] = cell.n
    return counts


def _disparities(period: PeriodFigures, attribute: str, unsafe: bool) -> tuple[Shown, ...]:
    """The attribute's disparities; hidden when a hidden group was among those compared."""
    found = [
        shown(f)
        for f in period.figures
        if f.family == "fairness" and f.group is None and f.attribute == attribute
    ]
    return tuple(_hide(d) if unsafe and d.metric != "representation_shift" else d for d in found)


def _table(
    period: PeriodFigures,
    attribute: str,
    cells: Mapping[tuple[str, str], dict[str, Shown]],
    hidden: frozenset[Key],
) -> FairnessTable:
    mine = {g: by_metric for (a, g), by_metric in sorted(cells.items()) if a == attribute}
    gone = {g for g, by_metric in mine.items() if (attribute, g, size_metric(by_metric)) in hidden}
    impact = _impact(period, attribute, [g for g in mine if g not in gone and _compared(mine[g])])
    rows = []
    for group, by_metric in mine.items():
        out = {
            m: _hide(c) if group in gone or (attribute, group, m) in hidden else c
            for m, c in by_metric.items()
        }
        if "selection_rate" in by_metric:  # a classifier's groups: regression has no decisions
            out["impact_ratio"] = _hide(NO_RATIO) if group in gone else impact.get(group, NO_RATIO)
        rows.append(GroupRow(group, out))
    # A hidden cell the engine used (not insufficient_data) may be the max or min of a disparity.
    unsafe = any(
        c.status != FigureStatus.INSUFFICIENT_DATA
        for g, by_metric in mine.items()
        for m, c in by_metric.items()
        if g in gone or (attribute, g, m) in hidden
    )
    return FairnessTable(attribute, tuple(rows), _disparities(period, attribute, unsafe))


def _overall(period: PeriodFigures, family: str, min_cell: int, hidden: frozenset[Key]) -> tuple[Shown, ...]:
    cells = [
        shown(f) for f in period.figures if f.family == family and f.group is None and f.attribute is None
    ]
    gone = {
        c.metric
        for c in cells
        if 0 < c.n < min_cell or (family == "performance" and ("overall", c.metric) in hidden)
    }
    return tuple(_hide(c) if c.metric in gone else c for c in cells)


def version_tables(period: PeriodFigures, min_cell: int) -> VersionTables:
    """Performance, estimated performance and per-attribute fairness tables of the period, with
    every cell about fewer than ``min_cell`` people (and its complements) hidden."""
    cells = _group_cells(period)
    attributes = list(period.groups)
    hidden = suppress(_counts(period, cells), _relations(cells, attributes), min_cell, _rows(cells))
    tables = tuple(_table(period, a, cells, hidden) for a in attributes)
    performance = _overall(period, "performance", min_cell, hidden)
    estimated = _overall(period, "estimated_performance", min_cell, hidden)
    count = sum(c.hidden for t in tables for r in t.rows for c in r.cells.values())
    count += sum(c.hidden for c in (*performance, *estimated))
    return VersionTables(performance, estimated, tables, count, (ROWS,) in hidden)
