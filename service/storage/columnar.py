"""Query results as numpy columns, with fields pulled out of JSON documents on the way.

On Postgres the database extracts each wanted JSON field (``doc ->> 'key'``) and ships the
rows with ``COPY (SELECT …) TO STDOUT`` as CSV, which pyarrow parses in C++ straight into
columns: no Python object per row. Reading 10^5 predictions of 20 features this way took
~0.25 s where psycopg decoding one JSONB document per row into dicts and a ``dict.get`` per
feature per row took ~1.6 s. (Shipping each document whole as JSON text for pyarrow's JSON
reader was tried for the attributions and dropped: no cheaper for features, and the reader
crashed the process on one test's documents.) SQLite has no COPY: its rows are read and
decoded as usual and turned into the same columns.

Kinds: ``"int"`` (int64; a NULL is an error), ``"float"`` (float64, NULL → NaN) and
``"text"`` (object array of str, NULL → None; an empty string stays ``""``). Numeric
columns read through COPY are read-only views of pyarrow's buffers.

Numbers a document also holds may be kept packed in a ``bytea`` column beside it
(``PackedFloats``): Postgres prints a JSONB number as text for ``->>`` (``numeric_out``), and
that was ~60% of the database's part of a read; the packed bytes go out as hex, which costs it
next to nothing. On 10^6 rows of 15 numbers, 5 categories and 2 attributes, one backend,
``COPY … TO '/dev/null'``: the 22 fields by ``->>`` 7.9–8.1 s, the packed hex and the 7 text
fields 3.0–3.4 s, the plain columns alone 1.1 s. A row whose column is NULL (stored before
the column existed, or by a writer that does not fill it) is read from its document.
"""

from __future__ import annotations

import binascii
import functools
import io
import math
import selectors
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Select, Text, and_, case, cast, func
from sqlalchemy.orm import Session

from service.kernel.coded import coded_labels
from service.storage.dialect import is_postgres

Kind = Literal["int", "float", "text"]
Columns = dict[str, np.ndarray[Any, Any]]
_ARROW = {"int": pa.int64(), "float": pa.float64(), "text": pa.string()}


@dataclass(frozen=True, slots=True)
class JsonField:
    """Column ``name`` of the result: ``document[key]`` read as ``kind`` (missing key: NULL)."""

    name: str
    document: Any  # a JSON column of the query's FROM, e.g. Prediction.features
    key: str
    kind: Kind


# How a packed row is laid out: little-endian IEEE 754 doubles, NaN for a missing number.
PACKED_DTYPE = np.dtype("<f8")


def pack_floats(values: Sequence[float | None]) -> bytes:
    """``values`` as one packed row (None → NaN): what a ``PackedFloats`` column holds.
    ~0.6 µs for 15 values, against ~2 µs through a numpy array."""
    return _packer(len(values))(*[math.nan if v is None else v for v in values])


@functools.lru_cache(maxsize=64)
def _packer(count: int) -> Callable[..., bytes]:
    return struct.Struct(f"<{count}d").pack


@dataclass(frozen=True, slots=True)
class PackedFloats:
    """Float columns ``names`` of the result, stored twice: as ``keys`` of the JSON column
    ``document`` and packed in the ``bytea`` column ``column`` (``pack_floats`` of the values of
    ``keys`` in that order) on the rows where ``holds`` (a SQL condition) is true, e.g. the
    versions whose numeric features are ``keys``. Each row is read from ``column`` where
    ``holds`` and the column is set, else from ``document`` (a key missing or null: NaN)."""

    names: tuple[str, ...]
    column: Any  # e.g. Prediction.numbers
    document: Any  # e.g. Prediction.features
    keys: tuple[str, ...]
    holds: Any  # e.g. Prediction.version_id.in_([…])

    def as_fields(self) -> list[JsonField]:
        """The same columns read from the document alone."""
        return [JsonField(n, self.document, k, "float") for n, k in zip(self.names, self.keys, strict=True)]


Field = JsonField | PackedFloats
# The result label of a packed column: its hex, or the whole document where it is NULL.
_PACKED = "packed floats"


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """How to read a COPY's CSV: its columns (label, kind) in order, and which packed column
    (labelled ``_PACKED``, last) holds which float columns."""

    columns: tuple[tuple[str, Kind], ...]
    packed: tuple[tuple[str, str], ...] = ()  # (column name, document key), in packed order


def read_columns(
    session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[Field]
) -> Columns:
    """Run ``query`` (plain columns, with labels, of ``kinds`` in order) plus ``fields``;
    every result column by its label. Rows come in the database's order."""
    if is_postgres(session):
        return _copied(session, query, kinds, fields)
    return _decoded(session, query, kinds, fields)


def _names(query: Select[Any]) -> list[str]:
    return [str(column.key) for column in query.selected_columns]


