"""``modelmon import FILE --model NAME``: parsing its arguments and running it.

Exit codes:
  0  every row acknowledged (stored, or a duplicate of a stored row)
  1  the server refused a batch for its data (400, 409, 413, 422): the message names the
     batch's first row in the file and each problem's row and column; earlier batches stay
     stored, and a re-run after fixing the file resends them, counted as duplicates (an
     edited file does not match its --resume state: delete the state file)
  2  the command line, the file or the resume state is unusable
  3  the server refused the request itself (401/403: the key; 404: the model; 415)
  4  gave up after the retries: the server stayed unreachable, busy (429) or unavailable (5xx)

Only argparse is imported here: ``modelmon serve`` and the rest build this parser without
loading pyarrow or httpx.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

IMPORT_HELP = "send a Parquet or CSV file of predictions or outcomes to a running modelmon, in batches"
DEFAULT_URL = "http://127.0.0.1:8000"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(commands: Any) -> None:
    """Add ``import`` to the ``modelmon`` subcommands."""
    command = commands.add_parser(
        "import",
        help=IMPORT_HELP,
        description=IMPORT_HELP + ". The key is read from MODELMON_KEY.",
        epilog=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("file", help="a Parquet file, or a CSV file with a header row")
    command.add_argument("--model", required=True, help="the registered model's name")
    command.add_argument(
        "--url", default=os.environ.get("MODELMON_URL", DEFAULT_URL), help="modelmon's base URL"
    )
    command.add_argument("--kind", choices=["predictions", "outcomes"], default="predictions")
    command.add_argument("--batch-size", type=_positive, default=10_000, help="rows per request")
    command.add_argument("--format", dest="body_format", choices=["parquet", "arrow"], default="parquet")
    command.add_argument("--retries", type=int, default=8, help="retries of a batch on transient failures")
    command.add_argument(
        "--resume", metavar="STATE", help="a state file recording acknowledged rows: a re-run skips them"
    )


def run(args: argparse.Namespace) -> int:
    from service.importer.transfer import run_import

    return run_import(args)
