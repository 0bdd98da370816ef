"""A compact credit model for the compliance report's tests (one day of traffic through the real
API and jobs), and readers of what the report returns: its HTML tables and its PDF's text."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import numpy as np

from service.runner import Pipeline
from tests.asgi_client import AppClient
from tests.windows import scenario

DAY = scenario.START + timedelta(days=2)
PERIOD = (DAY, DAY + timedelta(days=1))
ROWS = 1_600
CONFIG: dict[str, Any] = {
    "window": "24h",
    "step": "24h",
    "bucket": "1h",
    "label_wait": "1h",
    "fairness": {"min_group_size": 30, "intersections": [["sex", "age_band"]]},
}


def load(client: AppClient, clock: scenario.MutableClock, jobs: Pipeline) -> None:
    """Register, configure, upload the reference, send one day with drift and a gap for sex=F
    (the scenario's day 3), label every row, run the jobs after the day ends."""
    assert client.post("/v1/models", json=scenario.registration()).status_code == 201
    assert client.put("/v1/models/credit/monitor", json=CONFIG).status_code == 200
    response = client.post("/v1/models/credit/reference", json={"rows": scenario.reference()})
    assert response.status_code in (200, 201), response.text
    rows = scenario._rows(np.random.default_rng(5), ROWS, DAY, timedelta(days=1), day=3, prefix="d")
    clock.at = DAY + timedelta(days=1, hours=2)
    response = client.post("/v1/models/credit/predictions", json={"predictions": rows.records})
    assert response.status_code == 200, response.text
    outcomes = [
        {"prediction_id": i, "label": y, "timestamp": clock.at.isoformat()}
        for i, y in zip(rows.ids, rows.labels, strict=True)
    ]
    assert client.post("/v1/models/credit/outcomes", json={"outcomes": outcomes}).status_code == 200
    jobs.run_round()
    jobs.run_round()


@dataclass
class Table:
    css: str
    rows: list[list[str]] = field(default_factory=list)
    attribute: str | None = None


class Tables(HTMLParser):
    """Every <table> of a page with its class, its rows' cell texts, and the attribute of the
    section holding it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self._attribute: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and "data-attribute" in found:
            self._attribute = found["data-attribute"]
        elif tag == "table":
            self.tables.append(Table(found.get("class") or "", attribute=self._attribute))
        elif tag == "tr":
            self.tables[-1].rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1].rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "section":
            self._attribute = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def of(self, css: str) -> list[Table]:
        return [t for t in self.tables if t.css == css]


def printed_cell(item: dict[str, Any]) -> str:
    """An /evaluations or /evaluate item as the report's group tables print it."""
    if item["value"] is None:
        return f"— — n={item['n']:,}"
    return f"{item['value']:.4f} [{item['ci_low']:.4f}, {item['ci_high']:.4f}] n={item['n']:,}"


def pdf_pages(data: bytes) -> int:
    """Page objects of a PDF (``/Type /Page``, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def _objects(data: bytes) -> dict[int, bytes]:
    """Object number → its body, streams inflated (FlateDecode, as Chromium writes them)."""
    out = {}
    for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", data, re.S):
        body = m.group(2)
        stream = re.search(rb"stream\r?\n(.*)\r?\nendstream", body, re.S)
        if stream is not None and b"/FlateDecode" in body:
            body = body[: stream.start()] + zlib.decompress(stream.group(1))
        out[int(m.group(1))] = body
    return out


def _cmap(text: bytes) -> dict[int, str]:
    """A ToUnicode CMap's glyph → text (bfchar and bfrange entries)."""
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for glyph, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(glyph, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            first = int(uni, 16)
            for glyph in range(int(low, 16), int(high, 16) + 1):
                mapping[glyph] = chr(first + glyph - int(low, 16))
    return mapping


def pdf_text(data: bytes) -> str:
    """The text a PDF shows: each font's glyphs (hex strings of Tj / TJ) mapped back through the
    font's ToUnicode CMap; one line per text object."""
    objects = _objects(data)
    fonts: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", body):
            to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", objects.get(int(ref), b""))
            if to_unicode is not None:
                fonts[name] = _cmap(objects[int(to_unicode.group(1))])
    lines = []
    for body in objects.values():
        font: dict[int, str] = {}
        for token in re.finditer(rb"/(F\d+) [\d.]+ Tf|\[(.*?)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj|ET", body, re.S):
            if token.group(1) is not None:
                font = fonts.get(token.group(1), {})
            elif token.group(0) == b"ET":
                lines.append("\n")
            else:
                hexes = re.findall(rb"<([0-9A-Fa-f]*)>", token.group(2) or b"<" + token.group(3) + b">")
                for h in hexes:
                    lines += [font.get(int(h[i : i + 4], 16), "?") for i in range(0, len(h), 4)]
    return "".join(lines)
