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
from sqlalchemy.exc import InterfaceError, OperationalError

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

    def __init__(self, detail: str, errors: Sequence[FieldError] = (), headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers


class BadRequest(ApiError):
    status_code = 400


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


def error_body(detail: str, errors: Sequence[FieldError], cap: int) -> dict[str, Any]:
    return {
        "detail": detail,
        "errors": [error.as_dict() for error in errors[:cap]],
        "error_count": len(errors),
    }


def _location(loc: Sequence[int | str]) -> tuple[int | None, str]:
    """Turn a pydantic error location into (record index, dotted field path)."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path") else list(loc)
    field = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in parts)
    return None, field.replace(".[", "[") or "body"


def install_error_handlers(app: FastAPI, max_errors_listed: int) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, ApiError)
        body = error_body(exc.detail, exc.errors, max_errors_listed)
        return JsonResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_validation_error(_request: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(*_location(err["loc"]), message=str(err["msg"]).removeprefix("Value error, "))
            for err in exc.errors()
        ]
        detail = f"the request is invalid ({len(errors)} problem{'s' if len(errors) != 1 else ''})"
        return JsonResponse(error_body(detail, errors, max_errors_listed), status_code=422)

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

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(OperationalError, on_database_unavailable)
    app.add_exception_handler(InterfaceError, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
