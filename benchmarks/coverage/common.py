"""The row and the table of the coverage benchmark (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """Coverage of one interval in one scenario.

    ``coverage`` = share of the ``reps`` simulated samples whose reported interval held the
    true value; ``mean_width`` = mean of ci_high − ci_low over those samples; ``skipped`` =
    samples where the service served no interval (insufficient data), left out of both.
    """

    interval: str
    scenario: str
    nominal: float
    reps: int
    coverage: float
    mean_width: float
    skipped: int = 0

    @property
    def standard_error(self) -> float:
        """Binomial standard error of ``coverage`` (its Monte Carlo noise)."""
        used = max(self.reps - self.skipped, 1)
        return math.sqrt(max(self.coverage * (1.0 - self.coverage), 0.0) / used)


def summarise(
    interval: str, scenario: str, nominal: float, hits: Sequence[bool], widths: Sequence[float], skipped: int
) -> CoverageRow:
    """A row from per-sample hits and widths (samples without an interval counted in ``skipped``)."""
    used = len(hits)
    coverage = sum(hits) / used if used else math.nan
    width = sum(widths) / used if used else math.nan
    return CoverageRow(interval, scenario, nominal, used + skipped, coverage, width, skipped)


def markdown(rows: Iterable[CoverageRow]) -> str:
    """A markdown table, one line per row, in the given order."""
    lines = [
        "| interval | scenario | nominal | reps | coverage (± MC s.e.) | mean width |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.interval} | {r.scenario} | {r.nominal:g} | {r.reps - r.skipped} "
            f"| {r.coverage:.3f} ± {r.standard_error:.3f} | {r.mean_width:.4f} |"
        )
    return "\n".join(lines)


def summary(rows: Iterable[CoverageRow]) -> str:
    """One line per (interval, nominal level): scenarios, lowest and median coverage, the
    scenario of the lowest, and how many scenarios sit below 0.93 (0.99 at a nominal ≥ 0.99)."""
    groups: dict[tuple[str, float], list[CoverageRow]] = {}
    for r in rows:
        if not math.isnan(r.coverage):
            groups.setdefault((r.interval, r.nominal), []).append(r)
    lines = [
        "| interval | nominal | scenarios | lowest coverage (its scenario) | median | below the floor |",
        "|---|---|---|---|---|---|",
    ]
    for (interval, nominal), found in groups.items():
        ordered = sorted(found, key=lambda r: r.coverage)
        floor = 0.99 if nominal >= 0.99 else 0.93
        low, median = ordered[0], ordered[len(ordered) // 2].coverage
        below = sum(r.coverage < floor for r in ordered)
        lines.append(
            f"| {interval} | {nominal:g} | {len(ordered)} | {low.coverage:.3f} ({low.scenario}) "
            f"| {median:.3f} | {below} |"
        )
    return "\n".join(lines)