def _copied(session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[Field]) -> Columns:
    statement, params, plan = copy_statement(session, query, kinds, fields)
    driver = session.connection().connection.driver_connection  # this transaction's connection
    return parse_csv(copy_out(driver, statement, params), plan)


def copy_statement(
    session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[Field]
) -> tuple[str, Any, CopyPlan]:
    """``COPY (query + fields) TO STDOUT`` as CSV, its parameters, and how to read it."""
    plain = [f for f in fields if isinstance(f, JsonField)]
    packed = [f for f in fields if isinstance(f, PackedFloats)]
    if len(packed) > 1:
        raise ValueError("one packed column per read")
    extracted = [f.document.op("->>")(f.key).label(f.name) for f in plain]
    columns = list(zip(_names(query), kinds, strict=True)) + [(f.name, f.kind) for f in plain]
    layout: tuple[tuple[str, str], ...] = ()
    if packed:
        one = packed[0]
        # Hex by ``encode`` (not bytea's output, which ``bytea_output`` may set to escapes);
        # elsewhere the document's text, told apart by its leading "{".
        hexed = case(
            (and_(one.holds, one.column.is_not(None)), func.encode(one.column, "hex")),
            else_=cast(one.document, Text),
        )
        extracted.append(hexed.label(_PACKED))
        layout = tuple(zip(one.names, one.keys, strict=True))
    # render_postcompile: an IN list becomes its parameters now (COPY is sent with them bound).
    compiled = query.add_columns(*extracted).compile(
        bind=session.get_bind(), compile_kwargs={"render_postcompile": True}
    )
    plan = CopyPlan(tuple(columns), layout)
    return f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params, plan


def copy_out(driver: Any, statement: str, params: Any) -> io.BytesIO:
    """The CSV text of a COPY statement run on a psycopg connection.

    psycopg starts the COPY (in the connection's transaction; parameters are bound
    client-side: COPY takes none); the rows are then taken from libpq directly. The server
    sends one message per row, and psycopg's iterator (a generator and a wait per message)
    cost ~0.7 s of Python per 10^6 rows against ~0.17 s here, holding the GIL that the
    other slices' readers and pyarrow's hand-offs need.
    """
    buffer = io.BytesIO()
    with driver.cursor() as cursor, cursor.copy(statement, params):
        drain_copy(driver.pgconn, buffer.write, encoding=driver.info.encoding)
    return buffer


def drain_copy(pgconn: Any, write: Callable[[Any], object], *, encoding: str) -> None:
    """Pass every row of the COPY ``pgconn`` is sending to ``write``, then read its final
    result (raising the server's error if the COPY failed midway)."""
    import psycopg

    with selectors.DefaultSelector() as selector:
        selector.register(pgconn.socket, selectors.EVENT_READ)

        def wait() -> None:
            selector.select()  # releases the GIL until the socket has data
            pgconn.consume_input()

        while True:
            size, data = pgconn.get_copy_data(1)  # 1: never block in libpq holding the GIL
            if size > 0:
                write(data)
            elif size == 0:
                wait()
            else:  # -1: the data is over (libpq raises on -2)
                break
        while True:
            while pgconn.is_busy():
                wait()
            result = pgconn.get_result()
            if result is None:
                return
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
                raise psycopg.errors.error_from_result(result, encoding=encoding)


