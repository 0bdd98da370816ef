"""The model card as Markdown, rendered from the same ``ModelCard`` the JSON answer serialises.

Figures are written with 4 decimals (``0.8123``), intervals as ``[low, high]``, times in
ISO 8601 UTC; a missing figure is ``—``. Text that came from clients (metadata, feature and
group names, summaries) is escaped so it cannot break a table or inject markup: ``\\``,
``|``, ``*``, ``_``, backtick, ``[``, ``]``, ``<``, ``>``, ``&`` and ``#`` get a backslash,
and line breaks become spaces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from service import __version__
from service.alerting.schemas import AlertView
from service.reports.schemas import CardFigure, CardReference, CardWindow, ModelCard, RetrainReason

_SPECIAL = re.compile(r"([\\|*_`\[\]<>&#])")
NONE = "—"


def text(value: object) -> str:
    """A value as Markdown-safe inline text."""
    if value is None:
        return NONE
    plain = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", plain)


def number(value: float | None) -> str:
    return NONE if value is None else f"{value:.4f}"


def interval(low: float | None, high: float | None) -> str:
    return NONE if low is None or high is None else f"[{low:.4f}, {high:.4f}]"


def when(moment: datetime | None) -> str:
    return NONE if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table; cells must already be escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _version(card: ModelCard) -> list[str]:
    v = card.version
    features = ", ".join(f"{text(f.name)} ({f.type.value})" for f in v.features)
    facts = [
        ("task", v.task.value),
        ("registered", when(v.created_at)),
        ("spec hash", f"`{v.spec_hash}`"),
        ("features", features),
        ("protected attributes", ", ".join(text(a) for a in v.protected_attributes) or NONE),
        ("positive label", text(v.positive_label)),
        ("classes", ", ".join(text(c) for c in v.classes or []) or NONE),
    ]
    lines = ["## Version", "", *table(["", ""], [(k, val) for k, val in facts])]
    lines += ["### Lineage (registered metadata)", ""]
    if v.metadata:
        rows = [
            (text(k), text(json.dumps(val) if not isinstance(val, str) else val))
            for k, val in v.metadata.items()
        ]
        lines += table(["key", "value"], rows)
    else:
        lines += ["None registered.", ""]
    lines += ["### Versions of the model", ""]
    lines += table(
        ["version", "registered", "spec hash"],
        [(text(r.version), when(r.created_at), f"`{r.spec_hash}`") for r in card.versions],
    )
    return lines


def _uploads(ref: CardReference) -> list[str]:
    uploads = ([ref.active] if ref.active else []) + list(ref.replaced)
    if not uploads:
        return ["No reference uploaded.", ""]
    rows = [
        (
            str(u.id),
            f"{u.rows:,}",
            f"`{u.content_hash}`",
            when(u.created_at),
            when(u.replaced_at) if u.replaced_at else "active",
        )
        for u in uploads
    ]
    return table(["id", "rows", "content hash", "uploaded", "replaced"], rows)


def _reference(card: ModelCard) -> list[str]:
    ref = card.reference
    facts = [
        ("kind", ref.kind),
        ("bins fitted on", ref.source or "not yet fitted"),
        ("profile rows", NONE if ref.profile_rows is None else f"{ref.profile_rows:,}"),
        ("reference hash", NONE if ref.reference_hash is None else f"`{ref.reference_hash}`"),
        ("layout hash", NONE if ref.layout_hash is None else f"`{ref.layout_hash}`"),
    ]
    if ref.start is not None:
        facts.append(("time range", f"{when(ref.start)} to {when(ref.end)}"))
    return ["## Reference", "", *table(["", ""], facts), *_uploads(ref)]


def _monitor(card: ModelCard) -> list[str]:
    m = card.monitor
    c = m.config.model_dump(mode="json")
    drift, fair = c["drift"], c["fairness"]
    facts = [
        ("configured", f"yes, {when(m.updated_at)}" if m.configured else "no (defaults)"),
        ("window / step / bucket", f"{c['window']} / {c['step']} / {c['bucket']}"),
        (
            "drift",
            f"alpha {drift['alpha']}, numeric ≥ {drift['numeric_threshold']}, "
            f"categorical ≥ {drift['categorical_threshold']}",
        ),
        (
            "fairness",
            f"parity ≤ {fair['max_parity_difference']}, impact ratio ≥ {fair['min_impact_ratio']}, "
            f"min group {fair['min_group_size']}",
        ),
        ("labels", f"coverage {c['label_coverage']}, wait {c['label_wait']}"),
    ]
    full = json.dumps(c, indent=2, sort_keys=True)
    details = ["<details><summary>Full configuration</summary>", "", "```json", full, "```", "", "</details>"]
    return ["## Monitor configuration", "", *table(["", ""], facts), *details, ""]


def _status(card: ModelCard) -> list[str]:
    s = card.status
    facts = [
        ("state", f"**{s.state}**"),
        ("firing / pending alerts", f"{s.firing_alerts} / {s.pending_alerts}"),
        ("last window end", when(s.last_window_end)),
        ("windows waiting", str(s.pending_windows)),
        ("lag", NONE if s.lag_seconds is None else f"{s.lag_seconds:.0f} s"),
    ]
    return ["## Status", "", *table(["", ""], facts)]


def figure_row(f: CardFigure) -> list[str]:
    subject = (
        NONE if f.attribute is None else text(f.attribute if f.group is None else f"{f.attribute}={f.group}")
    )
    if f.feature is not None:
        subject += f" · class {text(f.feature)}"
    return [
        text(f.family),
        text(f.metric),
        subject,
        number(f.value),
        interval(f.ci_low, f.ci_high),
        str(f.n),
        number(f.threshold),
        f.status,
    ]


def _window(w: CardWindow) -> list[str]:
    coverage = NONE if w.label_coverage is None else f"{w.label_coverage:.1%}"
    head = f"### {when(w.window_start)} to {when(w.window_end)}"
    facts = (
        f"revision {w.revision}, {w.rows:,} rows, {w.labelled:,} labelled ({coverage}), "
        f"computed {when(w.computed_at)}"
    )
    header = ["family", "metric", "group", "value", "95% interval", "n", "threshold", "status"]
    return [head, "", facts, "", *table(header, [figure_row(f) for f in w.figures])]


def _windows(card: ModelCard) -> list[str]:
    lines = ["## Performance and fairness in recent windows", ""]
    if not card.windows:
        return [*lines, "No window evaluated yet.", ""]
    for w in card.windows:
        lines += _window(w)
    return lines


def alert_row(a: AlertView) -> list[str]:
    subject = a.feature or (a.attribute if a.group is None else f"{a.attribute}={a.group}")
    return [
        str(a.id),
        a.state.value,
        text(a.severity),
        text(a.family),
        text(a.metric),
        text(subject),
        number(a.value),
        number(a.threshold),
        when(a.fired_at),
        when(a.resolved_at),
    ]


def _alerts(card: ModelCard) -> list[str]:
    header = [
        "id",
        "state",
        "severity",
        "family",
        "metric",
        "subject",
        "value",
        "threshold",
        "fired",
        "resolved",
    ]
    lines = ["## Alerts", "", "### Open", ""]
    lines += table(header, [alert_row(a) for a in card.alerts.open]) if card.alerts.open else ["None.", ""]
    lines += ["### Recently resolved", ""]
    lines += (
        table(header, [alert_row(a) for a in card.alerts.resolved]) if card.alerts.resolved else ["None.", ""]
    )
    return lines


def reason_text(reason: RetrainReason) -> str:
    subject = reason.feature or reason.attribute
    parts = [text(reason.family), text(reason.metric), *([text(subject)] if subject else [])]
    return " ".join(parts) + f" = {number(reason.value)}"


def _requests(card: ModelCard) -> list[str]:
    lines = ["## Retraining requests", ""]
    if not card.retrain_requests:
        return [*lines, "None.", ""]
    rows = [
        [
            str(r.id),
            when(r.created_at),
            f"{when(r.window_start)} to {when(r.window_end)}",
            "; ".join(reason_text(x) for x in r.reasons) or NONE,
        ]
        for r in card.retrain_requests
    ]
    return [*lines, *table(["id", "requested", "trigger window", "reasons"], rows)]


def render_markdown(card: ModelCard) -> str:
    """The card as one Markdown document."""
    title = [
        f"# Model card: {text(card.model)} {text(card.version.version)}",
        "",
        f"Generated {when(card.generated_at)} by modelmon {__version__}.",
        "",
    ]
    sections: list[Any] = [
        title,
        _version(card),
        _reference(card),
        _monitor(card),
        _status(card),
        _windows(card),
        _alerts(card),
        _requests(card),
    ]
    return "\n".join(line for section in sections for line in section)
