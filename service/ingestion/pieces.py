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
_TAIL_WINDOW = 4096


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


def _cut(body: bytes, at: int, end: int) -> tuple[int, int]:
    """(end of this piece, start of the next) at the first boundary from ``at``; (end, end) if none."""
    found = _CUT.search(body, at, end)
    if found is None:
        return end, end
    return found.start() + 1, found.end() - 1


def _records(body: bytes, start: int, end: int) -> list[Any] | None:
    records: list[Any] = []
    cursor = start
    while cursor < end:
        piece_end, next_start = _cut(body, cursor + PIECE_BYTES, end)
        loaded = load_piece(body[cursor:piece_end])
        extensions = 0
        while loaded is None and piece_end < end:
            extensions += 1
            after = piece_end + 1 if extensions < EXTENSIONS else end
            piece_end, next_start = _cut(body, after, end)
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
    head = _HEAD.match(body)
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
