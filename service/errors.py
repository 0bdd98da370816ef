"""The one error shape every endpoint answers with, and the exceptions that produce it.

Body: ``{"detail": str, "errors": [{"index", "field", "message"}], "error_count": int}`` —
``index`` counts from 0 in the request's batch (null for request-level problems),
``errors`` is capped at ``MODELMON_MAX_ERRORS_LISTED`` and ``error_count`` is the total.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.web import JsonResponse

log = logging.getLogger("modelmon")

# How long a client should wait before retrying when the database is unreachable, seconds.
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of one record."""

    index: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class ApiError(Exception):
    """An expected failure that becomes a 4xx/5xx response with the standard body."""

    status_code = 400

    def __init__(
        self,
        detail: str,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
        *,
        error_count: int | None = None,
    ):
        """``error_count``: all errors found, when ``errors`` holds only the first of them."""
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers
        self.error_count = len(self.errors) if error_count is None else error_count


class BadRequest(ApiError):
    status_code = 400


class SeeOther(ApiError):
    """A redirect (``Location`` header), e.g. a browser without a key to the sign-in page."""

    status_code = 303


class Unauthorized(ApiError):
    """No usable key: missing, malformed, unknown or revoked (``WWW-Authenticate: Bearer``)."""

    status_code = 401


class Forbidden(ApiError):
    """A valid key whose role or model scope does not cover the request."""

    status_code = 403


class TooManyRequests(ApiError):
    status_code = 429


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class Invalid(ApiError):
    status_code = 422


class Unavailable(ApiError):
    status_code = 503


class FieldErrorModel(BaseModel):
    index: int | None = Field(
        description="Position of the record in the batch, from 0; null for the request."
    )
    field: str = Field(description="Dotted path of the field, e.g. features.income")
    message: str


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "1 of 2 records are invalid; nothing was stored",
                    "errors": [{"index": 1, "field": "score", "message": "1.5 is outside [0, 1]"}],
                    "error_count": 1,
                }
            ]
        }
    )

    detail: str
    errors: list[FieldErrorModel]
    error_count: int = Field(
        description="All errors found; `errors` lists at most MODELMON_MAX_ERRORS_LISTED."
    )


INVALID_TEXT = "holds a NUL character or a lone UTF-16 surrogate escape, which cannot be stored as text"


def find_invalid_text(value: Any, path: str = "") -> str | None:
    """Path of the first string that cannot be stored as text, or None.

    Two things JSON allows and Python's parser accepts are refused up front, with the field
    named: a lone UTF-16 surrogate (``"\\ud800"``), which is not Unicode text, and NUL
    (``"\\u0000"``), which Postgres text and JSONB columns cannot hold. Iterative: a document
    nested 1,000 levels deep (orjson reads up to 1,024) would pass Python's recursion limit.
    """
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if not _storable(item):
                return where or "body"
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                pending.append((child, f"{where}.{key}" if where else str(key)))
                pending.append((key, where))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def error_body(
    detail: str, errors: Sequence[FieldError], cap: int, total: int | None = None
) -> dict[str, Any]:
    return {
        "detail": detail,
        "errors": [error.as_dict() for error in errors[:cap]],
        "error_count": len(errors) if total is None else total,
    }


def _location(loc: Sequence[int | str]) -> tuple[int | None, str]:
    """Turn a pydantic error location into (record index, dotted field path)."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path") else list(loc)
    field = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in parts)
    return None, field.replace(".[", "[") or "body"


def validation_answer(exc: RequestValidationError, max_errors_listed: int) -> JsonResponse:
    """400 naming the byte where a body stops being JSON; else 422 listing each field's problem."""
    malformed = [err for err in exc.errors() if err.get("type") == "json_invalid"]
    if malformed:
        position = malformed[0]["loc"][-1]
        reason = malformed[0].get("ctx", {}).get("error", "invalid JSON")
        detail = f"malformed JSON at byte {position}: {reason}"
        return JsonResponse(error_body(detail, [], max_errors_listed), status_code=400)
    errors = [
        FieldError(*_location(err["loc"]), message=str(err["msg"]).removeprefix("Value error, "))
        for err in exc.errors()
    ]
    detail = f"the request is invalid ({len(errors)} problem{'s' if len(errors) != 1 else ''})"
    return JsonResponse(error_body(detail, errors, max_errors_listed), status_code=422)


def install_error_handlers(app: FastAPI, max_errors_listed: int) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, ApiError)
        body = error_body(exc.detail, exc.errors, max_errors_listed, exc.error_count)
        return JsonResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_validation_error(_request: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_answer(exc, max_errors_listed)

    async def on_http_error(_request: Request, exc: Exception) -> JsonResponse:
        # Routing and body-reading errors raised by Starlette/FastAPI themselves (404 for an
        # unknown path, 405, a body that is not UTF-8), in the same shape as every other error.
        assert isinstance(exc, StarletteHTTPException)
        body = error_body(str(exc.detail), [], max_errors_listed)
        return JsonResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_database_unavailable(_request: Request, exc: Exception) -> JsonResponse:
        # The transaction was rolled back: nothing of the request is stored, and a retry
        # is safe because every record carries its id (a resend counts as a duplicate).
        log.warning("database unavailable: %s", type(exc).__name__)
        body = error_body("the database is unavailable; nothing was stored — retry later", [], 1)
        return JsonResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    async def on_unexpected(_request: Request, _exc: Exception) -> JsonResponse:
        # Starlette re-raises after this handler, so the server logs the traceback once.
        body = error_body("internal error; nothing was stored", [], 1)
        return JsonResponse(body, status_code=500)

    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(OperationalError, on_database_unavailable)
    app.add_exception_handler(InterfaceError, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)


async def refuse_unstorable_query(request: Request) -> None:
    """A dependency of every route: 422 naming the query parameter whose value cannot be
    stored or compared as text (NUL, lone surrogates), before it reaches a query: Postgres
    refuses NUL in text parameters with an error, not an empty result."""
    for name, value in request.query_params.multi_items():
        if find_invalid_text(value, name):
            raise Invalid(
                "a query parameter holds a NUL or a lone surrogate",
                [FieldError(None, name, "contains a character that is not valid text")],
            )
