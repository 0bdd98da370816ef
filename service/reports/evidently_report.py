"""Evidently 0.7's data-drift report (``DataDriftPreset``) as one self-contained HTML page.

Evidently is imported here, inside :func:`render`, never at module import: importing it
costs ~4-6 s and ~280 MiB, which the API process pays on its first report only.

Evidently's standalone page (``Snapshot.get_html_str(as_iframe=False)``) inlines its
JavaScript bundle (~3.5 MB) and its icon font as a data URL, so it opens with no network
at all; the only URL in its bundle is Plotly's map-tile base, which a drift report never
uses. Two changes are made to the page it returns:

- the embedded report data is made safe to sit in a ``<script>`` element: Evidently writes
  it with ``json.dumps``, which leaves ``<`` as is, so a category value or feature name
  holding ``</script>`` would end the script and inject markup. Every ``<`` in that block
  becomes ``\\u003c``, which is the same character to the JSON parser and never a tag;
- a banner at the top states what was compared and what was sampled.

Evidently picks its test per column by the reference's size (see docs/reports.md): at most
1,000 reference rows, K-S (numeric) or chi-square / Z (categorical) p-values < 0.05; more,
Wasserstein distance / reference std or Jensen-Shannon distance ≥ 0.1.
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from service.errors import FieldError, Invalid, Unavailable
from service.reports.schemas import DriftData, Side

# One render takes ~2-4 s of CPU and ~30 MiB of Python objects at 5,000 rows x 20 features,
# growing with rows (docs/reports.md); one at a time per process keeps a burst of report
# requests from taking every core and the memory. A request waits this long for its turn, s.
_RENDER_SLOT = threading.Semaphore(1)
RENDER_WAIT_SECONDS = 120.0
# A waiting request polls the slot on the event loop at this interval (s): waiting in a worker
# thread would let a burst of reports hold the thread pool that ingestion also runs on.
_SLOT_POLL_SECONDS = 0.25


@asynccontextmanager
async def render_slot() -> AsyncIterator[None]:
    """The process's one report slot, waited for on the event loop, holding no thread and no
    data; 503 with ``Retry-After`` after ``RENDER_WAIT_SECONDS``."""
    deadline = time.monotonic() + RENDER_WAIT_SECONDS
    while not _RENDER_SLOT.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise Unavailable("another report is being rendered; retry later", headers={"Retry-After": "30"})
        await asyncio.sleep(_SLOT_POLL_SECONDS)
    try:
        yield
    finally:
        _RENDER_SLOT.release()


BANNER_STYLE = (
    "font-family:sans-serif;font-size:14px;padding:10px 16px;"
    "background:#fff8e1;border-bottom:1px solid #e0c060"
)
_DATA_BLOCK = re.compile(r"<script>\s*var (metric_[0-9a-f]{32}) = ")


@dataclass(frozen=True, slots=True)
class RenderedReport:
    html: str
    columns: tuple[str, ...]  # features in the report
    left_out: dict[str, str]  # features left out, with the reason


def _frame(side: Side, numeric: tuple[str, ...], categorical: tuple[str, ...]) -> Any:
    """The side's rows as a DataFrame: numeric columns float (missing = NaN), categorical
    columns text (missing = None)."""
    import pandas as pd

    columns: dict[str, Any] = {
        name: pd.Series([row.get(name) for row in side.rows], dtype="float64") for name in numeric
    }
    columns |= {name: pd.Series([row.get(name) for row in side.rows], dtype=object) for name in categorical}
    return pd.DataFrame(columns)


def usable_columns(current: Any, reference: Any, names: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Features with at least one value on each side (Evidently refuses an empty column), and
    the others with the reason they are left out."""
    kept: list[str] = []
    left_out: dict[str, str] = {}
    for name in names:
        empty = [
            label
            for label, frame in (("current", current), ("reference", reference))
            if frame[name].isna().all()
        ]
        if empty:
            left_out[name] = f"no values in {' and '.join(empty)}"
        else:
            kept.append(name)
    return kept, left_out


