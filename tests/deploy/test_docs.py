"""docs/deploy.md, docs/scaling.md and docs/runbooks.md agree with the files they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.support import REPO, VALUE_SETS, one, render

DOCS = [REPO / "docs" / name for name in ("deploy.md", "scaling.md", "runbooks.md")]
SCALING = REPO / "docs" / "scaling.md"
BENCHMARKS = REPO / "docs" / "benchmarks.md"


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, f"no section '{heading}'"
    return match.group(1)


@pytest.mark.parametrize("document", DOCS, ids=lambda path: path.name)
def test_every_repository_path_named_in_the_docs_exists(document: Path) -> None:
    named = set(
        re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:md|py|sh|yml|yaml|json|toml|lock))`", document.read_text())
    )
    named |= {"Dockerfile"} if "`Dockerfile`" in document.read_text() else set()
    assert named, document.name
    missing = sorted(path for path in named if not (REPO / path).exists())
    assert missing == []


@pytest.mark.parametrize(
    "heading", ["What each tier handles here", "Event tables: time partitions and retention"]
)
def test_the_scaling_figures_are_quoted_from_the_benchmarks(heading: str) -> None:
    """Every measured figure of these sections of docs/scaling.md appears in docs/benchmarks.md,
    where the run that measured it is written down (a figure edited in one place only fails)."""
    section = _section(SCALING.read_text(), heading)
    benchmarks = BENCHMARKS.read_text()
    figures = set(re.findall(r"(?<![\w.])\d[\d,]*\.?\d*(?=\s*(?:ms|s|%|/s|MiB|rows|×|\b))", section))
    # Counts of things and settings, not measurements: days, rows loaded, slices.
    settings = {"10", "1,000", "100,000", "24"}
    quoted = {f.rstrip(".") for f in figures if len(f.replace(",", "").rstrip(".")) >= 2} - settings
    assert len(quoted) >= 8
    assert sorted(f for f in quoted if f not in benchmarks) == []


def test_the_connection_table_matches_the_chart_defaults() -> None:
    objects = render(VALUE_SETS["defaults"])
    config = one(objects, "ConfigMap")["data"]
    per_process = int(config["MODELMON_DATABASE_POOL_SIZE"]) + int(config["MODELMON_DATABASE_MAX_OVERFLOW"])
    api = one(objects, "Deployment", "api")["spec"]
    worker = one(objects, "Deployment", "worker")["spec"]
    assert worker["strategy"]["rollingUpdate"]["maxSurge"] == 0, "the formula counts no worker surge pod"
    surge = api["strategy"]["rollingUpdate"]["maxSurge"]
    peak = per_process * ((api["replicas"] + surge) * int(config["MODELMON_WORKERS"]) + worker["replicas"])
    row = re.search(
        r"^\| (\d+) \(chart default\) \| (\d+) \| (\d+) × \((\d+) \+ (\d+)\) = (\d+) \| yes \|$",
        _section(SCALING.read_text(), "Connections: pool size × processes ≤ max_connections"),
        flags=re.MULTILINE,
    )
    assert row is not None
    assert [int(value) for value in row.groups()] == [
        api["replicas"],
        worker["replicas"],
        per_process,
        api["replicas"] + surge,
        worker["replicas"],
        peak,
    ]
    assert peak <= 97
