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
"""

from __future__ import annotations

import io
import math
import selectors
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Select
from sqlalchemy.orm import Session

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


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """How to read a COPY's CSV: its columns (label, kind) in order."""

    columns: tuple[tuple[str, Kind], ...]


def read_columns(
    session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[JsonField]
) -> Columns:
    """Run ``query`` (plain columns, with labels, of ``kinds`` in order) plus ``fields``;
    every result column by its label. Rows come in the database's order."""
    if is_postgres(session):
        return _copied(session, query, kinds, fields)
    return _decoded(session, query, kinds, fields)


def _names(query: Select[Any]) -> list[str]:
    return [str(column.key) for column in query.selected_columns]


def _copied(
    session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[JsonField]
) -> Columns:
    statement, params, plan = copy_statement(session, query, kinds, fields)
    driver = session.connection().connection.driver_connection  # this transaction's connection
    return parse_csv(copy_out(driver, statement, params), plan)


def copy_statement(
    session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[JsonField]
) -> tuple[str, Any, CopyPlan]:
    """``COPY (query + fields) TO STDOUT`` as CSV, its parameters, and how to read it."""
    extracted = [f.document.op("->>")(f.key).label(f.name) for f in fields]
    columns = list(zip(_names(query), kinds, strict=True)) + [(f.name, f.kind) for f in fields]
    compiled = query.add_columns(*extracted).compile(bind=session.get_bind())
    plan = CopyPlan(tuple(columns))
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

    if not buffer.tell():  # no row (pyarrow refuses an empty file)
        return {name: _typed([], kind) for name, kind in plan.columns}
    table = csv.read_csv(
        io.BytesIO(buffer.getbuffer()),
        read_options=csv.ReadOptions(column_names=[name for name, _ in plan.columns]),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            column_types={name: _ARROW[kind] for name, kind in plan.columns},
            # COPY writes NULL unquoted and empty, an empty string as "": keep them apart.
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    return {name: _numpy(table.column(name), kind) for name, kind in plan.columns}


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
    """An object array sharing one str per distinct value: a dictionary lookup in numpy
    instead of a Python str per row (``to_pylist`` took ~0.1 s per 10^6 rows and column,
    and ~60 bytes per row, for columns of a few dozen distinct values)."""
    encoded = column.combine_chunks().dictionary_encode()
    values = encoded.dictionary.to_pylist()
    table = np.array([*values, None], dtype=object)
    indices = encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
    out: np.ndarray[Any, Any] = table[indices]
    return out


def _decoded(
    session: Session, query: Select[Any], kinds: Sequence[Kind], fields: Sequence[JsonField]
) -> Columns:
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
