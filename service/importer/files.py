"""Reading a Parquet or CSV file as record batches of a fixed number of rows.

Parquet is read row group by row group (``ParquetFile.iter_batches``) and CSV block by block
(``pyarrow.csv.open_csv``), so memory holds about one batch whatever the file's size. CSV
types are inferred from the first block (1 MiB) as pyarrow does: ISO 8601 times with ``Z`` or
an offset become timestamps with a time zone; times without one stay naive, and the server
refuses them as it refuses naive ISO strings in JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq

CSV_BLOCK_BYTES = 1 << 20
COUNT_CHUNK_BYTES = 1 << 22


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows ``first`` to ``first + table.num_rows - 1`` of the file (data rows, from 0)."""

    first: int
    table: pa.Table


@dataclass(frozen=True, slots=True)
class Source:
    path: Path
    kind: str  # "parquet" or "csv"
    rows: int  # CSV: lines after the header (a quoted field holding a newline counts twice)

    def batches(self, size: int, skip: int = 0) -> Iterator[Batch]:
        """Batches of ``size`` rows (the last one shorter), the first ``skip`` rows left out."""
        stream = self._record_batches(size)
        pending: list[pa.RecordBatch] = []
        held = 0
        first = 0
        for record_batch in stream:
            pending.append(record_batch)
            held += record_batch.num_rows
            while held >= size:
                table = pa.Table.from_batches(pending).combine_chunks()
                yield from _kept(Batch(first, table.slice(0, size)), skip)
                rest = table.slice(size)
                pending, held, first = rest.to_batches(), rest.num_rows, first + size
        if held:
            yield from _kept(Batch(first, pa.Table.from_batches(pending).combine_chunks()), skip)

    def _record_batches(self, size: int) -> Iterator[pa.RecordBatch]:
        if self.kind == "parquet":
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=size)
            return
        options = csv.ReadOptions(block_size=CSV_BLOCK_BYTES)
        with csv.open_csv(self.path, read_options=options) as reader:
            yield from reader


def _kept(batch: Batch, skip: int) -> Iterator[Batch]:
    if batch.first >= skip:
        yield batch
    elif batch.first + batch.table.num_rows > skip:
        yield Batch(skip, batch.table.slice(skip - batch.first))


def open_source(path: Path) -> Source:
    """The file as a ``Source``: Parquet by its magic bytes, else CSV."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return Source(path, "parquet", pq.ParquetFile(path).metadata.num_rows)
    return Source(path, "csv", max(0, _count_lines(path) - 1))


def _count_lines(path: Path) -> int:
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(COUNT_CHUNK_BYTES):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")
