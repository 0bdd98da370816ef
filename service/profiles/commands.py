"""``modelmon spark-backfill``: profile a Parquet dataset with Spark and upload the profiles.

The job fetches the version's active layout (``GET …/layout``), builds one profile per bucket
where the data lives (``spark.py``) and posts them ``UPLOAD_BATCH`` at a time
(``POST …/profiles``). Only profiles leave the machine running Spark, never rows. A re-run
with the same input and source uploads the same profiles, which the server counts as
duplicates; a refit of the layout in between answers 409 "layout changed": run again.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from base64 import b64encode
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

HELP = "profile a Parquet dataset of predictions with Spark and upload the bucket profiles"
# ~36 kB of base64 per profile of the 20-feature credit layout: 200 make ~7 MB requests,
# well under the 32 MiB ingestion limit, and one transaction of ~1-2 s on the server.
UPLOAD_BATCH = 200
RETRIES = 5  # network errors, 429 and 5xx: 1, 2, 4, 8, 16 s apart
TIMEOUT_SECONDS = 120.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    job = commands.add_parser("spark-backfill", help=HELP)
    job.add_argument("--model", required=True, help="model name")
    job.add_argument("--input", required=True, help="Parquet file or folder of predictions")
    job.add_argument("--labels", help="Parquet file or folder of outcomes (prediction_id, label)")
    job.add_argument("--version", help="model version (default: the newest)")
    job.add_argument("--url", required=True, help="modelmon's base URL; the key comes from MODELMON_KEY")
    job.add_argument("--master", help="Spark master URL (default: local[*])")
    job.add_argument("--source", help="name of this upload (default: spark-backfill:<input name>)")
    job.add_argument("--batch", type=int, default=UPLOAD_BATCH, help="profiles per request")
    job.add_argument("--partitions", type=int, help="Spark partitions of the buckets (default: 2 × cores)")


def default_source(path: str) -> str:
    """``spark-backfill:<input's base name>`` with characters a source may not hold replaced."""
    name = re.sub(r"[^A-Za-z0-9._:/@+-]", "_", Path(path.rstrip("/")).name) or "input"
    return f"spark-backfill:{name}"[:200]


class UploadFailed(Exception):
    pass


@dataclass
class Uploader:
    """Posts profiles to one model's ``/profiles``, retrying what a retry can fix."""

    http: httpx.Client
    model: str
    body: dict[str, Any]  # version, layout_id, layout_hash, source
    accepted: int = 0
    duplicates: int = 0
    rows: int = 0

    def send(self, profiles: list[dict[str, str]]) -> None:
        answer = self._post({**self.body, "profiles": profiles})
        self.accepted += answer["accepted"]
        self.duplicates += answer["duplicates"]
        self.rows += answer["rows"]

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(RETRIES + 1):
            try:
                response = self.http.post(f"/v1/models/{self.model}/profiles", json=body)
            except httpx.TransportError as error:
                problem = f"network error: {error}"
            else:
                if response.status_code == 200:
                    result: dict[str, Any] = response.json()
                    return result
                problem = f"{response.status_code}: {_detail(response)}"
                if response.status_code not in (429, 502, 503, 504):
                    raise UploadFailed(problem)
            if attempt < RETRIES:
                time.sleep(2**attempt)
        raise UploadFailed(problem)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail = str(body.get("detail", body))
    errors = body.get("errors") or []
    return detail + "".join(f"; {e.get('field')}: {e.get('message')}" for e in errors[:5])


def fetch_layout(http: httpx.Client, model: str, version: str | None) -> dict[str, Any]:
    params = {} if version is None else {"version": version}
    response = http.get(f"/v1/models/{model}/layout", params=params)
    if response.status_code != 200:
        raise UploadFailed(f"GET layout: {response.status_code}: {_detail(response)}")
    view: dict[str, Any] = response.json()
    return view


def _bodies(rows: Iterable[Any]) -> Iterator[dict[str, str]]:
    for row in rows:
        start = datetime.fromtimestamp(int(row["bucket"]), UTC).isoformat()
        yield {"start": start, "body": b64encode(bytes(row["body"])).decode("ascii")}


def upload_all(uploader: Uploader, rows: Iterable[Any], total: int, batch: int, out: TextIO) -> None:
    # Imported here: `modelmon` registers this command in every process it starts, and the
    # windows package brings the metrics instruments, whose files a parent process of
    # several uvicorn workers must not create (tests/export/test_multiprocess.py).
    from service.windows.commands import Progress

    progress, done, pending = Progress(total, f"upload {uploader.model}", out), 0, []
    for body in _bodies(rows):
        pending.append(body)
        if len(pending) >= batch:
            uploader.send(pending)
            done, pending = done + len(pending), []
            progress.update(done)
    if pending:
        uploader.send(pending)
        progress.update(done + len(pending))
    progress.finish()


def backfill(args: argparse.Namespace, key: str, out: TextIO = sys.stderr) -> Uploader:
    """Run the job of ``args``; returns the uploader with its counts."""
    from service.profiles import spark

    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=TIMEOUT_SECONDS) as http:
        view = fetch_layout(http, args.model, args.version)
        job = spark.Job(view["layout"], view["bucket_seconds"], args.input, args.labels)
        identity = {"layout_id": view["layout_id"], "layout_hash": view["layout_hash"]}
        body = {"version": view["version"], **identity, "source": args.source or default_source(args.input)}
        uploader = Uploader(http, args.model, body)
        with spark.spark_session(args.master, args.partitions) as session:
            profiles = spark.bucket_profiles(session, job).cache()
            total = profiles.count()
            out.write(f"spark-backfill {args.model}: {total} bucket profiles built\n")
            upload_all(uploader, profiles.toLocalIterator(), total, args.batch, out)
    return uploader


def run(args: argparse.Namespace) -> int:
    key = os.environ.get("MODELMON_KEY")
    if not key:
        raise SystemExit("modelmon: set MODELMON_KEY to an ingest key of the model")
    started = time.monotonic()
    try:
        done = backfill(args, key)
    except UploadFailed as error:
        raise SystemExit(f"modelmon: spark-backfill stopped: {error}") from None
    seconds = time.monotonic() - started
    print(
        f"spark-backfill {args.model}: {done.accepted} bucket profiles accepted, {done.duplicates} "
        f"duplicates, {done.rows} predictions, {seconds:.1f} s"
    )
    return 0