def _side_text(name: str, side: Side, seed: int) -> str:
    if side.sampled:
        return f"{name}: {len(side.rows):,} of {side.total:,} rows sampled uniformly (seed {seed})"
    return f"{name}: all {side.total:,} rows"


def banner_text(data: DriftData) -> str:
    """One line saying what was sampled, e.g. "current: 5,000 of 183,112 rows sampled
    uniformly (seed 0); reference: all 20,000 rows"."""
    current = _side_text("current", data.current, data.seed)
    return f"{current}; {_side_text('reference', data.reference, data.seed)}"


def _banner(data: DriftData, left_out: dict[str, str]) -> str:
    window = f"{data.start.isoformat()} to {data.end.isoformat()}"
    lines = [
        f"<strong>modelmon data-drift report</strong> — model {data.model}, version {data.version}, "
        f"predictions from {window} (end excluded)",
        f"compared with the {data.reference.label}",
        banner_text(data),
    ]
    if left_out:
        lines.append("left out: " + "; ".join(f"{name} ({why})" for name, why in left_out.items()))
    body = "<br>".join(line if line.startswith("<strong>") else html.escape(line) for line in lines)
    return f'<div id="modelmon-banner" style="{BANNER_STYLE}">{body}</div>'


def _escape_data_block(page: str) -> str:
    """Every ``<`` inside the embedded report data becomes ``\\u003c`` (see the module doc)."""
    found = _DATA_BLOCK.search(page)
    if found is None:
        raise RuntimeError("Evidently's page has no data block where expected (template changed?)")
    # The data block ends before the dashboard's root element, whose id is random per page:
    # report data cannot forge it.
    root = page.find(f'<div id="root_{found.group(1)}">', found.end())
    close = page.rfind("</script>", found.end(), root)
    if root < 0 or close < 0:
        raise RuntimeError("Evidently's page has no dashboard root where expected (template changed?)")
    return page[: found.end()] + page[found.end() : close].replace("<", "\\u003c") + page[close:]


def _finish(page: str, data: DriftData, left_out: dict[str, str]) -> str:
    page = _escape_data_block(page)
    title = html.escape(f"Data drift — {data.model} {data.version}")
    # After the charset declaration, which must come within the first 1,024 bytes.
    anchor = '<meta charset="UTF-8">' if '<meta charset="UTF-8">' in page[:1024] else "<head>"
    page = page.replace(anchor, f"{anchor}\n<title>{title}</title>", 1)
    return page.replace("<body>", "<body>\n" + _banner(data, left_out), 1)


def _evidently_page(current: Any, reference: Any, numeric: list[str], categorical: list[str]) -> str:
    # Evidently and its dependencies warn on import and while running (numpy.core and
    # litestar deprecations): their noise, silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        snapshot = Report([DataDriftPreset()]).run(
            current_data=Dataset.from_pandas(current, data_definition=definition),
            reference_data=Dataset.from_pandas(reference, data_definition=definition),
        )
        page: str = snapshot.get_html_str(as_iframe=False)
    return page


def render(data: DriftData) -> RenderedReport:
    """The report page of ``data`` (blocking, CPU-bound: call it from a worker thread, inside
    ``render_slot``)."""
    current = _frame(data.current, data.numeric, data.categorical)
    reference = _frame(data.reference, data.numeric, data.categorical)
    kept, left_out = usable_columns(current, reference, data.numeric + data.categorical)
    if not kept:
        raise Invalid(
            "no feature has values in both the window and the reference",
            [FieldError(None, "from", "every feature is empty on one side: " + "; ".join(left_out))],
        )
    numeric = [n for n in data.numeric if n in kept]
    categorical = [n for n in data.categorical if n in kept]
    page = _evidently_page(current[kept], reference[kept], numeric, categorical)
    return RenderedReport(_finish(page, data, left_out), tuple(kept), left_out)
