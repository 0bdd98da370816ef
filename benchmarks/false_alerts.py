"""False alerts on quiet data and detection of changes of known size, through the real path.

Every window goes the way a production window goes: its rows are profiled in four buckets
(``build_profile``), the buckets merged (``merge_all``), the window evaluated against the
reference profile with the monitor configuration (``evaluate_window``), and the windows'
figures replayed in order through the alert rules live alerting uses (``alerting.replay``).
Windows are tumbling and independent draws (``benchmarks.verdict_world``); every row is
labelled. The configuration is the default one, with ``decision: interval`` (the default)
and again with ``decision: point`` on the same profiles.

Printed per (rows, groups, decision): per family, *verdicts* = windows per 1,000 with at
least one figure of the family in status ``alert``, and *fired* = alerts the rules raised
per 1,000 windows. Then per injected change: the share of windows whose target figure is
``alert`` and the windows until the rules first fire.

    python -m benchmarks.false_alerts [--windows 1000] [--power-windows 200]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from benchmarks.common import progress
from benchmarks.verdict_world import QUIET, Change, draw, intersections, noise_for_auc_drop
from service.alerting.replay import Replay
from service.monitors.schemas import DecisionMode, MonitorConfig
from service.stats.layout import Layout, fit_layout
from service.stats.profile import Profile, build_profile, merge_all
from service.windows.figures import Figure, evaluate_window

FAMILIES = ("drift", "data_quality", "performance", "estimated_performance", "fairness")
REFERENCE_ROWS = 20_000
BUCKETS = 4
START = datetime(2026, 1, 1, tzinfo=UTC)
MODES = (DecisionMode.INTERVAL, DecisionMode.POINT)


@dataclass(frozen=True, slots=True)
class Setup:
    groups: int
    layout: Layout
    reference: Profile


def setup(groups: int, seed: int) -> Setup:
    batch = draw(REFERENCE_ROWS, groups=groups, seed=seed)
    layout = fit_layout(
        task="binary_classification",
        reference=batch,
        positive_label="default",
        classes=["default", "repaid"],
        intersections=intersections(groups),
    )
    return Setup(groups, layout, build_profile(layout, batch))


def window_profiles(s: Setup, rows: int, count: int, seed: int, change: Change) -> Iterator[Profile]:
    """``count`` windows of ``rows`` rows, each the merge of ``BUCKETS`` bucket profiles."""
    for w in range(count):
        batch = draw(rows, groups=s.groups, seed=seed + w, change=change)
        edges = [round(i * rows / BUCKETS) for i in range(BUCKETS + 1)]
        buckets = [build_profile(s.layout, batch.slice(a, b)) for a, b in pairwise(edges)]
        yield merge_all(buckets, layout=s.layout)


@dataclass
class Tally:
    """Per family: windows with an ``alert`` figure, and alerts fired by the rules."""

    windows: int = 0
    verdicts: Counter[str] | None = None
    fired: Counter[str] | None = None
    first_fire: dict[str, int] | None = None


def run(
    s: Setup, profiles: list[Profile], mode: DecisionMode, target: Callable[[Figure], bool]
) -> tuple[Tally, float]:
    """Evaluate ``profiles`` as consecutive windows; ``target`` picks the figures whose alert
    share is returned (for the power rows)."""
    config = MonitorConfig(decision=mode)
    replay = Replay(config)
    verdicts: Counter[str] = Counter()
    hits = 0
    for i, profile in enumerate(profiles):
        figures = evaluate_window(
            layout=s.layout, reference=s.reference, window=profile, config=config, final=True
        )
        alerting = {f.family for f in figures.figures if f.status == "alert"}
        verdicts.update(alerting)
        hits += any(target(f) and f.status == "alert" for f in figures.figures)
        window = (START + timedelta(hours=i), START + timedelta(hours=i + 1))
        replay.apply(window, figures.figures)
    fired: Counter[str] = Counter()
    first: dict[str, int] = {}
    for episode in replay.finish():
        family = episode.subject.family
        fired[family] += 1
        # window i (0-based) ends at START + (i + 1) h: this is the 1-based window number
        number = int((episode.fired_window_end - START).total_seconds() // 3600)
        first[family] = min(first.get(family, number), number)
    return Tally(len(profiles), verdicts, fired, first), hits / max(len(profiles), 1)


def quiet_rows(windows: int, seed: int) -> list[str]:
    lines = [
        "| rows | groups | decision | " + " | ".join(f"{f} verdicts / fired" for f in FAMILIES) + " |",
        "|---|---|---|" + "---|" * len(FAMILIES),
    ]
    for groups in (2, 6, 12):
        s = setup(groups, seed)
        for rows in (200, 2_000, 20_000):
            started = time.perf_counter()
            profiles = list(window_profiles(s, rows, windows, seed * 1_000_003 + rows + groups, QUIET))
            for mode in MODES:
                tally, _ = run(s, profiles, mode, lambda _f: False)
                assert tally.verdicts is not None and tally.fired is not None
                scale = 1000.0 / tally.windows
                cells = [f"{tally.verdicts[f] * scale:.1f} / {tally.fired[f] * scale:.1f}" for f in FAMILIES]
                lines.append(f"| {rows:,} | {groups} | {mode.value} | " + " | ".join(cells) + " |")
            took = time.perf_counter() - started
            progress(f"quiet: {groups} groups, {rows} rows, {windows} windows in {took:.0f} s")
    return lines


def _is(
    family: str, metric: str, feature: str | None = None, attribute: str | None = None
) -> Callable[[Figure], bool]:
    def pick(f: Figure) -> bool:
        return f.family == family and f.metric == metric and f.feature == feature and f.attribute == attribute

    return pick


def power_rows(windows: int, seed: int) -> list[str]:
    sigma = noise_for_auc_drop(0.05)
    progress(f"power: score logit noise {sigma:.3f} lowers the AUC by 0.05")
    cases = (
        (
            "income mean +0.1σ",
            20_000,
            Change(income_shift=0.1),
            "drift",
            _is("drift", "drift_score", "income"),
        ),
        (
            "income mean +0.2σ",
            20_000,
            Change(income_shift=0.2),
            "drift",
            _is("drift", "drift_score", "income"),
        ),
        ("flag 0.3 → 0.4", 2_000, Change(flag_rate=0.4), "drift", _is("drift", "drift_score", "flag")),
        (
            "parity gap 0.15",
            2_000,
            Change(parity_gap=0.15),
            "fairness",
            _is("fairness", "statistical_parity_difference", attribute="sex"),
        ),
        (
            "parity gap 0.25",
            2_000,
            Change(parity_gap=0.25),
            "fairness",
            _is("fairness", "statistical_parity_difference", attribute="sex"),
        ),
        ("AUC −0.05", 5_000, Change(score_noise=sigma), "performance", _is("performance", "roc_auc")),
    )
    lines = [
        "| change | rows | decision | windows with the figure in alert | first fired after (windows) |",
        "|---|---|---|---|---|",
    ]
    s = setup(2, seed)
    for name, rows, change, family, target in cases:
        profiles = list(window_profiles(s, rows, windows, seed * 7_919 + rows, change))
        for mode in MODES:
            tally, share = run(s, profiles, mode, target)
            assert tally.first_fire is not None
            first = tally.first_fire.get(family)
            fired = "never" if first is None else str(first)
            lines.append(f"| {name} | {rows:,} | {mode.value} | {share:.1%} | {fired} |")
        progress(f"power: {name} done")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=1000, help="quiet windows per (rows, groups)")
    parser.add_argument("--power-windows", type=int, default=200, help="windows per injected change")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    print("Quiet data: per 1,000 windows, windows with an alert verdict / alerts fired by the rules\n")
    print("\n".join(quiet_rows(args.windows, args.seed)))
    print("\nChanges of known size (groups = 2)\n")
    print("\n".join(power_rows(args.power_windows, args.seed)))


if __name__ == "__main__":
    main()
