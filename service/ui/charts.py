"""Line charts over time as inline SVG, drawn here: no script, no external asset.

A chart maps window ends to x (linear in time, so a missing window leaves a visible gap)
and values to y. The y range covers every value, interval bound and threshold of the chart
(and ``y_floor``/``y_ceiling``), padded by 6 % and widened to the nearest ticks at steps of
1, 2, 2.5 or 5 × 10^k. A window without a value (insufficient data) breaks the line.

Marks: a filled circle is a final figure; a hollow circle on a dashed segment is
provisional (labels still arriving); a red-rimmed circle alerted; an amber-rimmed circle is
``watch`` (its point estimate is past the threshold, its interval is not: never paged); a
shaded band is the figure's interval (simultaneous over its family's decisions); a dashed
red line is the threshold; a dotted line is an estimate.
Every string drawn is escaped: series names and titles come from the database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from service.ui.schemas import Chart, Point, Series

WIDTH, HEIGHT = 560, 210  # a chart in the two-column grid (viewBox units ≈ CSS px)
WIDE_WIDTH, WIDE_HEIGHT = 1120, 260  # a chart across the page
# The right margin holds the threshold values, outside the plot so they never cover a point.
LEFT, RIGHT, TOP, BOTTOM = 46, 36, 10, 24
# Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), then two greys.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#555555", "#999999")
ALERT_COLOUR = "#c62828"
WATCH_COLOUR = "#b26a00"
X_LABELS = 5
Y_TICKS = 4


def fmt(value: float | None) -> str:
    """A figure for people: 3 significant digits, whole numbers from 1,000 up; "—" for none."""
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def nice_step(span: float, count: int) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that splits ``span`` into at most ``count`` steps."""
    raw = span / count if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-9))


def _values(chart: Chart) -> list[float]:
    values = [*chart.thresholds]
    for series in chart.series:
        for p in series.points:
            values += [v for v in (p.y, *((p.low, p.high) if series.band else ())) if v is not None]
    return values


def y_range(chart: Chart) -> tuple[float, float, float]:
    """(bottom, top, tick step) of the y axis."""
    values = _values(chart) or [0.0, 1.0]
    low, high = min(values), max(values)
    if chart.y_floor is not None:
        low = min(low, chart.y_floor)
    if chart.y_ceiling is not None:
        high = max(high, chart.y_ceiling)
    pad = (high - low) * 0.06 if high > low else max(abs(high) * 0.1, 0.05)
    bottom, top = low - pad, high + pad
    if chart.y_floor is not None and low >= chart.y_floor:
        bottom = max(bottom, chart.y_floor)
    step = nice_step(top - bottom, Y_TICKS)
    return math.floor(bottom / step) * step, math.ceil(top / step) * step, step


@dataclass(frozen=True, slots=True)
class Scale:
    width: int
    height: int
    start: float
    end: float
    bottom: float
    top: float
    # Per window end, its x position and its time as text, formatted once per chart: a page
    # draws ~2,000 points, and formatting each again was a third of its rendering time.
    xs: dict[datetime, str] = field(default_factory=dict)
    stamps: dict[datetime, str] = field(default_factory=dict)

    @property
    def right(self) -> int:
        return self.width - RIGHT

    def x(self, moment: datetime) -> float:
        plot = self.width - LEFT - RIGHT
        if self.end <= self.start:
            return LEFT + plot / 2
        return LEFT + (moment.timestamp() - self.start) / (self.end - self.start) * plot

    def y(self, value: float) -> float:
        plot = self.height - TOP - BOTTOM
        return TOP + (self.top - value) / (self.top - self.bottom) * plot


