"""Reading a request body within its byte limit and splitting it into records (JSON or NDJSON)."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import orjson
from starlette.requests import Request

from service.edge.documents import lenient_loads, unstorable_text
from service.errors import (
    INVALID_TEXT,
    BadRequest,
    FieldError,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from service.ingestion.pieces import split_document

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
JSON_TYPES = frozenset({"application/json", ""})
_COLUMNAR_HINT = (
    " (predictions and outcomes also take application/vnd.apache.parquet and "
    "application/vnd.apache.arrow.stream)"
)


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return f"the body has {size} bytes or more; the limit is {limit} bytes — send fewer records per request"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def load_document(text: bytes) -> Any:
    """One JSON document, whole: orjson first (fast); on failure the stdlib parser, which also
    reads NaN/Infinity and lone surrogates.

    A client's NaN is then reported by validation as a non-finite number in a named
    field, which says more than "malformed JSON at byte 1234". Strings that cannot be stored
    (NUL, lone surrogates) are refused here with their field.
    """
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = lenient_loads(text)
    _refuse_unstorable(document, text)
    return document


def _refuse_unstorable(document: Any, text: bytes, path: str = "") -> None:
    where = unstorable_text(document, text, path)
    if where is not None:
        raise BadRequest(f"{where} {INVALID_TEXT}", [FieldError(None, where, INVALID_TEXT)])


def _document(body: bytes, key: str) -> Any:
    """The body's document; a batch of the usual shape is read in pieces (``pieces``)."""
    split = split_document(body, key)
    if split is None:
        return load_document(body)
    outer, records = split
    _refuse_unstorable(records, body, key)
    outer[key] = records
    return outer


def _ndjson_records(body: bytes) -> list[Any]:
    records: list[Any] = []
    for line_number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(load_document(line))
        except BadRequest as error:
            raise BadRequest(f"NDJSON line {line_number}: {error.detail}") from None
    return records


def parse_records(
    body: bytes,
    content_type: str,
    key: str,
    extra_keys: frozenset[str] = frozenset(),
    *,
    max_errors_listed: int,
) -> tuple[list[Any], dict[str, Any]]:
    """The records of a batch and the other top-level fields of a JSON body.

    JSON: ``{key: [records], **extra}``; NDJSON: one record per line. Unknown top-level
    fields are all counted and the first ``max_errors_listed`` named.
    """
    if content_type in NDJSON_TYPES:
        return _ndjson_records(body), {}
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not accepted; send application/json or application/x-ndjson"
            + ("" if key == "rows" else _COLUMNAR_HINT)
        )
    document = _document(body, key)
    if not isinstance(document, dict):
        raise Invalid(
            "the body must be a JSON object", [FieldError(None, "body", f'expected {{"{key}": [...]}}')]
        )
    unknown = [name for name in document if name != key and name not in extra_keys]
    errors = [FieldError(None, name, "unknown field") for name in sorted(unknown[:max_errors_listed])]
    records = document.get(key)
    if not isinstance(records, list):
        errors.insert(0, FieldError(None, key, "required: a list of records"))
    if errors:
        count = len(unknown) + (not isinstance(records, list))
        raise Invalid("the request is invalid; nothing was stored", errors, error_count=count)
    assert isinstance(records, list)
    return records, {name: document[name] for name in extra_keys if name in document}


def check_batch_size(records: Sized, key: str, limit: int) -> None:
    if not len(records):
        raise Invalid(
            "the batch is empty; nothing was stored",
            [FieldError(None, key, "at least one record is required")],
        )
    if len(records) > limit:
        raise Invalid(
            f"the batch has {len(records)} records; the limit is {limit} (MODELMON_MAX_BATCH_SIZE); "
            "nothing was stored",
            [FieldError(None, key, f"{len(records)} records, more than {limit}")],
        )
