"""The text renderer against prometheus-client, byte for byte.

The oracle is the path ``render`` took before ``service/export/text.py``: a custom collector
yielding ``GaugeMetricFamily`` objects in a private registry, written by ``generate_latest``.
Inputs: seeded random families with awkward label values and special floats, and a real
snapshot of two evaluated models (tests/export/data.py), which also passes
``promtool check metrics``.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import create_engine

from service.clock import system_clock
from service.export.collector import render
from service.export.families import Budget, Family
from service.export.snapshot import read_snapshot
from service.export.text import go_float, render_text
from service.storage.database import create_session_factory, unit_of_work
from tests.tools import require_binary

AWKWARD_VALUES = (
    "", '"', '\\"', "\\", "\\\\n", "\n", "a\nb", 'say "hi"', "C:\\temp\\", "naïve", "日本語", "🙂",
    "tab\there", "{x=\"y\"}", ",", "=", " ", "model-007", "v1", "\r\n", "\x00", "é\\\"\n",
)  # fmt: skip
SPECIAL_FLOATS = (
    math.inf, -math.inf, math.nan, 0.0, -0.0, 1e-300, -1e-300, 1e22, -1e22, 123456789.0,
    -123456789.0, 0.1, 1.0, 1e6, 999999.9999999999, 1000000.5, 1e15, 1e16, 1.7e9, 5e-324,
    1.7976931348623157e308, 2.5e-7, 100.0, 1234567.125,
)  # fmt: skip
# Legacy label names, out of order (sorted: ``Z`` < ``_`` < ``a``) and prefixes of one another.
LABEL_NAMES = ("version", "model", "feature", "metric", "a", "Z", "_x", "group", "g", "attribute", "le")
# prometheus-client leaves this function unannotated; its contract is float in, str out.
FLOAT_TO_GO_STRING: Callable[[float], str] = floatToGoString
HELP_TEXTS = ("Plain.", "Back\\slash and\nnewline.", 'Quotes " stay.', "", "Unicode: ≥ 95% ✓.", "\\n")


class OldCollector(Collector):
    """What ``render`` used before: one ``GaugeMetricFamily`` per family."""

    def __init__(self, families: list[Family]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for family in self.families:
            gauge = GaugeMetricFamily(family.name, family.documentation, labels=list(family.labels))
            for values, value in family.samples.items():
                gauge.add_metric(list(values), value)
            yield gauge


def prometheus_client_text(families: list[Family]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OldCollector(families))
    return generate_latest(registry)


def _value(rng: random.Random) -> float:
    draw = rng.random()
    if draw < 0.3:
        return rng.choice(SPECIAL_FLOATS)
    if draw < 0.4:
        return rng.randint(-3, 10**9)  # an int where a float belongs: written as a float
    if draw < 0.45:
        return float(np.float64(rng.uniform(-1, 1)))
    return rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)


def _label_value(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(AWKWARD_VALUES)
    return "".join(rng.choice('ab\\"\n ü_-.') for _ in range(rng.randint(0, 8)))


def random_family(rng: random.Random, index: int) -> Family:
    labels = tuple(rng.sample(LABEL_NAMES, rng.randint(0, 5)))
    family = Family(f"modelmon_test_{index}:gauge", rng.choice(HELP_TEXTS), labels)
    size = rng.choice((0, 0, 1, 3, 40)) if labels else rng.choice((0, 1))
    for _ in range(size):
        family.samples[tuple(_label_value(rng) for _ in labels)] = _value(rng)
    return family


@pytest.mark.parametrize("seed", range(20))
def test_random_families_render_as_prometheus_client_renders_them(seed: int) -> None:
    rng = random.Random(seed)
    families = [random_family(rng, i) for i in range(rng.randint(0, 12))]
    assert render_text(families) == prometheus_client_text(families)


def test_the_random_families_reach_every_awkward_case() -> None:
    rngs = [random.Random(seed) for seed in range(20)]
    text = b"".join(render_text([random_family(rng, i) for i in range(rng.randint(0, 12))]) for rng in rngs)
    for case in ("\\\\", '\\"', "\\n", "+Inf", "-Inf", "NaN", "e+", "e-", " -0.0\n", "日本語", '=""'):
        assert case.encode() in text, case
    assert re.search(rb"# TYPE \S+ gauge\n# HELP", text)  # a family without samples
    assert re.search(rb"\n[a-z_0-9:]+ \S+\n", text)  # a sample without labels


def test_every_awkward_value_and_special_float_in_one_family() -> None:
    family = Family("modelmon_awkward", HELP_TEXTS[1], ("model", "feature", "a"))
    for i, (text, value) in enumerate(zip(AWKWARD_VALUES * 2, SPECIAL_FLOATS * 2, strict=False)):
        family.samples[(text, AWKWARD_VALUES[-1 - i % len(AWKWARD_VALUES)], str(i))] = value
    empty = Family("modelmon_empty", "No samples.", ("model",))
    unlabelled = Family("modelmon_unlabelled", "One sample.", (), {(): -0.0})
    families = [empty, family, unlabelled, Family("modelmon_empty_unlabelled", "", ())]
    assert render(families) == prometheus_client_text(families)


@pytest.mark.parametrize("value", [*SPECIAL_FLOATS, 7, -7, True, np.float64(123456789.5), 1.0 / 3])
def test_floats_are_written_as_float_to_go_string_writes_them(value: float) -> None:
    assert go_float(value) == FLOAT_TO_GO_STRING(value)


@pytest.mark.parametrize(
    ("family", "problem"),
    [
        (Family("modelmon-dash", "", ()), "invalid metric name"),
        (Family("", "", ()), "invalid metric name"),
        (Family("modelmon_x", "", ("model", "bad-label")), "invalid label name"),
        (Family("modelmon_x", "", ("model", "model")), "used twice"),
        (Family("modelmon_x", "", ("model", "feature"), {("credit",): 1.0}), "one value per label"),
        (Family("modelmon_x", "", ("model",), {("credit", "v1"): 1.0}), "one value per label"),
    ],
)
def test_names_and_samples_prometheus_client_would_mangle_are_refused(family: Family, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        render_text([family])


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory, populated_template: Path) -> list[Family]:
    """The stored-state families of two evaluated models (credit, churn), default budget."""
    path = tmp_path_factory.mktemp("text-db") / "modelmon.db"
    shutil.copy(populated_template, path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            return read_snapshot(session, system_clock(), Budget(top_k_features=10, max_groups=10))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_real_snapshot_renders_as_prometheus_client_renders_it(snapshot: list[Family]) -> None:
    assert sum(len(f.samples) for f in snapshot) > 100  # both models' health, not just counts
    assert render(snapshot) == prometheus_client_text(snapshot)


@pytest.mark.slow
def test_promtool_accepts_a_real_snapshot(snapshot: list[Family]) -> None:
    promtool = require_binary("promtool")
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=render(snapshot), capture_output=True, timeout=30, check=False
    )
    assert (lint.returncode, (lint.stdout + lint.stderr).decode()) == (0, "")
