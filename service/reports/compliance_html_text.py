"""The fixed texts of the compliance report: its stylesheet (screen and print), the small-cell
statement and the data-retention statement (context, not legal advice)."""

from __future__ import annotations

STYLE = """
body { font: 10pt/1.35 system-ui, sans-serif; color: #111; margin: 1.5em; }
h1 { font-size: 16pt; margin: 0 0 .4em; } h2 { font-size: 13pt; margin: 1.2em 0 .4em; }
h3 { font-size: 11pt; margin: 1em 0 .3em; } h4 { font-size: 10pt; margin: .6em 0 .2em; }
table { border-collapse: collapse; margin: .3em 0 .8em; width: 100%; }
th, td { border: 1px solid #bbb; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } td small { color: #444; }
table.meta { width: auto; } .running { color: #444; margin: 0 0 .5em; }
.suppressed { font-style: italic; color: #666; } .none { color: #666; }
code { font-size: 9pt; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { margin: 0; font-size: 9pt; }
  section.version, section.part, section.retention { break-before: page; }
  thead { display: table-header-group; }
  tr, .attribute h3, h4 { break-inside: avoid; break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

SUPPRESSION = (
    "<p>A cell about at least one and fewer than <strong>{min_cell}</strong> people "
    '(<code>MODELMON_REPORT_MIN_CELL</code>) is <span class="suppressed">suppressed</span>: '
    "its value, interval and n are withheld. Where one "
    "suppressed count could be recovered by subtraction from a published total (the groups of an "
    "attribute add up to the period's rows, an intersection's cells to their marginal group, the groups' "
    "denominators to the overall figure's), the smallest other cell of that sum is suppressed too, until "
    "every such sum has none or at least two. An attribute's disparities are suppressed when a suppressed "
    "group was among those compared, and impact ratios divide by published groups only. "
    "{hidden} cells of this report are suppressed.</p>"
)

RETENTION = (
    "<p>Raw predictions and outcomes (features, protected attributes, scores, labels) are kept "
    "<strong>{days} days</strong> after their event time (<code>MODELMON_RETENTION_DAYS</code>) and then "
    "deleted. The aggregates this report is computed from (bucket profiles: counts, no individual "
    "record), the stored evaluations, alerts, incidents, retraining requests and the audit log are "
    "kept until an operator deletes them, so this report can be regenerated after the raw records "
    "are gone.</p>"
    "<p>Context, not legal advice: the EU AI Act asks providers of high-risk AI systems, which include "
    "credit scoring of natural persons, for a post-market monitoring system and plan that collects and "
    "analyses performance data over the system's lifetime (Article 72), and for automatically "
    "generated logs to be kept at least six months (Articles 19 and 26(6)). Regulation B (12 CFR "
    "1002.12(b)) has creditors keep records of credit applications for 25 months after notice of the "
    "action taken. Whether this deployment's settings meet an organisation's obligations is for its "
    "own counsel to judge.</p>"
)
