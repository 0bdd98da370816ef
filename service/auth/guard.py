"""The gate every route passes: which key is calling, whether its role covers the route, and
whether it is within its rate.

What each route needs (``requirement``): health probes and ``/metrics`` are open (Prometheus
and kubelets carry no key; both expose no personal data); ``POST …/predictions`` and
``…/outcomes`` need an ``ingest`` key for that model or ``admin``; the export of raw labelled
records (``GET …/export``: features, protected attributes, outcomes) needs ``export`` or
``admin``; every other GET needs ``read`` (which ``export`` and ``admin`` include), except keys
and the audit log, which need ``admin`` like every change. The key
comes from ``Authorization: Bearer``. GET pages of ``/ui`` also take the ``modelmon_session``
cookie of a status-page session (``service/auth/sessions.py``): it holds a random token, never
a key, and stands for a read-only principal; no other route takes it, so a cross-site form
cannot act with a browser's cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from service.auth.ratelimit import RateLimiter
from service.auth.service import Authenticator
from service.auth.sessions import SESSION_COOKIE, SessionStore, csrf_token
from service.errors import FieldError, Forbidden, SeeOther, TooManyRequests, Unauthorized
from service.kernel.principal import ANONYMOUS, Principal

# The API docs and their assets hold no data (the OpenAPI document is public anyway).
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/assets/{name}", "/openapi.json"})
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/ui/login", "/ui/logout", *DOCS_PATHS})
# Reading keys or the audit log is an admin's business, although it is a GET.
ADMIN_READ_PREFIXES = ("/v1/keys", "/v1/audit")
# …/profiles: bucket profiles built where the data lives (service/profiles), ingested like rows.
INGEST_PATHS = frozenset(
    {"/v1/models/{name}/predictions", "/v1/models/{name}/outcomes", "/v1/models/{name}/profiles"}
)
# Raw labelled records, one row per person: more than a dashboard reader needs to see.
EXPORT_PATHS = frozenset({"/v1/models/{name}/export"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="modelmon"'}


class Need(StrEnum):
    OPEN = "open"
    INGEST = "ingest"
    READ = "read"
    EXPORT = "export"
    ADMIN = "admin"


def requirement(method: str, path: str) -> Need:
    """What a route needs, from its method and path template."""
    if path in OPEN_PATHS:
        return Need.OPEN
    if method == "POST" and path in INGEST_PATHS:
        return Need.INGEST
    if method in ("GET", "HEAD") and path in EXPORT_PATHS:
        return Need.EXPORT
    if method in ("GET", "HEAD") and not path.startswith(ADMIN_READ_PREFIXES):
        return Need.READ
    return Need.ADMIN


@dataclass(frozen=True, slots=True)
class Gate:
    enabled: bool
    authenticator: Authenticator
    limiter: RateLimiter
    ui_sessions: SessionStore


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized(
                "the Authorization header must be `Bearer <key>`",
                [FieldError(None, "authorization", "expected the Bearer scheme and a key")],
                _CHALLENGE,
            )
        return key.strip()
    return None


def _session_token(request: Request, path: str) -> str | None:
    """The status-page session's token: for GET pages of ``/ui`` without a key header only."""
    if request.method != "GET" or not path.startswith("/ui") or request.headers.get("authorization"):
        return None
    return request.cookies.get(SESSION_COOKIE) or None


async def _session_principal(gate: Gate, request: Request, token: str) -> Principal:
    principal = await run_in_threadpool(gate.ui_sessions.principal, token)
    if principal is None:
        problem = "the status-page session has ended (signed out, expired, or its key revoked)"
        raise Unauthorized(problem, [FieldError(None, "session", problem)], _CHALLENGE)
    request.state.csrf = csrf_token(token)  # for the pages' forms (sign-out)
    return principal


async def _authenticate(gate: Gate, request: Request, path: str) -> Principal:
    token = _session_token(request, path)
    if token is not None:
        return await _session_principal(gate, request, token)
    key = _presented_key(request)
    if key is None:
        raise Unauthorized(
            "an API key is required: send `Authorization: Bearer <key>` "
            "(create one with `modelmon keys create`)",
            [FieldError(None, "authorization", "missing")],
            _CHALLENGE,
        )
    # Known keys are judged on the event loop; only a cache miss (once per key per 5 s) pays
    # a thread hop and a read. As a sync dependency the guard cost every request a hop:
    # single-record ingestion fell from 516 to 411 requests/s on SQLite (docs/security.md).
    verdict = gate.authenticator.known_verdict(key)
    if verdict is None:
        verdict = await run_in_threadpool(gate.authenticator.verdict, key)
    if verdict.principal is None:
        raise Unauthorized(verdict.problem, [FieldError(None, "authorization", verdict.problem)], _CHALLENGE)
    return verdict.principal


def _authorise(principal: Principal, need: Need, request: Request, path: str) -> None:
    route = f"{request.method} {path}"
    if need is Need.INGEST:
        model = str(request.path_params.get("name", ""))
        if principal.may_ingest(model):
            return
        scope = ", ".join(sorted(principal.models or ())) or "no model"
        reason = (
            f"key {principal.name!r} ({principal.actor}) may ingest for {scope}, not {model!r}"
            if principal.role.value == "ingest"
            else f"key {principal.name!r} ({principal.actor}) has role {principal.role.value}; {route} "
            "needs an ingest key for this model or admin"
        )
        raise Forbidden(reason, [FieldError(None, "authorization", reason)])
    allowed = {
        Need.READ: principal.may_read,
        Need.EXPORT: principal.may_export,
        Need.ADMIN: principal.is_admin,
    }[need]
    if not allowed:
        reason = (
            f"key {principal.name!r} ({principal.actor}) has role {principal.role.value}; "
            f"{route} needs {need.value}"
        )
        if need is not Need.ADMIN:
            reason += " (or admin)"
        raise Forbidden(reason, [FieldError(None, "authorization", reason)])


async def guard(request: Request) -> None:
    """Judged for every API route by the edge middleware (``service/edge/middleware.py``)
    before the body is read (see the module docstring)."""
    gate: Gate = request.app.state.gate
    route = request.scope.get("route")
    path = route.path if isinstance(route, Route) else request.url.path
    need = requirement(request.method, path)
    if need is Need.OPEN:
        return
    if not gate.enabled:
        request.state.principal = ANONYMOUS
        return
    try:
        principal = await _authenticate(gate, request, path)
    except Unauthorized as refused:
        if request.method == "GET" and path.startswith("/ui"):  # a browser: to the sign-in form
            root = request.scope.get("root_path", "").rstrip("/")
            raise SeeOther(refused.detail, refused.errors, {"Location": f"{root}/ui/login"}) from None
        raise
    _authorise(principal, need, request, path)
    wait = gate.limiter.take(principal.actor)
    if wait > 0:
        detail = f"key {principal.actor} is over {gate.limiter.rate:g} requests/s; retry later"
        raise TooManyRequests(
            detail,
            [FieldError(None, "authorization", "rate limit")],
            {"Retry-After": RateLimiter.retry_after(wait)},
        )
    request.state.principal = principal
