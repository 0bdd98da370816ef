"""Reading a batch ``{"<key>": [record, …]}`` in pieces of ~256 KiB, so that the thread
parsing it gives the event loop the interpreter between pieces.

A parser holds the GIL for the whole of one call: orjson reads a 30 MiB batch in ~150 ms
and the stdlib parser (the fallback for ``NaN``) in ~1 s, during which no other request of
the process runs. A 256 KiB piece takes orjson ~1.5 ms and the stdlib parser ~8 ms here.

Pieces are cut after a ``}`` followed by ``,`` and ``{`` (records are objects). A cut that
falls inside a string or a nested value makes the piece fail to parse as an array, and the
piece is extended to the next cut (at most ``EXTENSIONS`` times, then to the end). A piece
that parses as ``[`` + piece + ``]`` is a whole number of records, so the records of the
pieces are exactly those of the array. Any body of another shape, or one a piece cannot
read, is parsed whole (``None`` here), which also gives the error its position.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

PIECE_BYTES = 256 * 1024
EXTENSIONS = 8
_SIMPLE_FIELD = rb'\s*"[a-z_]+"\s*:\s*(?:"[^"\\]*"|null|true|false|-?[0-9]+)\s*'
_HEAD = re.compile(rb"\s*\{(?P<fields>(?:" + _SIMPLE_FIELD + rb",)*)\s*\"(?P<key>[a-z_]+)\"\s*:\s*\[")
_TAIL = re.compile(rb"\]\s*(?P<fields>(?:," + _SIMPLE_FIELD + rb")*)\}\s*\Z")
_CUT = re.compile(rb"\}\s*,\s*\{")
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
SEARCH_WINDOW = 1024 * 1024
_HEAD_WINDOW = _TAIL_WINDOW = 4096


def load_piece(text: bytes) -> list[Any] | None:
    """``[`` + text + ``]`` as a list (orjson, else the stdlib parser for NaN and lone
    surrogates), or None if it is not an array."""
    array = b"[" + text + b"]"
    try:
        loaded = orjson.loads(array)
    except orjson.JSONDecodeError:
        try:
            loaded = json.loads(array)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return None
    return loaded if isinstance(loaded, list) else None


def _quotes(body: bytes, start: int, stop: int) -> int:
    """Unescaped ``"`` in ``body[start:stop]``: their parity says whether ``stop`` is inside a
    string. Counted 1 MiB at a time (an escape split between two windows can make a cut
    inside a string: its piece then fails to parse and is extended)."""
    count = 0
    for window in range(start, stop, SEARCH_WINDOW):
        segment = body[window : min(stop, window + SEARCH_WINDOW)]
        if b"\\" in segment:
            segment = _ESCAPE.sub(b"", segment)
        count += segment.count(b'"')
    return count


def _cut(body: bytes, cursor: int, at: int, end: int) -> tuple[int, int]:
    """(end of this piece, start of the next) at the first boundary from ``at`` that is outside
    a string (``cursor`` starts a record); (end, end) if none. Searched 1 MiB at a time, so
    that no single call scans a whole batch."""
    if at >= end:
        return end, end
    quotes = _quotes(body, cursor, at)
    scanned = at
    while scanned < end:
        window_end = min(end, scanned + SEARCH_WINDOW)
        found = _CUT.search(body, scanned, window_end)
        if found is None:
            quotes += _quotes(body, scanned, window_end)
            scanned = window_end
            continue
        quotes += _quotes(body, scanned, found.start())
        if quotes % 2 == 0:
            return found.start() + 1, found.end() - 1
        scanned = found.start() + 1  # past a `}`, which is no quote
    return end, end


def _records(body: bytes, start: int, end: int) -> list[Any] | None:
    records: list[Any] = []
    cursor = start
    while cursor < end:
        piece_end, next_start = _cut(body, cursor, min(end, cursor + PIECE_BYTES), end)
        loaded = load_piece(body[cursor:piece_end])
        extensions = 0
        while loaded is None and piece_end < end:
            extensions += 1
            after = piece_end + 1 if extensions < EXTENSIONS else end
            piece_end, next_start = _cut(body, cursor, after, end)
            loaded = load_piece(body[cursor:piece_end])
        if loaded is None:
            return None
        records.extend(loaded)
        cursor = next_start
    return records


def split_document(body: bytes, key: str) -> tuple[dict[str, Any], list[Any]] | None:
    """(the other top-level fields, the records under ``key``) of a body shaped
    ``{[simple fields,] "key": [...] [, simple fields]}``; None for any other shape or a
    piece that does not parse."""
    head = _HEAD.match(body, 0, _HEAD_WINDOW)
    if head is None or head["key"] != key.encode():
        return None
    window = max(head.end(), len(body) - _TAIL_WINDOW)
    tail = _TAIL.search(body, window)
    if tail is None:
        return None
    try:
        outer = orjson.loads(b"{" + head["fields"] + b'"' + head["key"] + b'": []' + tail["fields"] + b"}")
    except orjson.JSONDecodeError:
        return None
    records = _records(body, head.end(), tail.start())
    if records is None or not isinstance(outer, dict):
        return None
    return outer, records
