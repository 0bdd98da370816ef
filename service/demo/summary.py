"""The end of the demo: what was injected, what modelmon caught and how soon, the webhooks
the receiver verified, and the exit code (0 when every injected problem was caught and a
retraining request followed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.demo.api import Api
from service.demo.receiver import Received
from service.demo.scenario import DAY, Injection, Plan, Timeline, injections
from service.demo.stream import Sent

INDENT = "      "


def _time(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


@dataclass(frozen=True, slots=True)
class Detection:
    """One alert that fired, with the end of the first window it fired on."""

    alert_id: int
    family: str
    metric: str
    feature: str | None
    attribute: str | None
    group: str | None
    value: float | None
    threshold: float | None
    first_window_end: datetime
    fired_at: datetime

    @classmethod
    def of(cls, api: Api, alert: dict[str, Any]) -> Detection:
        detail = api.get(f"/v1/alerts/{alert['id']}")
        fired = [t for t in detail["transitions"] if t["to_state"] == "firing" and t.get("window_end")]
        fired.sort(key=lambda t: str(t["at"]))
        window_end = _time(fired[0]["window_end"] if fired else alert["window_end"])
        first = fired[0] if fired else {}
        return cls(
            alert_id=int(alert["id"]),
            family=str(alert["family"]),
            metric=str(alert["metric"]),
            feature=alert.get("feature"),
            attribute=alert.get("attribute"),
            group=alert.get("group"),
            value=first.get("value", alert.get("value")),
            threshold=alert.get("threshold"),
            first_window_end=window_end or datetime.fromisoformat(str(alert["fired_at"])),
            fired_at=datetime.fromisoformat(str(alert["fired_at"])),
        )

    def what(self) -> str:
        """E.g. "drift alert on income: drift_score 0.106 (threshold 0.1)"."""
        named = " ".join(part for part in (self.feature, self.attribute, self.group) if part)
        subject = f" on {named}" if named else ""
        value = "" if self.value is None else f" {self.value:.4g}"
        limit = "" if self.threshold is None else f" (threshold {self.threshold:.4g})"
        return f"{self.family} alert{subject}: {self.metric}{value}{limit}"


@dataclass(frozen=True, slots=True)
class IncidentSeen:
    """One incident of the demo's model: firing alerts grouped by cause (docs/alerting.md)."""

    id: int
    cause: str
    state: str
    title: str
    opened_at: datetime
    alert_ids: frozenset[int]

    @classmethod
    def of(cls, api: Api, item: dict[str, Any]) -> IncidentSeen:
        detail = api.get(f"/v1/incidents/{item['id']}")
        return cls(
            id=int(item["id"]),
            cause=str(item["cause"]),
            state=str(item["state"]),
            title=str(item["title"]),
            opened_at=datetime.fromisoformat(str(item["opened_at"])),
            alert_ids=frozenset(int(a["id"]) for a in detail["alerts"]),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    injection: Injection
    started: datetime
    detections: list[Detection]
    windows_after: int | None  # grid windows ending in (start, first firing window end]

    @property
    def caught(self) -> bool:
        return bool(self.detections)


@dataclass
class Report:
    model: str
    plan: Plan
    timeline: Timeline
    step_seconds: int
    seed: int
    sent: Sent
    seconds: float
    findings: list[Finding] = field(default_factory=list)
    others: list[Detection] = field(default_factory=list)
    incidents: list[IncidentSeen] = field(default_factory=list)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    webhooks: Counter[str] = field(default_factory=Counter)
    received: list[Received] = field(default_factory=list)
    rejected: int = 0
    duplicates: int = 0
    webhook_problem: str | None = None
    secret: str | None = None  # the webhook signing secret (to check the received signatures)
    settled: bool = True
    kept: str | None = None  # the SQLite URL of a database kept with --keep

    def incident_of(self, alert_id: int) -> IncidentSeen | None:
        return next((i for i in self.incidents if alert_id in i.alert_ids), None)

    @property
    def fired(self) -> int:
        """Alerts that fired, whichever injection (or none) they belong to."""
        return sum(len(f.detections) for f in self.findings) + len(self.others)

    @property
    def retrain_webhooks(self) -> int:
        return self.webhooks["model.retrain_requested"]

    @property
    def passed(self) -> bool:
        """Every injection caught, retraining requested, and (when the receiver was
        subscribed) the request delivered as a verified webhook."""
        delivered = self.webhook_problem is not None or self.retrain_webhooks > 0
        return all(f.caught for f in self.findings) and bool(self.retrains) and delivered


def windows_between(start: datetime, end: datetime, step: int) -> int:
    """Grid windows (ends on multiples of ``step`` from the epoch) ending in (start, end]."""
    return int(end.timestamp() // step) - int(start.timestamp() // step)


def findings_of(
    detections: list[Detection], plan: Plan, timeline: Timeline, step: int
) -> tuple[list[Finding], list[Detection]]:
    """Each injection with the alerts that caught it (fired on a window ending after it began),
    and the alerts no injection claims."""
    found: list[Finding] = []
    claimed: set[int] = set()
    for injection in injections(plan):
        started = timeline.at(injection.start)
        mine = [
            d
            for d in detections
            if injection.caught_by(d.family, d.metric, d.feature, d.attribute)
            and d.first_window_end > started
        ]
        mine.sort(key=lambda d: (d.first_window_end, d.fired_at))
        claimed.update(d.alert_id for d in mine)
        after = windows_between(started, mine[0].first_window_end, step) if mine else None
        found.append(Finding(injection, started, mine, after))
    return found, [d for d in detections if d.alert_id not in claimed]


def collect(api: Api, report: Report) -> Report:
    """Fill ``report`` from the API: alerts that fired, matched to injections; retraining requests."""
    fired = [a for a in api.all_alerts(report.model) if a.get("fired_at")]
    detections = [Detection.of(api, alert) for alert in fired]
    report.findings, report.others = findings_of(
        detections, report.plan, report.timeline, report.step_seconds
    )
    page = api.get("/v1/incidents", model=report.model, limit=1000)
    report.incidents = sorted((IncidentSeen.of(api, i) for i in page["items"]), key=lambda i: i.id)
    requests = api.get("/v1/retrain-requests", model=report.model)
    report.retrains = sorted(requests, key=lambda r: str(r["created_at"]))
    return report


# ---------------------------------------------------------------- rendering


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _finding_lines(finding: Finding, timeline: Timeline, report: Report) -> list[str]:
    injection = finding.injection
    mark = "caught" if finding.caught else "MISSED"
    lines = [f"  [{mark}] {injection.name}, from {_when(finding.started)}: {injection.detail}"]
    if not finding.detections:
        return [*lines, f"{INDENT}no {injection.family} alert fired for it"]
    first = finding.detections[0]
    lag_days = timeline.offset(first.first_window_end) - injection.start
    lines.append(
        f"{INDENT}{first.what()}: first fired on the window ending {_when(first.first_window_end)}, "
        f"{finding.windows_after} windows ({lag_days / DAY:.1f} days) after it began"
    )
    if (first.fired_at - first.first_window_end).total_seconds() > timeline.seconds(DAY):
        lines.append(
            f"{INDENT}(raised {_when(first.fired_at)}, once enough of that window's labels had arrived)"
        )
    if len(finding.detections) > 1:
        metrics = sorted({d.metric for d in finding.detections})
        lines.append(f"{INDENT}{len(finding.detections)} alerts in all: {', '.join(metrics)}")
    return lines + _incident_line(finding, timeline, report)


def _incident_line(finding: Finding, timeline: Timeline, report: Report) -> list[str]:
    """Which incident its first alert joined, and how long after the injection that was."""
    first = finding.detections[0]
    incident = report.incident_of(first.alert_id)
    if incident is None:
        return [f"{INDENT}in no incident yet"]
    joined = max(incident.opened_at, first.fired_at)  # grouped in the pass that fired it
    lag = (timeline.offset(joined) - finding.injection.start) / DAY
    text = f"{INDENT}incident #{incident.id} ({incident.cause}), {lag:.1f} days after it began"
    if incident.opened_at < first.fired_at:
        text += f" (joined it; the incident was opened {_when(incident.opened_at)})"
    return [text]


def _incident_lines(report: Report) -> list[str]:
    if not report.incidents:
        return []
    grouped = _count(len(report.incidents), "incident")
    lines = [
        "",
        f"Incidents: {_count(report.fired, 'fired alert')} grouped into {grouped} "
        "(same model, same cause, overlapping windows):",
    ]
    for incident in report.incidents:
        alerts = _count(len(incident.alert_ids), "alert")
        opened = _when(incident.opened_at)
        lines.append(f"{INDENT}#{incident.id} {incident.state}, opened {opened}, {alerts}: {incident.title}")
    return lines


def _retrain_lines(report: Report) -> list[str]:
    mark = "caught" if report.retrains else "MISSED"
    if not report.retrains:
        return [f"  [{mark}] retraining request: none was made"]
    lines = []
    for request in report.retrains:
        reasons = request["evidence"].get("reasons", [])
        metrics = ", ".join(sorted({f"{r['family']} {r['metric']}" for r in reasons}))
        lines.append(
            f"  [{mark}] retraining requested {_when(datetime.fromisoformat(str(request['created_at'])))} "
            f"for the window ending {_when(datetime.fromisoformat(str(request['window_end'])))}"
        )
        lines.append(f"{INDENT}because these alerts stayed firing: {metrics}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _webhook_lines(report: Report) -> list[str]:
    if report.webhook_problem is not None:
        return [f"Webhooks: not received ({report.webhook_problem})"]
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.webhooks.items())) or "none"
    return [
        f"Webhooks verified by the local receiver (Standard Webhooks signatures): {counts}",
        f"{INDENT}{report.rejected} refused for a bad signature; {_count(report.duplicates, 'repeat')} "
        "of an event already handled ignored (deduplicated on webhook-id)",
    ]


def render(report: Report, url: str | None) -> str:
    plan, timeline = report.plan, report.timeline
    caught = sum(f.caught for f in report.findings)
    lines = [
        "",
        f"modelmon demo: {report.model}, {plan.days / 7:g} simulated weeks "
        f"({_when(timeline.at(0))} to {_when(timeline.at(plan.end))} UTC) in {report.seconds:.0f} s, "
        f"seed {report.seed}",
        f"  {report.sent.predictions:,} predictions and {report.sent.outcomes:,} outcomes sent; windows "
        f"one simulated day long, one every {report.step_seconds / timeline.seconds(3600):g} simulated hours",
        "",
        "What was injected, and what modelmon caught:",
    ]
    for finding in report.findings:
        lines += _finding_lines(finding, timeline, report)
    lines += _retrain_lines(report)
    if report.others:
        lines += ["", "Other alerts that fired (knock-on effects, or false alarms if before any injection):"]
        lines += [
            f"{INDENT}{d.what()}, first on the window ending {_when(d.first_window_end)}"
            for d in report.others
        ]
    lines += _incident_lines(report)
    lines += ["", *_webhook_lines(report)]
    if not report.settled:
        lines.append("Warning: the server had not finished evaluating when the summary was taken.")
    verdict = "PASS" if report.passed else "FAIL"
    lines += ["", f"{verdict}: {caught} of {len(report.findings)} injected problems caught"]
    return "\n".join(lines + _next_lines(report, url))


def _next_lines(report: Report, url: str | None) -> list[str]:
    if url is not None:
        return [
            f"Look next: {url}/v1/alerts?model={report.model}",
            f"{INDENT}{url}/v1/models/{report.model}/evaluations?family=drift&metric=drift_score",
        ]
    if report.kept is not None:
        return [
            "Look next: the database was kept; explore it with",
            f"{INDENT}MODELMON_DATABASE_URL={report.kept} modelmon serve",
        ]
    return ["Look next: docs/demo.md reads this summary; --charts DIR draws it; --keep DIR keeps the data."]
