"""The demo from start to summary: set the stage, stream the weeks, wait for the jobs,
gather the report, draw the charts; against its own server or a running one."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from service.demo import charts
from service.demo.api import Api
from service.demo.prepare import Stage, grid_for, set_stage
from service.demo.receiver import Receiver
from service.demo.scenario import DAY, Plan, Timeline, World, plan_for
from service.demo.server import SimulatedClock, local_server
from service.demo.settle import settle
from service.demo.stream import SLICE_SECONDS, Pacer, RealTime, Stream
from service.demo.summary import Report, collect

URL_DAY_SECONDS = 60  # against a real-time server a simulated day lasts one real minute
SETTLE_SECONDS = 120.0


def _midnight_weeks_ago(plan: Plan) -> datetime:
    """The simulated start: the run ends at today's midnight UTC, so its dates look recent."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=plan.days)


def _play(
    api: Api, args: argparse.Namespace, timeline: Timeline, pacer: Pacer, name: str, receiver: Receiver
) -> Report:
    """Set the stage, stream the weeks, wait for the jobs, and gather what happened."""
    plan = plan_for(args.weeks)
    world = World(args.seed, plan)
    stage = set_stage(api, world, timeline, name, args.per_day, receiver.url)
    if stage.secret is not None:
        receiver.trust(stage.secret)
    else:
        print(f"modelmon demo: no webhooks ({stage.webhook_problem})", file=sys.stderr)
    if isinstance(pacer, SimulatedClock):
        pacer.resume()
    started = time.monotonic()
    stream = Stream(api, name, world, timeline, pacer, args.per_day, _counters(api, name, receiver))
    sent = stream.run()
    last_end = timeline.at(plan.end)
    settled = settle(api, name, stage.endpoint_id, _last_window_end(last_end, timeline), SETTLE_SECONDS)
    report = Report(
        name, plan, timeline, grid_for(timeline).step, args.seed, sent, time.monotonic() - started
    )
    return _finish(api, report, stage, receiver, settled)


def _counters(api: Api, name: str, receiver: Receiver) -> Callable[[], tuple[int, int]]:
    """(alerts fired so far, webhooks received so far), for the progress line."""

    def counters() -> tuple[int, int]:
        fired = sum(1 for alert in api.all_alerts(name) if alert.get("fired_at"))
        return fired, sum(receiver.counts().values())

    return counters


def _last_window_end(end: datetime, timeline: Timeline) -> datetime:
    step = grid_for(timeline).step
    return datetime.fromtimestamp(end.timestamp() // step * step, UTC)


def _finish(api: Api, report: Report, stage: Stage, receiver: Receiver, settled: bool) -> Report:
    report.settled = settled
    report.webhook_problem = stage.webhook_problem
    report.secret = stage.secret
    report.webhooks = receiver.counts()
    report.received = receiver.received()
    report.rejected, report.duplicates = receiver.rejected, receiver.duplicates
    return collect(api, report)


def _self_started(args: argparse.Namespace, receiver: Receiver) -> tuple[Report, str | None]:
    plan = plan_for(args.weeks)
    timeline = Timeline(_midnight_weeks_ago(plan))
    speed = args.speed or plan.end / args.duration
    clock = SimulatedClock(timeline.start, speed)
    # The stream posts each slice before opening the clock to its end (server.py).
    skew = int(2 * SLICE_SECONDS + 300)
    with local_server(clock, skew, keep=args.keep) as server:
        api = Api(server.url, server.api_key)
        try:
            report = _play(api, args, timeline, clock, "credit-scoring", receiver)
            _draw(args, api, report)
            report.kept = None if args.keep is None else f"sqlite:///{server.database}"
        finally:
            api.close()
    return report, None


def _against_url(args: argparse.Namespace, receiver: Receiver) -> tuple[Report, str | None]:
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    timeline = Timeline(start, scale=URL_DAY_SECONDS / DAY)
    name = f"credit-scoring-demo-{start:%Y%m%d%H%M}"
    api = Api(args.url, args.api_key)
    try:
        report = _play(api, args, timeline, RealTime(), name, receiver)
        _draw(args, api, report)
    finally:
        api.close()
    return report, api.url


def _draw(args: argparse.Namespace, api: Api, report: Report) -> None:
    if args.charts is not None:
        paths = charts.write_charts(api, report.model, report.plan, report.timeline, args.charts)
        print(f"modelmon demo: charts written: {', '.join(str(p) for p in paths)}", file=sys.stderr)


def play(args: argparse.Namespace) -> tuple[Report, str | None]:
    """The whole demo; (its report, the server's URL when it outlives the demo). Raises
    :class:`DemoError` when the demo cannot run."""
    receiver = Receiver()
    try:
        return _against_url(args, receiver) if args.url else _self_started(args, receiver)
    finally:
        receiver.close()
