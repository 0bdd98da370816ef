"""The failing slices of a performance incident: for whom the performance dropped.

Over the incident's span, the stored bucket profiles of the newest version among its alerts
are merged (``aggregation.queries.range_profile``) and searched (``stats/slice_search``: one-
sided exact / Welch tests, Benjamini–Hochberg at 5%); the top ``TOP`` discoveries go into the
incident's summary (``incidents.slices``, JSON) and its title. Recomputed when the span moves:
a late label alone does not move it, so the slices can lag by a step until the next window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.aggregation import queries as aggregation
from service.stats.slice_search import DEFAULT_METRIC, SliceFinding, search_slices
from service.stats.slices import plan_of
from service.storage.alerting_tables import Alert

TOP = 3
# Alert metrics whose slice view is the true- or false-positive rate rather than the error rate.
_METRIC_OF = {
    "recall": "tpr",
    "tpr": "tpr",
    "true_positive_rate": "tpr",
    "fpr": "fpr",
    "false_positive_rate": "fpr",
}


def _metric(task: str, alerts: list[Alert]) -> str:
    """TPR or FPR when every alert is on that one; otherwise the error rate (MAE: regression)."""
    if task != "binary_classification":
        return DEFAULT_METRIC[task]
    named = {_METRIC_OF.get(a.metric) for a in alerts}
    only = named.pop() if len(named) == 1 else None
    return only or DEFAULT_METRIC[task]


def cell_text(kind: str, column: str, value: str) -> str:
    """ "purpose = home", "income < 31.2", "income >= 88", "income in [31.2, 40.5)"."""
    if kind != "numeric" or value.startswith("("):
        return f"{column} = {value}"
    if value.startswith(("<", ">")):
        return f"{column} {value}"
    return f"{column} in {value}"


def slice_json(finding: SliceFinding, metric: str) -> dict[str, Any]:
    return {
        "slice": [{"kind": k, "column": c, "value": v} for k, c, v in finding.cells],
        "metric": metric,
        "n": finding.n,
        "value": round(finding.value, 6),
        "ci_low": round(finding.low, 6),
        "ci_high": round(finding.high, 6),
        "rest_value": round(finding.rest_value, 6),
        "gap": round(finding.gap, 6),
        "q_value": finding.q_value,
    }


def top_slices(session: Session, alerts: list[Alert], span: tuple[Any, Any]) -> list[dict[str, Any]] | None:
    """The top failing slices over ``span``; None when no alert names a version, the version has
    no layout, or part of the span was profiled before slice counts were kept."""
    versions = [a.version_id for a in alerts if a.version_id is not None]
    if not versions:
        return None
    found = aggregation.range_profile(session, max(versions), span[0], span[1])
    if found is None:
        return None
    layout, profile = found
    plan = plan_of(layout)
    if profile.slices is None or len(profile.slices.cells) != plan.size:
        return None
    metric = _metric(layout.task, alerts)
    search = search_slices(plan, profile.slices, task=layout.task, metric=metric)
    return [slice_json(f, metric) for f in search.findings[:TOP]]


def describe(item: dict[str, Any]) -> str:
    """E.g. "purpose = home & income >= 88 (error_rate 0.41 vs 0.20, n=96)"."""
    cells = " & ".join(cell_text(c["kind"], c["column"], c["value"]) for c in item["slice"])
    return f"{cells} ({item['metric']} {item['value']:.2f} vs {item['rest_value']:.2f}, n={item['n']})"
