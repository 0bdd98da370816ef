"""Seeded traffic for drift reports, the oracle of Evidently's verdicts, and the report's data.

A loan model with 3 numeric and 2 categorical features; the window's ``income`` moves by
+1 reference std and ``purpose`` moves mass to one category, the rest is drawn as in the
reference. The oracle recomputes, with scipy, the test Evidently 0.7 picks for each column
(``legacy/calculations/stattests/registry.py``: ``_get_default_stattest``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import distance

from tests.asgi_client import AppClient

MODEL = "loans"
WINDOW_START = datetime(2026, 11, 21, 0, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(hours=6)
NUMERIC = ("income", "debt", "age")
CATEGORICAL = ("purpose", "housing")
SHIFTED = ("income", "purpose")
PURPOSES = ("car", "home", "education", "business")


def registration(version: str = "v1") -> dict[str, Any]:
    return {
        "name": MODEL,
        "version": version,
        "task": "binary_classification",
        "features": [{"name": n, "type": "numeric"} for n in NUMERIC]
        + [{"name": n, "type": "categorical"} for n in CATEGORICAL],
        "positive_label": 1,
    }


def features(rng: np.random.Generator, n: int, *, shifted: bool) -> list[dict[str, Any]]:
    income = rng.normal(50.0, 10.0, n) + (10.0 if shifted else 0.0)
    debt = rng.normal(20.0, 5.0, n)
    age = rng.normal(40.0, 12.0, n)
    p = [0.1, 0.1, 0.1, 0.7] if shifted else [0.4, 0.3, 0.2, 0.1]
    purpose = np.array(PURPOSES)[rng.choice(4, n, p=p)]
    housing = np.array(["rent", "own", "free"])[rng.choice(3, n, p=[0.5, 0.4, 0.1])]
    return [
        {
            "income": float(income[i]),
            "debt": float(debt[i]),
            "age": float(age[i]),
            "purpose": str(purpose[i]),
            "housing": str(housing[i]),
        }
        for i in range(n)
    ]


@dataclass
class Traffic:
    reference: list[dict[str, Any]]
    current: list[dict[str, Any]]


def seed(client: AppClient, *, reference_rows: int, window_rows: int, seed: int = 5) -> Traffic:
    """Register the model, upload ``reference_rows`` reference rows and send ``window_rows``
    predictions spread over [WINDOW_START, WINDOW_END)."""
    rng = np.random.default_rng(seed)
    assert client.post("/v1/models", json=registration()).status_code == 201
    reference = features(rng, reference_rows, shifted=False)
    rows = [{"features": f, "prediction": 0, "score": 0.2, "label": 0} for f in reference]
    uploaded = client.post(f"/v1/models/{MODEL}/reference", json={"rows": rows})
    assert uploaded.status_code in (200, 201), uploaded.text
    current = features(rng, window_rows, shifted=True)
    if current:
        send(client, current, WINDOW_START, WINDOW_END - WINDOW_START, prefix="w")
    return Traffic(reference, current)


def send(
    client: AppClient, rows: list[dict[str, Any]], start: datetime, span: timedelta, prefix: str
) -> None:
    step = span / len(rows)
    records = [
        {
            "id": f"{prefix}-{i}",
            "timestamp": (start + i * step).isoformat(),
            "features": f,
            "prediction": 0,
            "score": 0.2,
        }
        for i, f in enumerate(rows)
    ]
    for first in range(0, len(records), 5_000):
        sent = client.post(
            f"/v1/models/{MODEL}/predictions", json={"predictions": records[first : first + 5_000]}
        )
        assert sent.status_code == 200, sent.text


# ---------------------------------------------------------------- the oracle


def _shares(reference: list[Any], current: list[Any]) -> tuple[list[float], list[float]]:
    keys = sorted(set(reference) | set(current))
    return (
        [reference.count(k) / len(reference) for k in keys],
        [current.count(k) / len(current) for k in keys],
    )


def oracle(reference: list[Any], current: list[Any], *, numeric: bool) -> tuple[str, bool]:
    """(Evidently's test name, drift verdict) recomputed with scipy for one column."""
    distinct = len(set(reference) | set(current))
    small = len(reference) <= 1000
    if numeric and distinct > 5:
        if small:
            return "K-S p_value", bool(stats.ks_2samp(reference, current).pvalue <= 0.05)
        norm = max(float(np.std(reference)), 0.001)
        return "Wasserstein distance (normed)", stats.wasserstein_distance(reference, current) / norm >= 0.1
    assert distinct > 2, "the data here never takes the Z-test path"
    ref_share, cur_share = _shares(reference, current)
    if small:
        # Evidently's chi-square: goodness of fit, the reference's shares as expected counts.
        expected = [s * len(current) for s in ref_share]
        observed = [s * len(current) for s in cur_share]
        return "chi-square p_value", bool(stats.chisquare(observed, expected).pvalue < 0.05)
    return "Jensen-Shannon distance", bool(distance.jensenshannon(ref_share, cur_share) >= 0.1)


def oracle_verdicts(traffic: Traffic) -> dict[str, tuple[str, bool]]:
    return {
        name: oracle(
            [r[name] for r in traffic.reference], [r[name] for r in traffic.current], numeric=name in NUMERIC
        )
        for name in NUMERIC + CATEGORICAL
    }


# ---------------------------------------------------------------- reading the page

_DATA = re.compile(r"var (metric_[0-9a-f]{32}) = (.*?);\n\s*var additional_graphs_\1 = ", re.S)


def report_data(page: str) -> dict[str, Any]:
    """The dashboard the page draws, parsed from the script that embeds it."""
    found = _DATA.search(page)
    assert found is not None, "no embedded dashboard data"
    data: dict[str, Any] = json.loads(found.group(2))
    return data


def _tables(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("type") == "big_table" else []
        return own + [t for value in node.values() for t in _tables(value)]
    if isinstance(node, list):
        return [t for item in node for t in _tables(item)]
    return []


def drift_table(page: str) -> dict[str, dict[str, Any]]:
    """The report's per-column drift table: column → its row (data_drift, stattest_name, drift_score)."""
    rows = [row for table in _tables(report_data(page)) for row in table["params"].get("data", [])]
    return {row["column_name"]: row for row in rows if "data_drift" in row}


# Tags whose attribute makes a browser fetch something to show the page.
FETCHING = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "embed": "src"}


class _Resources(HTMLParser):
    """Collects what a browser would fetch to show the page: script, stylesheet, image,
    frame and media sources (script bodies are not markup, so their strings are skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = FETCHING.get(tag)
        self.found += [value or "" for name, value in attrs if name == wanted]


def fetched_resources(page: str) -> list[str]:
    parser = _Resources()
    parser.feed(page)
    return parser.found