def _axes(chart: Chart, scale: Scale, step: float) -> Iterator[str]:
    tick = scale.bottom
    while tick <= scale.top + step * 1e-6:
        y = scale.y(tick)
        yield f'<line class="grid" x1="{LEFT}" x2="{scale.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        yield f'<text class="tick" x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end">{fmt(tick)}</text>'
        tick += step
    n = len(chart.xs)
    labels = X_LABELS * 2 if scale.width > WIDTH else X_LABELS
    every = max(1, math.ceil((n - 1) / (labels - 1))) if n > 1 else 1
    # Every ``every``-th window counted back from the newest: evenly spaced, the newest labelled.
    for i in range(n - 1, -1, -every):
        x = scale.x(chart.xs[i])
        anchor = "end" if i == n - 1 and n > 1 else "middle"
        label = chart.xs[i].strftime("%m-%d %H:%M")
        yield f'<text class="tick" x="{x:.1f}" y="{scale.height - 6}" text-anchor="{anchor}">{label}</text>'


def _thresholds(chart: Chart, scale: Scale) -> Iterator[str]:
    for threshold in chart.thresholds:
        y = scale.y(threshold)
        yield (
            f'<line class="threshold" x1="{LEFT}" x2="{scale.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{ALERT_COLOUR}"/>'
            f'<text class="threshold-label" x="{scale.right + 4}" y="{y + 3.5:.1f}" '
            f'fill="{ALERT_COLOUR}">{fmt(threshold)}</text>'
        )


def _runs(points: Sequence[Point], ok: Callable[[Point], bool]) -> Iterator[list[Point]]:
    """Maximal runs of consecutive points for which ``ok(point)`` holds."""
    run: list[Point] = []
    for p in points:
        if ok(p):
            run.append(p)
        elif run:
            yield run
            run = []
    if run:
        yield run


def _band(series: Series, scale: Scale) -> Iterator[str]:
    for run in _runs(series.points, lambda p: p.y is not None and p.low is not None and p.high is not None):
        upper = [f"{scale.xs[p.x]},{scale.y(p.high or 0.0):.1f}" for p in run]
        lower = [f"{scale.xs[p.x]},{scale.y(p.low or 0.0):.1f}" for p in reversed(run)]
        if len(run) == 1:  # one window alone: an error bar
            yield f'<polyline class="band" points="{upper[0]} {lower[0]}"/>'
        else:
            yield f'<polygon class="band" points="{" ".join(upper + lower)}"/>'


def _lines(series: Series, scale: Scale) -> Iterator[str]:
    """Solid segments between final figures; dashed into or out of a provisional one."""
    solid: list[str] = []
    dashed: list[str] = []
    for a, b in zip(series.points, series.points[1:], strict=False):
        if a.y is None or b.y is None:
            continue
        segment = f"M{scale.xs[a.x]},{scale.y(a.y):.1f}L{scale.xs[b.x]},{scale.y(b.y):.1f}"
        (dashed if a.provisional or b.provisional else solid).append(segment)
    style = "line estimated" if series.estimated else "line"
    if solid:
        yield f'<path class="{style}" d="{"".join(solid)}"/>'
    if dashed:
        yield f'<path class="line provisional" d="{"".join(dashed)}"/>'


def _marks(series: Series, scale: Scale) -> Iterator[str]:
    name = escape(series.name)
    for p in series.points:
        if p.y is None:
            continue
        state = " provisional" if p.provisional else " alert" if p.alert else " watch" if p.watch else ""
        classes = "point" + state
        radius = 3.6 if p.alert or p.watch else 3.2 if p.provisional else 2.8
        # The series' colour is inherited from its <g>; only the exceptions are written.
        paint = ' fill="#ffffff"' if p.provisional else ""
        paint += f' stroke="{ALERT_COLOUR}"' if p.alert else f' stroke="{WATCH_COLOUR}"' if p.watch else ""
        interval = f" [{fmt(p.low)}, {fmt(p.high)}]" if p.low is not None and p.high is not None else ""
        tip = f"{name} · {scale.stamps[p.x]} · {fmt(p.y)}{interval} · n={p.n}{state}"
        yield (
            f'<circle class="{classes}" cx="{scale.xs[p.x]}" cy="{scale.y(p.y):.1f}" r="{radius}" '
            f"{paint}><title>{tip}</title></circle>"
        )


