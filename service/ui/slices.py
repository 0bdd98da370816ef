"""The model page's "Failing slices" section: for whom the newest window performs worse.

The newest window's stored profiles are searched (``windows.queries.window_slices``: the task's
default metric, Benjamini–Hochberg at 5%) when the page is drawn; the top ``SHOWN`` discoveries
are listed, worst lower bound first. Costs one window's merge (~1 ms a stored piece) and the
search (~10-80 ms, `benchmarks/slices.py`) per page view.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from sqlalchemy.orm import Session

from service.alerting.incident_slices import cell_text
from service.stats.slice_search import SliceFinding
from service.ui.charts import fmt
from service.ui.schemas import SliceTable
from service.windows import queries as windows

SHOWN = 10


def slice_table(
    session: Session, model_id: int, version_id: int, window: tuple[datetime, datetime] | None
) -> SliceTable | None:
    if window is None:
        return None
    found = windows.window_slices(session, model_id, version_id, window)
    if found is None:
        return None
    return SliceTable(found.metric, found.n, found.value, found.tested, found.findings[:SHOWN])


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _row(finding: SliceFinding) -> str:
    cells = " &amp; ".join(
        f'<span class="slice-cell">{_e(cell_text(kind, column, value))}</span>'
        for kind, column, value in finding.cells
    )
    numbers = [
        str(finding.n),
        fmt(finding.value),
        f"{fmt(finding.low)} – {fmt(finding.high)}",
        fmt(finding.rest_value),
        fmt(finding.gap),
    ]
    tds = "".join(f'<td class="num">{_e(v)}</td>' for v in numbers)
    return f'<tr class="slice"><td>{cells}</td>{tds}<td class="num">{finding.q_value:.2g}</td></tr>'


def slices_section(table: SliceTable | None) -> str:
    """The section's HTML (its heading included)."""
    head = "<h3>Failing slices of the newest window</h3>"
    if table is None:
        return f'{head}<p class="empty" data-slices="none">No slice counts for the newest window yet.</p>'
    lead = (
        f'<p class="note">Categories, numeric bins (reference deciles), protected groups and pairs of them '
        f"whose {_e(table.metric)} is significantly worse than the rest of the window's {table.n} labelled "
        f"rows ({table.tested} slices tested, false-discovery rate held at 5%). Interval: 95%; q: the "
        f"Benjamini–Hochberg adjusted p-value.</p>"
    )
    if not table.findings:
        return (
            f'{head}{lead}<p class="empty" data-slices="0">No slice is significantly worse than the rest.</p>'
        )
    headers = ["Slice", "n", _e(table.metric), "Interval", "Rest", "Gap", "q"]
    head_row = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(_row(f) for f in table.findings)
    rows = f'<table class="slices"><thead><tr>{head_row}</tr></thead><tbody>{body}</tbody></table>'
    return f'{head}{lead}<div class="table" data-slices="{len(table.findings)}">{rows}</div>'
