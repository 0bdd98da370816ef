"""The key before the body: a pure ASGI middleware in front of every route.

For each HTTP request, before the application sees it and before one body byte is read:

1. the route is found and the caller judged (``service.auth.guard.guard``: key, role, scope,
   rate): a request without a usable key is answered 401/403/429 from its headers alone,
   so it costs the server O(1) memory whatever its body;
2. a declared ``Content-Length`` above the route's limit (``service.edge.limits``) is
   answered 413; a chunked body is counted as it streams and refused at the first byte past
   the limit, so no route buffers more than its limit;
3. a JSON body that FastAPI will parse (configuration routes; at most 1 MiB) is read and
   checked first (``service.edge.documents``), so depth, huge numbers and unstorable text
   are a 400 naming the problem and never reach a parser that raises.

An answer sent here leaves the body unread; the server discards what the client still sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fastapi.routing import APIRoute
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth.guard import guard
from service.edge.documents import load_config_document
from service.edge.limits import BodyLimits
from service.errors import RETRY_AFTER_SECONDS, ApiError, PayloadTooLarge, Unavailable, error_body
from service.web import JsonResponse


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` at the first byte past the limit. An HTTPException, so FastAPI's
    own body reading passes it on and the app answers it in the usual error shape."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, too_large(size, limit))


def too_large(size: int, limit: int) -> str:
    return f"the body has {size} bytes or more; the limit is {limit} bytes on this route"


def api_routes(routes: Iterable[BaseRoute]) -> list[APIRoute]:
    """Every APIRoute of an application, including those of included routers."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        nested = getattr(route, "original_router", None)  # FastAPI keeps an included router whole
        if nested is not None:
            found.extend(api_routes(nested.routes))
    return found


class _Bounded:
    """``receive`` that counts body bytes and raises BodyTooLarge past ``limit``."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self.size = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                raise BodyTooLarge(self.size, self.limit)
        return message

    async def read_all(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            message = await self()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the connection says next."""
    pending = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed


async def _unread() -> Message:
    raise RuntimeError("the caller is judged from headers alone; the body is not read here")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


def _parsed_as_json(route: APIRoute, scope: Scope) -> bool:
    """Whether FastAPI will parse this request's body as JSON (a declared body and a JSON type)."""
    if route.body_field is None:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind: bytes = value.split(b";")[0].strip().lower()
            return kind.startswith(b"application/") and (kind.endswith(b"/json") or kind.endswith(b"+json"))
    return False


class Edge:
    """``application``'s routes are listed at its first request, once every router is included."""

    def __init__(
        self, app: ASGIApp, *, application: Starlette, limits: BodyLimits, max_errors_listed: int
    ) -> None:
        self.app = app
        self.application = application
        self.limits = limits
        self.max_errors_listed = max_errors_listed
        self._routes: Sequence[APIRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, params = self._route(scope)
        template = None if route is None else route.path
        bounded = _Bounded(receive, self.limits.for_route(scope["method"], template))
        declared = _declared_length(scope)
        try:
            if route is not None:
                await _judge_caller(scope, route, params)
            if declared is not None and declared > bounded.limit:
                raise PayloadTooLarge(too_large(declared, bounded.limit))
            if route is not None and _parsed_as_json(route, scope):
                body = await bounded.read_all()
                if body.strip():
                    load_config_document(body)
                receive = _replay(body, receive)
            else:
                receive = bounded
        except ApiError as refused:
            await self._answer(refused, scope, send)
            return
        except BodyTooLarge as refused:
            await self._answer(PayloadTooLarge(str(refused.detail)), scope, send)
            return
        except ClientDisconnect:
            return
        await self.app(scope, receive, send)

    def _route(self, scope: Scope) -> tuple[APIRoute | None, dict[str, object]]:
        if self._routes is None:
            self._routes = api_routes(self.application.routes)
        for route in self._routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route  # for the HTTP metrics of a request answered here
                return route, dict(child.get("path_params", {}))
        return None, {}

    async def _answer(self, refused: ApiError, scope: Scope, send: Send) -> None:
        body = error_body(refused.detail, refused.errors, self.max_errors_listed, refused.error_count)
        response = JsonResponse(body, status_code=refused.status_code, headers=refused.headers)
        await response(scope, _unread, send)


async def _judge_caller(scope: Scope, route: APIRoute, params: dict[str, object]) -> None:
    """Who is calling and whether they may (``guard``), from the headers alone; the principal is
    left in the request's state for the endpoint."""
    scope.setdefault("state", {})
    request = Request({**scope, "route": route, "path_params": params}, receive=_unread)
    try:
        await guard(request)
    except (OperationalError, InterfaceError):
        raise Unavailable(
            "the database is unavailable; the key cannot be checked — retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
