"""The status pages' stylesheet, inlined into every page (no external asset; ~4 KB)."""

from __future__ import annotations

CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #5d6670; --line: #d8dee4; --bg: #f6f8fa;
  --card: #ffffff; --accent: #0b5cad; --red: #c62828; --amber: #b26a00; --green: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { background: #24292f; color: #fff; padding: 10px 24px; display: flex; align-items: baseline;
  gap: 18px; }
header.top .brand { font-weight: 700; font-size: 16px; color: #fff; letter-spacing: .3px; }
header.top nav a { color: #c9d1d9; margin-right: 14px; }
header.top form.signout { margin-left: auto; }
header.top form.signout button { background: none; border: 1px solid #57606a; color: #c9d1d9;
  border-radius: 4px; padding: 2px 10px; cursor: pointer; font: inherit; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 24px 40px; }
h1 { font-size: 22px; margin: 4px 0 4px; }
h2 { font-size: 16px; margin: 26px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 8px; color: var(--muted); }
p.lead { color: var(--muted); margin: 0 0 12px; }
.health { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  color: var(--muted); margin: 8px 0 4px; }
.health strong { color: var(--ink); font-weight: 600; }
div.table { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; overflow: hidden; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f4; font-weight: 600; font-size: 11px; white-space: nowrap; text-transform: uppercase;
  letter-spacing: .4px; color: var(--muted); }
tr:last-child td { border-bottom: none; }
td.num { font-variant-numeric: tabular-nums; text-align: right; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  border: 1px solid transparent; white-space: nowrap; }
.pill.firing, .pill.critical { background: #fdecea; color: var(--red); border-color: #f5c2c0; }
.pill.pending, .pill.warning { background: #fff4e0; color: var(--amber); border-color: #f3d7a6; }
.pill.ok, .pill.resolved { background: #e8f5e9; color: var(--green); border-color: #bfe3c2; }
.pill.idle, .pill.info { background: #eef1f4; color: var(--muted); border-color: var(--line); }
.empty { color: var(--muted); background: var(--card); border: 1px dashed var(--line); border-radius: 6px;
  padding: 14px; }
.meta { display: flex; flex-wrap: wrap; gap: 8px 22px; color: var(--muted); margin: 6px 0 2px; }
.meta strong { color: var(--ink); font-weight: 600; }
.versions a, .versions span { margin-right: 8px; }
.versions .current { font-weight: 700; color: var(--ink); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 14px; }
figure.chart-card { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px 8px; }
figure.chart-card.wide { grid-column: 1 / -1; }
figure.chart-card figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid { stroke: #e6e9ed; stroke-width: 1; }
svg.chart .tick { font-size: 10px; fill: var(--muted); }
svg.chart .threshold, svg.swatch .threshold { stroke-dasharray: 5 4; stroke-width: 1.2; opacity: .8; }
svg.chart .threshold-label { font-size: 10px; }
svg.chart .band { opacity: .16; stroke-width: 3; }
svg.chart polygon.band { stroke: none; }
svg.chart .line { fill: none; stroke-width: 1.8; }
svg.chart .line.provisional, svg.swatch .provisional { stroke-dasharray: 4 3; }
svg.chart .line.estimated, svg.swatch .estimated { stroke-dasharray: 1.5 3; stroke-width: 1.6; }
svg.chart .point { stroke-width: 1.4; }
svg.chart .point.alert, svg.chart .point.watch { stroke-width: 2; }
svg.chart .point.provisional { stroke-width: 1.6; }
ul.legend { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 14px;
  font-size: 12px; color: var(--ink); }
ul.legend li { display: flex; align-items: center; gap: 5px; }
svg.swatch { width: 22px; height: 12px; }
svg.swatch line { stroke-width: 2; }
svg.swatch .band { opacity: .25; }
p.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
.subtle { color: var(--muted); }
ol.causes, ul.notes { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  margin: 0; padding: 10px 12px 10px 32px; }
ol.causes li, ul.notes li { margin: 3px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
"""
