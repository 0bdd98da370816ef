"""The compliance report as one print-ready HTML page (no script, no external resource).

Every text that came from clients or the database is escaped (``html.escape``). Print: A4,
each version's section and each later part on a new page, table headers repeated on every page,
rows never split across pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from service.alerting.incident_schemas import IncidentView
from service.alerting.schemas import AlertView
from service.reports.compliance import ComplianceReport, VersionSection
from service.reports.compliance_html_text import RETENTION, STYLE, SUPPRESSION
from service.reports.compliance_tables import (
    CALIBRATION,
    FairnessTable,
    GroupRow,
    Shown,
    class_metric,
    size_metric,
    split_class,
)

HIDDEN = '<span class="suppressed">suppressed</span>'
# The group table's columns (metric, header) by the model's task: a classifier's decisions, or
# a regression model's errors (mean error: over-prediction is positive; n: labelled rows).
RATE_COLUMNS = (
    ("selection_rate", "selection rate"),
    ("impact_ratio", "impact ratio"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("ppv", "PPV"),
)
ERROR_COLUMNS = (("mean_error", "mean error (prediction − outcome)"), ("mae", "MAE"))


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def interval(cell: Shown) -> str:
    if cell.ci_low is None or cell.ci_high is None:
        return "—"
    return f"[{cell.ci_low:.4f}, {cell.ci_high:.4f}]"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """Cells are HTML already (escape before); ``css`` is the table's class."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return '<p class="none">None.</p>'
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure_row(cell: Shown, subject: str = "") -> list[str]:
    name = escape(cell.metric) + (f" <small>{escape(subject)}</small>" if subject else "")
    if cell.hidden:
        return [name, HIDDEN, HIDDEN, HIDDEN, number(cell.threshold), "suppressed"]
    return [
        name,
        number(cell.value),
        interval(cell),
        f"{cell.n:,}",
        number(cell.threshold),
        escape(cell.status),
    ]


FIGURE_HEADERS = ("metric", "value", "interval", "n", "threshold", "status")


def _rate(cell: Shown | None) -> str:
    if cell is None:
        return "—"
    if cell.hidden:
        return HIDDEN
    return f"{number(cell.value)}<br><small>{interval(cell)} n={cell.n:,}</small>"


def _n(cells: dict[str, Shown]) -> str:
    size = size_metric(cells)
    rate = None if size is None else cells[size]
    return "—" if rate is None else HIDDEN if rate.hidden else f"{rate.n:,}"


def _group_table(rows: Sequence[GroupRow]) -> str:
    """Decisions per group for a classifier (a multiclass model: one-vs-rest, a table per
    class); errors per group for a regression model."""
    classes = sorted({label for r in rows for m in r.cells if (label := split_class(m)[1]) is not None})
    if classes:
        return "".join(_class_table(rows, label) for label in classes)
    errors = not any("selection_rate" in r.cells for r in rows) and any("mae" in r.cells for r in rows)
    if errors:
        return _rows_table(rows, ERROR_COLUMNS, "n (labelled)")
    return _rows_table(rows, RATE_COLUMNS, "n")


def _class_table(rows: Sequence[GroupRow], label: str) -> str:
    """One class of a multiclass model, one-vs-rest: "positive" means predicted (or labelled)
    ``label``. No impact ratio: the engine's per-class disparities stand for it."""
    columns = [(class_metric(m, label), header) for m, header in RATE_COLUMNS if m != "impact_ratio"]
    return f"<h4>class {escape(label)}</h4>" + _rows_table(rows, columns, "n")


def _rows_table(rows: Sequence[GroupRow], columns: Sequence[tuple[str, str]], n: str) -> str:
    body = [[escape(r.group), _n(r.cells), *(_rate(r.cells.get(m)) for m, _ in columns)] for r in rows]
    return table(("group", n, *(header for _, header in columns)), body, "fairness")


