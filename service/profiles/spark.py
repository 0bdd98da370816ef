"""The Spark side of ``modelmon spark-backfill``: bucket profiles where the data lives.

Predictions (Parquet, the flat columns of ``columns.py`` plus ``id`` and ``timestamp``) are
left-joined by id to their labels (``prediction_id``, ``label``), grouped by bucket start
(event time floored to the layout's bucket) and each group is profiled by the server's own
``build_profile`` in slices of ``SLICE_ROWS`` rows, merged with ``merge_all``. Rows are sorted
by id inside a group first, so a re-run of the same input builds byte-identical profiles (float
sums depend on the order of addition) and the server counts them as duplicates.

pyspark is the optional extra ``spark``; it is imported here only, when a job starts.
"""

from __future__ import annotations

import json
import os
import site
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.profiles.columns import batch_of
from service.stats.layout import Layout
from service.stats.profile import build_profile, merge_all
from service.stats.serialize import profile_to_bytes

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

# Rows turned into one Batch at a time: ~25 columns × 100,000 rows of Python objects and
# float64 stay near 100 MB per Python worker, however large one bucket is.
SLICE_ROWS = 100_000
OUTPUT_SCHEMA = "bucket long, rows long, body binary"
MISSING_PYSPARK = "modelmon spark-backfill needs pyspark (and Java 17): pip install 'modelmon[spark]'"


@dataclass(frozen=True, slots=True)
class Job:
    """What one backfill reads and the layout it profiles on."""

    layout: dict[str, Any]
    bucket_seconds: int
    predictions: str
    labels: str | None = None


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise SystemExit(f"modelmon: {MISSING_PYSPARK}") from None
    return pyspark.sql


@contextmanager
def spark_session(
    master: str | None = None, partitions: int | None = None, memory: str = "2g"
) -> Iterator[SparkSession]:
    """A Spark session (``local[*]`` unless ``master``), no UI, scratch space in a temporary
    folder removed afterwards; Python workers run this interpreter with this package on
    their path. ``partitions``: buckets are spread over this many groups (default: twice the
    cores here). Spark's default of 200 cost a 3,000-row test ~60 s on 2 cores: each
    partition is a task that starts Python, and streaming the result to the driver runs one
    job per partition."""
    sql = _pyspark()
    # Spark starts its Python workers by the interpreter's resolved path, which loses a
    # virtualenv: hand them this package and the driver's site-packages (numpy, pyarrow) by path.
    package_root = str(Path(__file__).resolve().parents[2])
    inherited = os.environ.get("PYTHONPATH", "")
    path = os.pathsep.join(p for p in (package_root, *site.getsitepackages(), inherited) if p)
    with tempfile.TemporaryDirectory(prefix="modelmon-spark-") as scratch:
        spark = (
            sql.SparkSession.builder.master(master or "local[*]")
            .appName("modelmon-spark-backfill")
            .config("spark.ui.enabled", "false")
            .config("spark.local.dir", scratch)
            .config("spark.driver.memory", memory)
            .config("spark.pyspark.python", sys.executable)
            .config("spark.pyspark.driver.python", sys.executable)
            .config("spark.executorEnv.PYTHONPATH", path)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(partitions or 2 * (os.cpu_count() or 1)))
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            yield spark
        finally:
            spark.stop()


# Parsed layouts of this Python worker by their JSON: parsing and hashing one costs ~3 ms, once
# per bucket without this (960 buckets in the 1M-row benchmark).
_LAYOUTS: dict[str, Layout] = {}


def profile_group(layout_json: str, slice_rows: int = SLICE_ROWS) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The ``applyInPandas`` function: one bucket's rows → one row (bucket, rows, profile bytes)."""

    def build(frame: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        layout = _LAYOUTS.get(layout_json)
        if layout is None:
            layout = _LAYOUTS[layout_json] = Layout.from_json(layout_json)
        frame = frame.sort_values("id", kind="stable")
        parts = []
        for first in range(0, len(frame), slice_rows):
            part = frame.iloc[first : first + slice_rows]
            columns = {name: part[name].to_numpy() for name in part.columns}
            parts.append(build_profile(layout, batch_of(layout, columns, len(part))))
        profile = merge_all(parts, layout=layout)
        bucket = int(frame["__bucket"].iloc[0])
        return pd.DataFrame({"bucket": [bucket], "rows": [profile.rows], "body": [profile_to_bytes(profile)]})

    return build


def _wanted_columns(layout: Layout) -> list[str]:
    names = [c.name for c in layout.numeric] + [c.name for c in layout.categorical]
    return ["id", "timestamp", "prediction", "score", *names, *(a.name for a in layout.attributes)]


def bucketed(spark: SparkSession, job: Job) -> DataFrame:
    """The job's rows: one per prediction id, its label joined, its bucket start (epoch s)."""
    functions = _pyspark().functions
    layout = Layout.from_dict(job.layout)
    frame = spark.read.parquet(job.predictions)
    for required in ("id", "timestamp"):
        if required not in frame.columns:
            raise SystemExit(f"modelmon: {job.predictions} has no {required!r} column")
    frame = frame.select(*[c for c in _wanted_columns(layout) if c in frame.columns])
    frame = frame.where(functions.col("id").isNotNull() & functions.col("timestamp").isNotNull())
    # A resent prediction id is one prediction, as in ingestion.
    frame = frame.dropDuplicates(["id"])
    if job.labels is not None:
        labels = spark.read.parquet(job.labels).select(
            functions.col("prediction_id").cast("string").alias("id"), "label"
        )
        frame = frame.withColumn("id", functions.col("id").cast("string"))
        frame = frame.join(labels.dropDuplicates(["id"]), "id", "left")
    seconds = functions.unix_seconds(functions.col("timestamp").cast("timestamp"))
    bucket = seconds - functions.pmod(seconds, functions.lit(job.bucket_seconds))
    return frame.withColumn("__bucket", bucket)


def bucket_profiles(spark: SparkSession, job: Job) -> DataFrame:
    """One row per bucket: (bucket start in epoch seconds, rows, serialised profile)."""
    frame = bucketed(spark, job)
    layout_json = json.dumps(job.layout)
    return frame.groupBy("__bucket").applyInPandas(profile_group(layout_json), schema=OUTPUT_SCHEMA)
