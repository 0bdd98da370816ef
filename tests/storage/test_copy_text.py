"""COPY text built column by column (storage/copy_text.py) stores what psycopg's own
``write_row`` stores, value for value, on a real Postgres."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from service.storage import copy_text
from service.storage.dialect import _copy_value, copy_rows

pytestmark = pytest.mark.postgres

COLUMNS = ["s", "i", "f", "ts", "d", "b", "j", "flag"]
AWKWARD_TEXT = ["plain", "tab\there", "new\nline", "cr\rx", "back\\slash", "\\N", "é ü 漢字", "", 'a,b;"q"']
AWKWARD_FLOATS = [0.1, -0.0, 1e-300, 5e49, -1.5e-7, math.inf, -math.inf, 2.0**53 + 1]


def _rows() -> list[dict[str, Any]]:
    moment = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
    rows = []
    for k, text in enumerate(AWKWARD_TEXT):
        rows.append(
            {
                "s": text,
                "i": k * 10**15 - 7,
                "f": AWKWARD_FLOATS[k % len(AWKWARD_FLOATS)],
                "ts": moment + timedelta(microseconds=k)
                if k != 2
                else moment.astimezone(timezone(timedelta(hours=5))),
                "d": date(2026, 1, 1 + k),
                "b": bytes([k, 0, 255, 92, 9]),
                "j": {"text": text, "n": k / 3, "nested": [None, True, {"k": "v\\"}]},
                "flag": k % 2 == 0,
            }
        )
    rows.append(dict.fromkeys(COLUMNS))  # every column NULL
    rows.append({**rows[0], "s": None, "j": None, "ts": None})  # some NULL among values
    return rows


def _uniform() -> list[dict[str, Any]]:
    """No NULL and every time in UTC: a time column orjson encodes in one call (copy_text.py)."""
    rows = [{**row, "ts": row["ts"].astimezone(UTC)} for row in _rows()[:-2]]
    rows[3]["ts"] = rows[3]["ts"].replace(microsecond=0)
    return rows


def _stored(cursor: psycopg.Cursor[Any], table: str) -> list[tuple[Any, ...]]:
    cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY n")
    return cursor.fetchall()


def _table(cursor: psycopg.Cursor[Any], name: str) -> None:
    cursor.execute(
        f"CREATE TEMP TABLE {name} (n bigserial, s text, i bigint, f float8, ts timestamptz, d date, "
        "b bytea, j jsonb, flag boolean)"
    )


def _write_rows(cursor: psycopg.Cursor[Any], table: str, rows: list[dict[str, Any]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_copy_value(row[c]) for c in COLUMNS])


@pytest.mark.parametrize(("piece_rows", "kind"), [(1000, "mixed"), (3, "mixed"), (1000, "uniform")])
def test_text_copy_stores_what_write_row_stores(
    postgres_url: str, piece_rows: int, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copy_text, "PIECE_ROWS", piece_rows)
    rows = _rows() if kind == "mixed" else _uniform()
    assert copy_text.encoded_piece(rows, COLUMNS) is not None  # the text path, not the fallback
    with psycopg.connect(postgres_url.replace("+psycopg", "")) as conn, conn.cursor() as cursor:
        _table(cursor, "by_text")
        _table(cursor, "by_write_row")
        copy_rows(cursor, "by_text", COLUMNS, rows)
        _write_rows(cursor, "by_write_row", rows)
        stored = _stored(cursor, "by_text")
        assert stored == _stored(cursor, "by_write_row")
    assert [row[0] for row in stored] == [row["s"] for row in rows]
    assert [row[6] for row in stored] == [row["j"] for row in rows]
    assert [row[3] for row in stored] == [row["ts"] for row in rows]
    assert stored[3][2] == 5e49 and stored[3][1] == 3 * 10**15 - 7 and math.copysign(1, stored[1][2]) == -1


def test_times_encoded_in_one_call_equal_those_encoded_one_by_one() -> None:
    times = [row["ts"] for row in _uniform()]
    assert copy_text._encoded_column(times) == [time.isoformat() for time in times]
    assert copy_text._utc_times([times[0], _rows()[2]["ts"]]) is None  # not all in UTC


def test_a_piece_with_an_unknown_type_goes_through_write_row(postgres_url: str) -> None:
    rows = [{"s": "a", "i": 1}, {"s": "b", "i": Decimal("2")}]
    assert copy_text.encoded_piece(rows, ["s", "i"]) is None
    with psycopg.connect(postgres_url.replace("+psycopg", "")) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE mixed (n bigserial, s text, i numeric)")
        copy_rows(cursor, "mixed", ["s", "i"], rows)
        cursor.execute("SELECT s, i FROM mixed ORDER BY n")
        assert cursor.fetchall() == [("a", Decimal(1)), ("b", Decimal(2))]
