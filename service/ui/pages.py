"""The status pages' HTML. Every value from the database passes through ``e`` (html.escape,
quotes included) or ``charts``; links are paths under the app's root path, never absolute URLs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

from service.ui import charts
from service.ui.charts import fmt
from service.ui.schemas import (
    AlertRow,
    Chart,
    FailureRow,
    FairnessBlock,
    Health,
    ModelPage,
    ModelRow,
    Overview,
)
from service.ui.service import TOP_FEATURES, WINDOWS_SHOWN
from service.ui.slices import slices_section
from service.ui.style import CSS


def e(value: object) -> str:
    return escape(str(value), quote=True)


def when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def ago(seconds: float) -> str:
    """A duration for people: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def model_href(root: str, name: str, version: str | None = None) -> str:
    path = f"{root}/ui/models/{quote(name, safe='')}"
    return path if version is None else f"{path}?version={quote(version, safe='')}"


def sign_out(root: str, csrf: str | None) -> str:
    """The sign-out form of a page seen through a session (``csrf`` given), else nothing."""
    if csrf is None:
        return ""
    return (
        f'<form class="signout" method="post" action="{e(root)}/ui/logout">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}"><button type="submit">Sign out</button></form>'
    )


def layout(title: str, body: str, root: str, csrf: str | None = None) -> str:
    """A whole page: the inline stylesheet, the top bar (with a sign-out form when ``csrf``,
    the session's form token, is given), ``body`` (already escaped)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · modelmon</title><style>{CSS}</style></head><body>"
        f'<header class="top"><a class="brand" href="{e(root)}/ui">modelmon</a>'
        f'<nav><a href="{e(root)}/ui">Models</a><a href="{e(root)}/ui/incidents">Incidents</a>'
        f'<a href="{e(root)}/docs">API</a></nav>'
        f"{sign_out(root, csrf)}</header>"
        f"<main>{body}</main></body></html>"
    )


def pill(state: str) -> str:
    kind = state if state in ("firing", "pending", "ok", "resolved", "critical", "warning") else "idle"
    return f'<span class="pill {kind}">{e(state)}</span>'


def table(headers: Sequence[str], rows: Iterable[str], css: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(rows)
    # A narrow screen scrolls the table sideways instead of squeezing its columns.
    table_ = f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="table">{table_}</div>'


def empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


# ---------------------------------------------------------------- overview


def health_line(health: Health, now: datetime) -> str:
    waiting = f"<strong>{health.waiting}</strong> ended window{'s' if health.waiting != 1 else ''} waiting"
    if health.lag_seconds is not None:
        waiting += f" (oldest for {ago(health.lag_seconds)})"
    parts = [
        "Database <strong>ok</strong>",
        f"schema {e(health.schema or 'unknown')}",
        waiting,
        f"events aggregated through {e(when(health.folded_through))}",
        f"as of {e(when(now))}",
    ]
    return f'<p class="health" data-health>{" · ".join(parts)}</p>'


def _last_window(window: tuple[datetime, datetime] | None) -> str:
    if window is None:
        return '<span class="subtle">none yet</span>'
    return f"{e(when(window[0]))} → {e(when(window[1]))}"


def _model_row(row: ModelRow, root: str) -> str:
    status = row.status
    detail = {"firing": f" {row.firing}", "pending": f" {row.pending}"}.get(status, "")
    versions = ", ".join(e(v) for v in row.versions) or '<span class="subtle">none</span>'
    name = f'<a href="{e(model_href(root, row.name))}">{e(row.name)}</a>' if row.versions else e(row.name)
    return (
        f'<tr class="model" data-model="{e(row.name)}"><td>{name}</td><td>{versions}</td>'
        f"<td>{_last_window(row.last_window)}</td><td>{pill(status)}{detail}</td></tr>"
    )


def _alert_cells(alert: AlertRow) -> str:
    return (
        f"<td>{e(alert.family)}</td><td>{e(alert.metric)}</td><td>{e(alert.subject)}</td>"
        f'<td>{pill(alert.severity)}</td><td class="num">{e(fmt(alert.value))}</td>'
    )


def stamp(moment: datetime | None) -> str:
    """A time in a table cell, whose header says UTC."""
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _firing_row(alert: AlertRow, root: str, now: datetime) -> str:
    model = f'<a href="{e(model_href(root, alert.model, alert.version))}">{e(alert.model)}</a>'
    version = f' <span class="subtle">{e(alert.version)}</span>' if alert.version else ""
    since = f'{stamp(alert.since)} <span class="subtle">({ago((now - alert.since).total_seconds())})</span>'
    return (
        f'<tr class="alert" data-alert-id="{alert.id}" title="{e(alert.summary)}">'
        f'<td>{model}{version}</td>{_alert_cells(alert)}<td class="time">{since}</td></tr>'
    )


def _failure_row(failure: FailureRow, root: str) -> str:
    return (
        f'<tr class="failure" data-failure-job="{e(failure.job)}">'
        f'<td><a href="{e(model_href(root, failure.model))}">{e(failure.model)}</a></td>'
        f"<td>{e(failure.job)}</td><td>{e(failure.unit) or '—'}</td><td><code>{e(failure.error)}</code></td>"
        f'<td class="num">{failure.attempts}</td><td class="time">{stamp(failure.retry_at)}</td></tr>'
    )


def _failures(data: Overview, root: str) -> str:
    """Only when something fails: the units waiting for their retry (the others go on)."""
    if not data.failures:
        return ""
    rows = table(
        ("Model", "Job", "Unit", "Last error", "Attempts", "Next retry (UTC)"),
        (_failure_row(f, root) for f in data.failures),
        "failures",
    )
    return f"<h2>Failing work ({len(data.failures)})</h2>{rows}"


def overview_page(data: Overview, root: str, csrf: str | None = None) -> str:
    models = (
        table(
            ("Model", "Versions", "Last evaluated window", "Status"),
            (_model_row(m, root) for m in data.models),
            "models",
        )
        if data.models
        else empty("No model is registered yet. Register one with <code>POST /v1/models</code>.")
    )
    firing = (
        table(
            ("Model", "Family", "Metric", "Subject", "Severity", "Value", "Firing since (UTC)"),
            (_firing_row(a, root, data.now) for a in data.firing),
            "alerts firing",
        )
        if data.firing
        else empty("No alert is firing.")
    )
    body = (
        f"<h1>Status</h1>{health_line(data.health, data.now)}{_failures(data, root)}"
        f"<h2>Models ({len(data.models)})</h2>{models}"
        f"<h2>Firing alerts ({len(data.firing)})</h2>{firing}"
    )
    return layout("Status", body, root, csrf)


# ---------------------------------------------------------------- one model


def _alerts_table(alerts: Sequence[AlertRow], now: datetime, *, resolved: bool, versions: bool) -> str:
    """Open alerts with how long they have been open, or resolved ones with when they resolved;
    a version column only when the model has several."""
    rows = []
    for a in alerts:
        since = stamp(a.since)
        if not resolved:
            since += f' <span class="subtle">({ago((now - a.since).total_seconds())})</span>'
        cells = [
            f"<td>{pill(a.state)}</td>{_alert_cells(a)}",
            f'<td class="num">{e(fmt(a.threshold))}</td>',
            f"<td>{e(a.version or '—')}</td>" if versions else "",
            f'<td class="time">{since}</td>',
            f'<td class="time">{stamp(a.resolved_at)}</td>' if resolved else "",
        ]
        rows.append(f'<tr class="alert" data-alert-id="{a.id}" title="{e(a.summary)}">{"".join(cells)}</tr>')
    headers = ["State", "Family", "Metric", "Subject", "Severity", "Value", "Threshold"]
    headers += ["Version"] if versions else []
    headers += ["Since (UTC)", "Resolved (UTC)"] if resolved else ["Open since (UTC)"]
    return table(headers, rows, "alerts resolved" if resolved else "alerts open")


def _versions(page: ModelPage, root: str) -> str:
    links = [
        f'<span class="current">{e(v)}</span>'
        if v == page.version
        else f'<a href="{e(model_href(root, page.name, v))}">{e(v)}</a>'
        for v in reversed(page.versions)
    ]
    return f'<span class="versions">{"".join(links)}</span>'


def _meta(page: ModelPage, root: str) -> str:
    coverage = "—" if page.label_coverage is None else f"{page.label_coverage:.0%}"
    items = [
        f"version {_versions(page, root)}",
        f"task <strong>{e(page.task)}</strong>",
        f"last window <strong>{_last_window(page.last_window)}</strong>",
        f"labelled in it <strong>{coverage}</strong>",
        f"windows shown <strong>{page.windows}</strong> (at most {WINDOWS_SHOWN})",
    ]
    return f'<div class="meta">{"".join(f"<span>{i}</span>" for i in items)}</div>'


def _charts(charts_: Sequence[Chart]) -> str:
    return f'<div class="charts">{"".join(charts.figure(c) for c in charts_)}</div>'


def _drift(page: ModelPage) -> str:
    if page.drift is None:
        return empty("No drift figure is stored for this version yet.")
    shown = min(TOP_FEATURES, page.drift_features)
    note = (
        f'<p class="note">The {shown} of {page.drift_features} features (and outputs) with the highest '
        "drift score in the newest window. A feature drifts when its score passes the threshold and "
        "its BH-adjusted p-value is below α.</p>"
    )
    return _charts([page.drift]) + note + _multivariate(page)


def _multivariate(page: ModelPage) -> str:
    if page.multivariate is None:
        return ""
    note = (
        '<p class="note">How far the distribution of each row\'s PCA reconstruction error (fitted on the '
        "reference's numeric features) has moved, in reference standard deviations, with its interval. "
        "It sees changes in how features move together that no per-feature score shows; it is judged "
        "like a feature's drift score.</p>"
    )
    return _charts([page.multivariate]) + note


def _fairness(blocks: Sequence[FairnessBlock]) -> str:
    if not blocks:
        return empty("No fairness figure is stored for this version yet (it needs protected attributes).")
    parts = []
    for block in blocks:
        groups = ", ".join(f'<span class="group">{e(g)}</span>' for g in block.groups) or "—"
        parts.append(
            f'<section class="fairness" data-attribute="{e(block.attribute)}">'
            f'<h3>{e(block.attribute)} <span class="subtle">· groups: {groups}</span></h3>'
            f"{_charts(block.charts)}</section>"
        )
    return "".join(parts)


def model_page(page: ModelPage, root: str, csrf: str | None = None) -> str:
    several = len(page.versions) > 1
    open_ = (
        _alerts_table(page.open_alerts, page.now, resolved=False, versions=several)
        if page.open_alerts
        else empty("No open alert.")
    )
    recent = (
        _alerts_table(page.recent_alerts, page.now, resolved=True, versions=several)
        if page.recent_alerts
        else empty("No resolved alert yet.")
    )
    performance = _charts(page.performance) if page.performance else empty("No performance figure yet.")
    body = (
        f'<p class="subtle"><a href="{e(root)}/ui">Models</a> / {e(page.name)}</p>'
        f'<h1 data-model="{e(page.name)}">{e(page.name)}</h1>{_meta(page, root)}'
        f"<h2>Open alerts ({len(page.open_alerts)})</h2>{open_}"
        f"<h2>Drift</h2>{_drift(page)}"
        "<h2>Performance</h2>"
        '<p class="note">Realised figures with their interval; the dotted line is the estimate made '
        "without labels. A hollow point on a dashed line is provisional: fewer labels than the monitor's "
        "label coverage have arrived, so it may still move and it never alerts. A red rim is an alert: the "
        "whole interval is past the threshold. An amber rim is <em>watch</em>: the value is past the "
        "threshold but its interval still reaches it, so the window's rows cannot tell yet.</p>"
        f"{performance}{slices_section(page.slices) if page.last_window else ''}"
        f"<h2>Fairness</h2>{_fairness(page.fairness)}"
        f"<h2>Recently resolved alerts</h2>{recent}"
    )
    return layout(page.name, body, root, csrf)


def not_found_page(message: str, root: str, csrf: str | None = None) -> str:
    body = (
        f'<h1>Not found</h1><p class="lead" data-not-found>{e(message)}</p>'
        f'<p><a href="{e(root)}/ui">Back to all models</a></p>'
    )
    return layout("Not found", body, root, csrf)
