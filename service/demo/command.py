"""``modelmon demo``: a credit-scoring model goes wrong in four ways; watch modelmon catch each.

Wiring into ``modelmon``: ``configure(parser)`` fills the ``demo`` sub-parser and
``run(args)`` runs it, returning the exit code. This module imports only
the standard library, so building ``modelmon``'s parser stays fast; the demo's machinery
(the app, numpy, uvicorn) is imported when the demo runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.demo.summary import Report

EXIT_CAUGHT, EXIT_MISSED, EXIT_ERROR = 0, 1, 2

DESCRIPTION = """\
Start a throwaway modelmon (SQLite in a temporary folder, on a free loopback port), register a
credit-scoring model, and stream several simulated weeks of loan applications through it in
about two minutes, on an accelerated clock. Along the way incomes drift up, a broker floods
in debt-consolidation loans, repayment stops following the model (labels arrive two weeks
late) and a rule starts declining young applicants. At the end: what was injected, what
modelmon caught and how many windows it took, and the signed webhooks a local receiver got,
including the retraining request. Exit code 0 when everything was caught, 1 otherwise.

With --url the demo targets a running modelmon instead. That server keeps real time, so the
demo does too: one simulated day lasts one minute (windows of one minute), and --weeks 3
takes about 21 minutes. Webhooks come back to a receiver on 127.0.0.1, so they work only
when the server runs on this machine and allows loopback webhooks (the development default).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Fill ``modelmon demo``'s sub-parser (``modelmon`` adds it, and calls this only for the demo)."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_arguments(parser)


def _weeks(text: str) -> float:
    value = float(text)
    if not 2 <= value <= 12:
        raise argparse.ArgumentTypeError("between 2 and 12 weeks")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="random seed of the simulated world (default 7)")
    parser.add_argument("--weeks", type=_weeks, default=6.0, help="simulated weeks, 2 to 12 (default 6)")
    parser.add_argument(
        "--duration", type=_positive, default=100.0, help="real seconds the weeks take (default 100)"
    )
    parser.add_argument(
        "--speed", type=_positive, help="simulated seconds per real second (instead of --duration)"
    )
    parser.add_argument(
        "--per-day", type=_positive, default=4000.0, help="loan applications per simulated day (default 4000)"
    )
    parser.add_argument("--charts", type=Path, metavar="DIR", help="write PNG charts here (needs matplotlib)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the demo's SQLite database in DIR")
    parser.add_argument("--url", help="use this running modelmon instead of starting one (real time)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("MODELMON_ADMIN_KEY"),
        help="admin API key for --url (default: $MODELMON_ADMIN_KEY)",
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The exit code, the report (None when the demo could not run) and what to print."""

    code: int
    report: Report | None
    text: str


def conclude(args: argparse.Namespace) -> Outcome:
    """Run the demo; code 0 when every injected problem was caught (and retraining was
    requested), 1 when something was missed, 2 when the demo could not run."""
    from service.demo import charts

    if args.charts is not None and not charts.available():
        return Outcome(EXIT_ERROR, None, f"modelmon demo: {charts.MISSING}")
    from service.demo.api import DemoError
    from service.demo.play import play
    from service.demo.summary import render

    try:
        report, url = play(args)
    except DemoError as error:
        return Outcome(EXIT_ERROR, None, f"modelmon demo: {error}")
    return Outcome(EXIT_CAUGHT if report.passed else EXIT_MISSED, report, render(report, url))


def run(args: argparse.Namespace) -> int:
    """``modelmon demo``: print the summary (or why the demo could not run); the exit code."""
    outcome = conclude(args)
    print(outcome.text, file=sys.stdout if outcome.report is not None else sys.stderr)
    return outcome.code