def parse_csv(buffer: io.BytesIO, plan: CopyPlan) -> Columns:
    """COPY's CSV text as numpy columns."""
    from pyarrow import csv

    packed = [_PACKED] if plan.packed else []
    if not buffer.tell():  # no row (pyarrow refuses an empty file)
        empty = {name: _typed([], kind) for name, kind in plan.columns}
        return empty | {name: _typed([], "float") for name, _ in plan.packed}
    table = csv.read_csv(
        io.BytesIO(buffer.getbuffer()),
        read_options=csv.ReadOptions(column_names=[name for name, _ in plan.columns] + packed),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            # Binary, not string: hex needs no UTF-8 check, and orjson reads bytes.
            column_types={n: _ARROW[kind] for n, kind in plan.columns} | dict.fromkeys(packed, pa.binary()),
            # COPY writes NULL unquoted and empty, an empty string as "": keep them apart.
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    out = {name: _numpy(table.column(name), kind) for name, kind in plan.columns}
    if plan.packed:
        out |= _unpacked(table.column(_PACKED), plan.packed)
    return out


def _unpacked(column: Any, layout: tuple[tuple[str, str], ...]) -> Columns:
    """The float columns of a packed column's cells (hex, or the document's JSON text where
    the packed value was not to be used), chunk by chunk as pyarrow read them."""
    by_column = np.empty((len(layout), len(column)))  # one contiguous array per column, as CSV's are
    start = 0
    for chunk in column.chunks:
        by_column[:, start : start + len(chunk)] = _chunk_floats(chunk, layout).T
        start += len(chunk)
    return {name: by_column[k] for k, (name, _) in enumerate(layout)}


def _chunk_floats(chunk: Any, layout: tuple[tuple[str, str], ...]) -> np.ndarray[Any, Any]:
    """One chunk of packed cells (a pyarrow binary array) as rows of doubles: its hex cells
    (each ``16 × len(layout)`` characters) decoded in one call, its document cells (NULL,
    empty, or starting with "{") one by one."""
    count, width = len(chunk), 16 * len(layout)
    _, offset_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int32, count=count + 1, offset=4 * chunk.offset)
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    characters = np.frombuffer(data, dtype=np.uint8)
    lengths = np.diff(offsets)
    documents = lengths == 0
    documents[~documents] = characters[offsets[:-1][~documents]] == ord("{")
    if chunk.null_count:
        documents |= ~chunk.is_valid().to_numpy(zero_copy_only=False)
    wrong = np.flatnonzero(~documents & (lengths != width))
    if wrong.size:  # its rows were packed with other keys than ``holds`` says: a caller's error
        raise ValueError(f"a packed cell of {int(lengths[wrong[0]])} characters where {width} were expected")
    if not documents.any():  # the cells' characters end to end: one decode
        return _hex_rows(data[offsets[0] : offsets[-1]], len(layout))
    out = np.full((count, len(layout)), math.nan)
    hexed = np.flatnonzero(~documents)
    out[hexed] = _hex_rows(characters[offsets[hexed][:, None] + np.arange(width)].tobytes(), len(layout))
    for row in np.flatnonzero(documents & (lengths > 0)).tolist():  # NULL and empty: all NaN
        document = orjson.loads(data[offsets[row] : offsets[row + 1]])
        out[row] = [_float_or_nan(document.get(key)) for _, key in layout]
    return out


def _hex_rows(text: Any, numbers: int) -> np.ndarray[Any, Any]:
    """Hex text of whole packed rows as rows of ``numbers`` doubles (``binascii``, ~1 GB/s)."""
    return np.frombuffer(binascii.unhexlify(text), dtype=PACKED_DTYPE).reshape(-1, numbers)


def _float_or_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _numpy(column: Any, kind: Kind) -> np.ndarray[Any, Any]:
    """One CSV column (a pyarrow chunked array, one chunk per ~1 MB of CSV) as numpy.

    Nulls are filled in arrow and the chunks joined before one zero-copy view: pyarrow's own
    ``to_numpy`` of a chunked float column with nulls took ~0.95 s of CPU for 35 columns of
    10^6 rows (~230 chunks each), this ~0.05 s."""
    if kind == "text":
        return _texts(column)
    if kind == "float":
        return np.asarray(pc.fill_null(column, math.nan).combine_chunks().to_numpy(), dtype=np.float64)
    if column.null_count:
        raise ValueError("NULL in an integer column")
    return np.asarray(column.combine_chunks().to_numpy(), dtype=np.int64)


def _texts(column: Any) -> np.ndarray[Any, Any]:
    """An object array sharing one str per distinct value, carrying its dictionary encoding
    (``kernel.coded``): a dictionary lookup in numpy instead of a Python str per row
    (``to_pylist`` took ~0.1 s per 10^6 rows and column, and ~60 bytes per row, for columns
    of a few dozen distinct values)."""
    encoded = column.combine_chunks().dictionary_encode()
    values = encoded.dictionary.to_pylist()
    table = np.array([*values, None], dtype=object)
    indices = encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
    # The encoding stays with the column: a profile looks each distinct value up once.
    return coded_labels(table, indices)


def _decoded(session: Session, query: Select[Any], kinds: Sequence[Kind], given: Sequence[Field]) -> Columns:
    # SQLite reads whole documents anyway: a packed column is read from its document.
    fields = [one for f in given for one in (f.as_fields() if isinstance(f, PackedFloats) else [f])]
    documents = list(dict.fromkeys(f.document for f in fields))
    rows = session.connection().execute(query.add_columns(*documents)).all()
    width = len(kinds)
    out: Columns = {}
    for position, (name, kind) in enumerate(zip(_names(query), kinds, strict=True)):
        out[name] = _typed([row[position] for row in rows], kind)
    empty: dict[str, Any] = {}
    for index, document in enumerate(documents):
        values = [row[width + index] or empty for row in rows]
        for field in (f for f in fields if f.document is document):
            out[field.name] = _typed([v.get(field.key) for v in values], field.kind)
    return out


def _typed(values: list[Any], kind: Kind) -> np.ndarray[Any, Any]:
    if kind == "text":
        return np.array(values, dtype=object) if values else np.empty(0, dtype=object)
    # numpy turns None into NaN for a float dtype: one C loop instead of a Python one.
    return np.array(values, dtype=np.float64 if kind == "float" else np.int64)