def fairness_table(t: FairnessTable) -> str:
    groups = _group_table(t.rows)
    calibrated = [[escape(r.group), *(_rate(r.cells.get(m)) for m in CALIBRATION)] for r in t.rows]
    calibration = ""
    if any(m in r.cells for r in t.rows for m in CALIBRATION):
        calibration = "<h4>Calibration</h4>" + table(
            ("group", "calibration-in-the-large", "ECE"), calibrated, "calibration"
        )
    rows = [_figure_row(d, f"class {d.feature}" if d.feature else "") for d in t.disparities]
    disparities = table(FIGURE_HEADERS, rows, "disparities")
    return (
        f'<section class="attribute" data-attribute="{escape(t.attribute)}"><h3>{escape(t.attribute)}</h3>'
        f"{groups}{calibration}<h4>Disparities</h4>{disparities}</section>"
    )


def _coverage(v: VersionSection) -> str:
    c = v.coverage
    rows = "—" if v.tables is not None and v.tables.rows_hidden else f"{v.rows:,}"
    period = "—" if v.label_coverage is None else f"{v.label_coverage:.1%}"
    stored = (
        f"{c.windows} stored windows inside the period; coverage lowest {number(c.lowest)}, "
        f"median {number(c.median)}, highest {number(c.highest)}"
        if c.windows
        else "no stored window lies inside the period"
    )
    return f"<p>{rows} predictions, label coverage {period} over the period; {stored}.</p>"


def _breaches(v: VersionSection) -> str:
    rows = [
        [
            escape(b.family),
            escape(b.metric),
            escape(b.subject),
            str(b.windows),
            f"{when(b.first_end)} – {when(b.last_end)}",
            HIDDEN if b.hidden else number(b.worst),
            number(b.threshold),
        ]
        for b in v.breaches
    ]
    shown = sum(b.windows for b in v.breaches)
    cut = f"<p>Only the first {shown:,} of {v.breach_figures:,} alerting figures are listed.</p>"
    headers = ("family", "metric", "subject", "windows", "window ends", "worst value", "threshold")
    return table(headers, rows, "breaches") + (cut if shown < v.breach_figures else "")


def _requests(v: VersionSection) -> str:
    rows = []
    for r in v.requests:
        reasons = [x for x in r.evidence.get("reasons") or [] if isinstance(x, dict)]
        text = "; ".join(
            f"{x.get('family')} {x.get('metric')} {x.get('feature') or ''}".strip() for x in reasons
        )
        rows.append(
            [str(r.id), when(r.created_at), f"{when(r.window_start)} – {when(r.window_end)}", escape(text)]
        )
    return table(("id", "requested", "trigger window", "reasons"), rows, "requests")


def _figures(cells: Sequence[Shown], css: str) -> str:
    return table(FIGURE_HEADERS, [_figure_row(c) for c in cells], css)


def version_section(v: VersionSection, report: ComplianceReport) -> str:
    title = f"Version {escape(v.version)}"
    if v.tables is None or v.window is None:
        return (
            f'<section class="version"><h2>{title}</h2><p>No bins yet: nothing was evaluated.</p></section>'
        )
    t = v.tables
    return (
        f'<section class="version" data-version="{escape(v.version)}"><h2>{title}</h2>'
        f'<p class="running">{escape(report.model)} {escape(v.version)} · {when(v.window[0])} – '
        f"{when(v.window[1])} · reference <code>{escape((v.reference_hash or '')[:16])}</code></p>"
        f"<h3>Label coverage</h3>{_coverage(v)}"
        f"<h3>Realised performance</h3>{_figures(t.performance, 'performance')}"
        f"<h3>Estimated performance (without labels)</h3>{_figures(t.estimated, 'estimated')}"
        f"<h3>Fairness per group and intersection</h3>{''.join(fairness_table(f) for f in t.fairness)}"
        f"<h3>Thresholds over the period</h3>{_figures(v.thresholds, 'thresholds')}"
        f"<h3>Breaches in stored windows</h3>{_breaches(v)}"
        f"<h3>Retraining requests</h3>{_requests(v)}</section>"
    )


