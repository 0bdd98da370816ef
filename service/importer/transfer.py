"""The import itself: the file's batches sent in order, acknowledged, counted and shown.

Batches go one at a time, in file order, so that what the server has acknowledged is always
a prefix of the file and the ``--resume`` state is one row count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa

from service.importer.exits import DATA_STATUSES, EXIT_DATA, EXIT_GAVE_UP, EXIT_REFUSED, EXIT_USAGE
from service.importer.files import Batch, Source, open_source
from service.importer.progress import Progress
from service.importer.resume import Identity, StaleState, acknowledged_rows, save
from service.importer.sender import GaveUp, Refused, Sender

ERRORS_SHOWN = 10


@dataclass
class Totals:
    rows: int = 0
    stored: int = 0
    duplicates: int = 0

    def add(self, rows: int, answer: dict[str, Any]) -> None:
        self.rows += rows
        self.stored += int(answer.get("accepted", 0))
        self.duplicates += int(answer.get("duplicates", 0))


def _fail(message: str, code: int) -> int:
    print(f"modelmon import: {message}", file=sys.stderr)
    return code


def run_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        source = open_source(path)
        identity = Identity.of(path, args.model, args.kind, args.batch_size)
        state = Path(args.resume) if args.resume else None
        skip = 0 if state is None else acknowledged_rows(state, identity)
    except (OSError, pa.ArrowException, ValueError, StaleState) as error:
        return _fail(f"cannot start: {error}", EXIT_USAGE)
    key = os.environ.get("MODELMON_KEY")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    url = f"{args.url.rstrip('/')}/v1/models/{quote(args.model, safe='')}/{args.kind}"
    with httpx.Client(headers=headers, timeout=httpx.Timeout(300.0, connect=10.0)) as client:
        sender = Sender(client, url, args.body_format, args.retries)
        return _send_all(source, args.batch_size, skip, sender, state, identity)


def _send_all(
    source: Source, size: int, skip: int, sender: Sender, state: Path | None, identity: Identity
) -> int:
    progress = Progress(source.rows, sys.stderr, skipped=skip)
    totals = Totals()
    batch: Batch | None = None
    try:
        for batch in source.batches(size, skip):
            totals.add(batch.table.num_rows, sender.send(batch.table))
            progress.advance(batch.table.num_rows)
            if state is not None:
                save(state, identity, batch.first + batch.table.num_rows)
    except Refused as refusal:
        progress.finish()
        assert batch is not None
        code = EXIT_DATA if refusal.status in DATA_STATUSES else EXIT_REFUSED
        return _fail(_refusal_text(refusal, batch, source), code)
    except GaveUp as given_up:
        progress.finish()
        first = "?" if batch is None else f"{batch.first + 1:,}"
        return _fail(
            f"gave up at row {first} after {given_up.attempts} attempts ({given_up.last})", EXIT_GAVE_UP
        )
    except (pa.ArrowException, OSError) as error:
        progress.finish()
        return _fail(f"cannot read {source.path} past row {totals.rows + skip:,}: {error}", EXIT_USAGE)
    progress.finish()
    print(_summary(source, totals, skip, progress, sender.retried))
    return 0


def _refusal_text(refusal: Refused, batch: Batch, source: Source) -> str:
    """What was refused, by row of the file (1 = the first data row; CSV: line = row + 1)."""
    first, last = batch.first + 1, batch.first + batch.table.num_rows
    lines = [
        f"the server refused rows {first:,}–{last:,} of {source.path} (HTTP {refusal.status}): "
        f"{refusal.detail}; rows before {first:,} are stored"
    ]
    for error in refusal.errors[:ERRORS_SHOWN]:
        index = error.get("index")
        where = "" if index is None else f"row {first + int(index):,}, "
        lines.append(f"  {where}column {error.get('field')}: {error.get('message')}")
    if len(refusal.errors) > ERRORS_SHOWN:
        lines.append(f"  … and {len(refusal.errors) - ERRORS_SHOWN} more")
    return "\n".join(lines)


def _summary(source: Source, totals: Totals, skip: int, progress: Progress, retried: int) -> str:
    now = time.monotonic()
    skipped = f", {skip:,} skipped (acknowledged before, --resume)" if skip else ""
    return (
        f"imported {source.path}: {totals.rows:,} rows sent in {now - progress.started:.1f} s "
        f"({progress.rate(now):,.0f} rows/s): {totals.stored:,} stored, {totals.duplicates:,} "
        f"duplicates{skipped}; {retried} retries"
    )