def colour_of(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def svg(chart: Chart) -> str:
    """The chart's ``<svg>``: grid and axes, thresholds, then per series its band, line and marks."""
    bottom, top, step = y_range(chart)
    xs = chart.xs or (datetime.fromtimestamp(0),)
    width, height = (WIDE_WIDTH, WIDE_HEIGHT) if chart.wide else (WIDTH, HEIGHT)
    scale = Scale(width, height, xs[0].timestamp(), xs[-1].timestamp(), bottom, top)
    scale.xs.update((x, f"{scale.x(x):.1f}") for x in chart.xs)
    scale.stamps.update((x, when(x)) for x in chart.xs)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(chart.title)}" preserveAspectRatio="xMidYMid meet">',
        *_axes(chart, scale, step),
        *_thresholds(chart, scale),
    ]
    for i, series in enumerate(chart.series):
        colour = colour_of(i)
        parts.append(
            f'<g class="series" data-series="{escape(series.name)}" fill="{colour}" stroke="{colour}">'
        )
        if series.band:
            parts += _band(series, scale)
        parts += _lines(series, scale)
        parts += _marks(series, scale)
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _swatch(body: str) -> str:
    return f'<svg class="swatch" viewBox="0 0 22 12" aria-hidden="true">{body}</svg>'


def legend(chart: Chart) -> str:
    """The series (colour and line style) and the marks the chart uses, as an HTML list."""
    items = []
    for i, series in enumerate(chart.series):
        colour = colour_of(i)
        dash = ' class="estimated"' if series.estimated else ""
        line = f'<line x1="1" x2="21" y1="6" y2="6" stroke="{colour}"{dash}/>'
        dot = f'<circle cx="11" cy="6" r="3" fill="{colour}"/>'
        missing = "" if any(p.y is not None for p in series.points) else " (insufficient data)"
        items.append(f'<li class="key">{_swatch(line + dot)}{escape(series.name)}{missing}</li>')
    points = [p for s in chart.series for p in s.points if p.y is not None]
    if any(s.band for s in chart.series):
        body = f'<rect class="band" x="1" y="2" width="20" height="8" fill="{PALETTE[0]}"/>'
        items.append(f"<li>{_swatch(body)}interval</li>")
    if any(p.provisional for p in points):
        body = '<line class="provisional" x1="1" x2="21" y1="6" y2="6" stroke="#555"/>'
        body += '<circle cx="11" cy="6" r="3" fill="#fff" stroke="#555"/>'
        items.append(f'<li class="provisional-key">{_swatch(body)}provisional (labels still arriving)</li>')
    if any(p.alert for p in points):
        body = f'<circle cx="11" cy="6" r="3.5" fill="#555" stroke="{ALERT_COLOUR}" stroke-width="2"/>'
        items.append(f"<li>{_swatch(body)}alert</li>")
    if any(p.watch for p in points):
        body = f'<circle cx="11" cy="6" r="3.5" fill="#555" stroke="{WATCH_COLOUR}" stroke-width="2"/>'
        items.append(f'<li class="watch-key">{_swatch(body)}watch (past the threshold, not on evidence)</li>')
    if chart.thresholds:
        body = f'<line class="threshold" x1="1" x2="21" y1="6" y2="6" stroke="{ALERT_COLOUR}"/>'
        items.append(f"<li>{_swatch(body)}threshold</li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def figure(chart: Chart) -> str:
    """The chart with its title and legend, or a note when no window has a value."""
    has_values = any(p.y is not None for s in chart.series for p in s.points)
    body = svg(chart) + legend(chart) if has_values else '<p class="empty">No value in the windows shown.</p>'
    css = "chart-card wide" if chart.wide else "chart-card"
    return (
        f'<figure class="{css}" data-chart="{escape(chart.key)}" data-series-count="{len(chart.series)}">'
        f"<figcaption>{escape(chart.title)}</figcaption>{body}</figure>"
    )
