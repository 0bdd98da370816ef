"""False alerts on quiet data and detection of changes of known size, through the real path.

Every window goes the way a production window goes: rows are profiled per hourly bucket
(``build_profile``), a window is the merge of its 24 buckets (``merge_all``), evaluated against
the reference profile with the monitor configuration (``evaluate_window``), and the windows'
figures are replayed in window order through the alert rules live alerting uses
(``alerting.replay``). The geometry is the default one: 24 h windows, a new one every hour,
so consecutive windows share 23 of their 24 hours (fire_after 2 then guards against little).
Data: ``benchmarks.verdict_world`` (every row labelled). The configuration is the default
one, with ``decision: interval`` (the default) and again with ``decision: point`` on the same
profiles.

Printed:

1. quiet data, per (rows per window, groups, decision) and family: *verdicts* = windows per
   1,000 with at least one figure of the family in status ``alert``, and *fired* = alerts the
   rules raised per 1,000 windows;
2. per injected change of known size: the share of independent windows (tumbling, drawn
   afresh) whose target figure is ``alert``, and, with the default sliding windows and the
   change starting at a known hour, how many windows after the start the family first fired
   (median of 5 runs; "—" when it did not fire within 72 windows).

    python -m benchmarks.false_alerts [--windows 1000] [--power-windows 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from benchmarks.common import progress
from benchmarks.verdict_world import QUIET, Change, draw, intersections, noise_for_auc_drop
from service.alerting.replay import Replay
from service.monitors.plans import alerting_policy
from service.monitors.schemas import DecisionMode, MonitorConfig
from service.stats.layout import Layout, fit_layout
from service.stats.profile import Profile, build_profile, merge_all
from service.windows.figures import Figure, evaluate_window
from service.windows.policy import evaluation_policy

FAMILIES = ("drift", "data_quality", "performance", "estimated_performance", "fairness")
REFERENCE_ROWS = 20_000
HOURS = 24  # buckets per window: the default 24 h window over hourly buckets, one window an hour
START = datetime(2026, 1, 1, tzinfo=UTC)
MODES = (DecisionMode.INTERVAL, DecisionMode.POINT)
DELAY_RUNS, DELAY_WINDOWS, QUIET_BEFORE = 5, 72, 48
Target = Callable[[Figure], bool]


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


def hourly(s: Setup, rows: int, hours: int, seed: int, changes: Sequence[Change]) -> list[Profile]:
    """``hours`` bucket profiles of ``rows`` / 24 rows each; hour h draws with ``changes[h]``."""
    per_hour = max(1, round(rows / HOURS))
    return [
        build_profile(s.layout, draw(per_hour, groups=s.groups, seed=seed + h, change=changes[h]))
        for h in range(hours)
    ]


def sliding(s: Setup, buckets: list[Profile]) -> list[Profile]:
    """Window i = the merge of buckets i … i + 23."""
    return [merge_all(buckets[i : i + HOURS], layout=s.layout) for i in range(len(buckets) - HOURS + 1)]


@dataclass
class Tally:
    """Per family: windows with an ``alert`` figure, alerts fired, the first window that fired."""

    windows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    fires: dict[str, list[int]] = field(default_factory=dict)
    target_hits: int = 0


def run(s: Setup, windows: list[Profile], mode: DecisionMode, target: Target | None = None) -> Tally:
    """Evaluate ``windows`` as consecutive hourly windows and replay the alert rules over them."""
    config = MonitorConfig(decision=mode)
    replay, tally = Replay(alerting_policy(config)), Tally(len(windows))
    policy = evaluation_policy(config)
    for i, profile in enumerate(windows):
        result = evaluate_window(
            layout=s.layout, reference=s.reference, window=profile, policy=policy, final=True
        )
        tally.verdicts.update({f.family for f in result.figures if f.status == "alert"})
        tally.target_hits += target is not None and any(
            target(f) and f.status == "alert" for f in result.figures
        )
        replay.apply((START + timedelta(hours=i), START + timedelta(hours=i + HOURS)), result.figures)
    for episode in replay.finish():
        family = episode.subject.family
        tally.fired[family] += 1
        # window i (0-based) ends at START + (i + 24) h: its 1-based number is i + 1
        number = int((episode.fired_window_end - START).total_seconds() // 3600) - HOURS + 1
        tally.fires.setdefault(family, []).append(number)
    return tally


def quiet_rows(windows: int, seed: int) -> list[str]:
    lines = [
        "| rows per window | groups | decision | "
        + " | ".join(f"{f} verdicts / fired" for f in FAMILIES)
        + " |",
        "|---|---|---|" + "---|" * len(FAMILIES),
    ]
    for groups in (2, 6, 12):
        s = setup(groups, seed)
        for rows in (200, 2_000, 20_000):
            started = time.perf_counter()
            hours = windows + HOURS - 1
            buckets = hourly(s, rows, hours, seed * 1_000_003 + rows + groups, [QUIET] * hours)
            profiles = sliding(s, buckets)
            for mode in MODES:
                tally = run(s, profiles, mode)
                scale = 1000.0 / tally.windows
                cells = [f"{tally.verdicts[f] * scale:.1f} / {tally.fired[f] * scale:.1f}" for f in FAMILIES]
                lines.append(f"| {rows:,} | {groups} | {mode.value} | " + " | ".join(cells) + " |")
            took = time.perf_counter() - started
            progress(f"quiet: {groups} groups, {rows} rows, {windows} sliding windows in {took:.0f} s")
    return lines


def _is(family: str, metric: str, feature: str | None = None, attribute: str | None = None) -> Target:
    def pick(f: Figure) -> bool:
        return f.family == family and f.metric == metric and f.feature == feature and f.attribute == attribute

    return pick


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    rows: int
    change: Change
    family: str
    target: Target


def cases(auc_noise: dict[float, float]) -> list[Case]:
    parity = _is("fairness", "statistical_parity_difference", attribute="sex")
    return [
        Case(
            "income mean +0.1σ",
            20_000,
            Change(income_shift=0.1),
            "drift",
            _is("drift", "drift_score", "income"),
        ),
        Case(
            "income mean +0.2σ",
            20_000,
            Change(income_shift=0.2),
            "drift",
            _is("drift", "drift_score", "income"),
        ),
        Case(
            "income mean +0.5σ",
            2_000,
            Change(income_shift=0.5),
            "drift",
            _is("drift", "drift_score", "income"),
        ),
        Case("flag 0.3 → 0.4", 2_000, Change(flag_rate=0.4), "drift", _is("drift", "drift_score", "flag")),
        Case("parity gap 0.15", 2_000, Change(parity_gap=0.15), "fairness", parity),
        Case("parity gap 0.25", 2_000, Change(parity_gap=0.25), "fairness", parity),
        Case(
            "AUC −0.05",
            5_000,
            Change(score_noise=auc_noise[0.05]),
            "performance",
            _is("performance", "roc_auc"),
        ),
        Case(
            "AUC −0.10",
            5_000,
            Change(score_noise=auc_noise[0.10]),
            "performance",
            _is("performance", "roc_auc"),
        ),
    ]


def _independent(s: Setup, case: Case, windows: int, seed: int) -> list[Profile]:
    per = [hourly(s, case.rows, HOURS, seed + 1_000 * w, [case.change] * HOURS) for w in range(windows)]
    return [merge_all(buckets, layout=s.layout) for buckets in per]


def _delay(s: Setup, case: Case, mode: DecisionMode, seed: int) -> str:
    """Median over runs of the windows from the change's start to the family's first firing."""
    delays = []
    hours = QUIET_BEFORE + DELAY_WINDOWS + HOURS - 1
    changes = [QUIET] * QUIET_BEFORE + [case.change] * (hours - QUIET_BEFORE)
    for r in range(DELAY_RUNS):
        tally = run(s, sliding(s, hourly(s, case.rows, hours, seed + 10_007 * r, changes)), mode)
        # the first window holding changed rows is number QUIET_BEFORE − HOURS + 2
        start = QUIET_BEFORE - HOURS + 2
        after = [n for n in tally.fires.get(case.family, []) if n >= start]
        delays.append(min(after) - start + 1 if after else float("inf"))
    middle = statistics.median(delays)
    return "—" if middle == float("inf") else f"{middle:.0f}"


def power_rows(windows: int, seed: int) -> list[str]:
    auc_noise = {drop: noise_for_auc_drop(drop) for drop in (0.05, 0.10)}
    progress(f"power: score logit noise {auc_noise} lowers the AUC by 0.05 / 0.10")
    lines = [
        "| change | rows per window | decision | independent windows with the figure in alert "
        "| windows until the family fired (sliding, median of 5) |",
        "|---|---|---|---|---|",
    ]
    s = setup(2, seed)
    for case in cases(auc_noise):
        profiles = _independent(s, case, windows, seed * 7_919 + case.rows)
        for mode in MODES:
            share = run(s, profiles, mode, case.target).target_hits / windows
            delay = _delay(s, case, mode, seed)
            lines.append(f"| {case.name} | {case.rows:,} | {mode.value} | {share:.1%} | {delay} |")
        progress(f"power: {case.name} done")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=1000, help="quiet sliding windows per (rows, groups)")
    parser.add_argument(
        "--power-windows", type=int, default=200, help="independent windows per injected change"
    )
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    print("Quiet data: per 1,000 windows, windows with an alert verdict / alerts fired by the rules\n")
    print("\n".join(quiet_rows(args.windows, args.seed)))
    print("\nChanges of known size (groups = 2)\n")
    print("\n".join(power_rows(args.power_windows, args.seed)))


if __name__ == "__main__":
    main()
