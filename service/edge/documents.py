"""Parsing a JSON body into Python values, with every hostile input named in a 400.

orjson reads RFC 8259 JSON; its own limits become the client's answer: nesting deeper than
1,024 levels, a number beyond a 64-bit float (e.g. 5,000 digits), a lone UTF-16 surrogate.
The stdlib parser is the fallback only where orjson is strict on purpose (``NaN``,
``Infinity``, lone surrogates in ingestion, where validation then names the field); its
RecursionError (nesting past ~1,000) and ValueError (integers past 4,300 digits) are caught
and named too, so no body can raise past the parser.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from service.errors import INVALID_TEXT, BadRequest, FieldError, Invalid, find_invalid_text

# Configuration bodies (models, monitors, webhooks, keys, silences) are 2 to 5 levels deep;
# 32 leaves room for any legitimate one and keeps every later recursive walk (pydantic,
# the stdlib parser FastAPI uses, the audit log's serialiser) far from Python's limit of 1,000.
MAX_CONFIG_DEPTH = 32


def malformed(message: str, errors: list[FieldError] | None = None) -> BadRequest:
    return BadRequest(message, errors or [FieldError(None, "body", message)])


def _position(body: bytes, offset: int) -> str:
    line = body.count(b"\n", 0, offset) + 1
    column = offset - (body.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column} (byte {offset})"


def _orjson_reason(error: orjson.JSONDecodeError) -> str:
    if "depth limit" in error.msg:
        return "nested more than 1024 levels deep"
    if "infinity when parsed as double" in error.msg:
        return "a number beyond the range of a 64-bit float (±1.8e308)"
    return error.msg


def strict_loads(body: bytes) -> Any:
    """RFC 8259 JSON only (no NaN, no lone surrogates); BadRequest naming the problem and where."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if "UTF-8" in error.msg:  # orjson reports it at byte 0; the stdlib decoder finds the byte
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise malformed(f"the body is not UTF-8 (byte {bad.start})") from None
        raise malformed(f"malformed JSON at {_position(body, error.pos)}: {_orjson_reason(error)}") from None


def lenient_loads(body: bytes, offset: int = 0, whole: bytes | None = None) -> Any:
    """The stdlib parser (reads NaN and Infinity as numbers, and lone surrogates); BadRequest for
    anything it refuses or cannot hold. ``offset`` places ``body`` inside ``whole`` for messages."""
    document = whole if whole is not None else body
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        where = _position(document, offset + error.pos)
        raise malformed(f"malformed JSON at {where}: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise malformed(f"the body is not UTF-8 (byte {offset + error.start})") from None
    except RecursionError:
        raise malformed("malformed JSON: nested more than 1024 levels deep") from None
    except ValueError:  # int() past sys.get_int_max_str_digits() (4,300)
        raise malformed("malformed JSON: a number has more than 4300 digits") from None


def deepest(document: Any) -> int:
    """Levels of nesting of a parsed document (a scalar is 0, ``[]`` is 1); iterative."""
    deepest_seen = 0
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest_seen = max(deepest_seen, depth + 1)
        pending.extend((item, depth + 1) for item in value)
    return deepest_seen


def load_config_document(body: bytes) -> Any:
    """A configuration body, checked before FastAPI parses it again: JSON (the stdlib's reading,
    which FastAPI uses, if orjson refuses only a lone surrogate or NaN), at most
    ``MAX_CONFIG_DEPTH`` deep, every string storable (else 422 naming the field)."""
    try:
        document = strict_loads(body)
    except BadRequest as refused:
        try:
            document = lenient_loads(body)
        except BadRequest:
            raise refused from None
    depth = deepest(document)
    if depth > MAX_CONFIG_DEPTH:
        raise malformed(f"the JSON is nested {depth} levels deep; at most {MAX_CONFIG_DEPTH} are accepted")
    where = unstorable_text(document, body)
    if where is not None:
        raise Invalid(
            "a string cannot be stored as text", [FieldError(None, where, f"{where} {INVALID_TEXT}")]
        )
    return document


def unstorable_text(document: Any, body: bytes, path: str = "") -> str | None:
    """Path of the first string with NUL or a lone surrogate, looked for only when ``body``
    holds such an escape (orjson reads ``\\u0000``; Postgres text cannot hold it)."""
    # One search for any escape first: most bodies hold none, and each search reads all of it.
    if not holds(body, b"\\u") or not any(holds(body, escape) for escape in (b"\\u0000", b"\\ud", b"\\uD")):
        return None
    return find_invalid_text(document, path)


def holds(body: bytes, needle: bytes, window: int = 1024 * 1024) -> bool:
    """``needle in body``, looked for 1 MiB at a time: one search of 30 MiB holds the GIL ~30 ms.
    ``find`` within bounds, not a slice: no copy of each window (~0.5 ms per 600 KB body)."""
    end = len(body)
    return any(
        body.find(needle, start, min(end, start + window + len(needle) - 1)) >= 0
        for start in range(0, end, window)
    )