def _notes(i: IncidentView) -> str:
    notes = "".join(f"<li>{escape(n.by)}, {when(n.at)}: {escape(n.note)}</li>" for n in i.notes)
    return f"<ul>{notes}</ul>" if notes else "not acknowledged"


def incidents(items: Sequence[IncidentView], cut: bool) -> str:
    rows = [
        [
            str(i.id),
            escape(i.kind),
            escape(i.title),
            escape(str(i.state)),
            when(i.opened_at),
            when(i.resolved_at),
            str(i.alerts),
            _notes(i),
        ]
        for i in items
    ]
    note = f"<p>Only the {len(items)} newest incidents of the period are listed.</p>" if cut else ""
    headers = ("id", "kind", "title", "state", "opened", "resolved", "alerts", "acknowledgements")
    return table(headers, rows, "incidents") + note


def _ack(a: AlertView) -> str:
    if a.acknowledged_at is None:
        return "—"
    return (
        f"{escape(a.acknowledged_by or '')}, {when(a.acknowledged_at)}: {escape(a.acknowledge_comment or '')}"
    )


def alerts(items: Sequence[AlertView], cut: bool) -> str:
    rows = [
        [
            str(a.id),
            escape(a.version or "—"),
            escape(a.family),
            escape(a.metric),
            escape(a.feature or a.attribute or "—"),
            escape(a.severity),
            escape(str(a.state)),
            when(a.fired_at),
            when(a.resolved_at),
            "—" if a.incident_id is None else str(a.incident_id),
            _ack(a),
        ]
        for a in items
    ]
    headers = (
        "id",
        "version",
        "family",
        "metric",
        "subject",
        "severity",
        "state",
        "fired",
        "resolved",
        "incident",
        "acknowledged",
    )
    note = f"<p>Only the {len(items)} newest alerts of the period are listed.</p>" if cut else ""
    return table(headers, rows, "alerts") + note


def history(report: ComplianceReport) -> str:
    rows = [
        [
            when(c.at),
            escape(c.actor_name),
            f"<code>{escape(c.actor)}</code>",
            escape(c.action),
            escape(c.target),
            "<br>".join(escape(line) for line in c.changes) or "—",
        ]
        for c in report.history
    ]
    note = (
        f"<p>Only the {len(rows)} newest changes are listed; the audit log holds every one "
        "(<code>GET /v1/audit</code>).</p>"
        if report.history_cut
        else ""
    )
    return table(("at", "by", "key", "action", "target", "changes"), rows, "history") + note


def header(report: ComplianceReport) -> str:
    versions = ", ".join(escape(v.version) for v in report.versions)
    return (
        f'<header class="report-header"><h1>Compliance report: {escape(report.model)}</h1>'
        '<table class="meta">'
        f"<tr><th>model</th><td>{escape(report.model)}</td></tr><tr><th>versions</th><td>{versions}</td></tr>"
        f"<tr><th>period</th><td>{when(report.start)} – {when(report.end)}</td></tr>"
        f"<tr><th>generated</th><td>{when(report.generated_at)}</td></tr>"
        f"<tr><th>modelmon</th><td>{escape(report.modelmon_version)}</td></tr></table></header>"
    )


def render(report: ComplianceReport) -> str:
    suppression = SUPPRESSION.format(min_cell=report.min_cell, hidden=report.hidden_cells)
    retention = RETENTION.format(days=report.retention_days)
    title = f"Compliance report — {escape(report.model)} {when(report.start)} – {when(report.end)}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>{header(report)}"
        f'<section class="suppression"><h2>Small cells</h2>{suppression}</section>'
        + "".join(version_section(v, report) for v in report.versions)
        + f'<section class="part"><h2>Incidents</h2>{incidents(report.incidents, report.incidents_cut)}'
        f"<h2>Alerts</h2>{alerts(report.alerts, report.alerts_cut)}</section>"
        f'<section class="part"><h2>Monitoring configuration history</h2>{history(report)}</section>'
        f'<section class="retention"><h2>Data retention</h2>{retention}</section></body></html>'
    )
