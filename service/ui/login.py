"""The status page's sign-in: a form that takes an API key and starts a server-side session.

The browser keeps only the session's random token (``service/auth/sessions.py``), in a cookie
that is HttpOnly (no script reads it), SameSite=Lax (no other site's form or script sends it;
a link from an alert still opens the page), scoped to ``/ui``, and Secure whenever the page is
served over https or ``MODELMON_PUBLIC_URL`` is https (behind a TLS proxy the hop to modelmon
may be plain http). Every form carries a CSRF token: the sign-in form a random one, also set
in a SameSite=Strict cookie (double submit); the pages' sign-out form one derived from the
session.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.auth.guard import Gate
from service.auth.keys import same_secret
from service.auth.sessions import SESSION_COOKIE, csrf_token
from service.context import AppContext
from service.ui.endpoints import HEADERS
from service.ui.pages import e, layout

router = APIRouter(prefix="/ui", include_in_schema=False)

CSRF_COOKIE = "modelmon_csrf"
# Where versions before sessions kept the key itself; deleted at sign-in and sign-out.
LEGACY_KEY_COOKIE = "modelmon_key"
# A key is 44 characters and the CSRF token 43: 4 KiB leaves room and bounds what is read.
MAX_FORM_BYTES = 4096
# The sign-in form stays usable for an hour after it was shown.
FORM_SECONDS = 3600


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _secure(request: Request) -> bool:
    context: AppContext = request.app.state.context
    public = context.settings.public_url or ""
    return request.url.scheme == "https" or public.lower().startswith("https://")


def _form(csrf: str, problem: str = "") -> str:
    note = f'<p class="bad">{e(problem)}</p>' if problem else ""
    return (
        "<h1>Sign in</h1>"
        "<p>Paste an API key with the <code>read</code>, <code>export</code> or <code>admin</code> role "
        "(<code>modelmon keys create --role read</code>). Whatever its role, the session only "
        "reads these pages; the key itself is not kept by your browser.</p>"
        f"{note}"
        '<form method="post" action="login">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<input type="password" name="key" autocomplete="off" size="50" aria-label="API key" required> '
        '<button type="submit">Sign in</button></form>'
    )


def _form_page(request: Request, problem: str = "", status_code: int = 200) -> HTMLResponse:
    """The sign-in form with a fresh CSRF token, in the page and in a cookie."""
    csrf = secrets.token_urlsafe(32)
    page = layout("Sign in", _form(csrf, problem), _root(request))
    response = HTMLResponse(page, status_code=status_code, headers=HEADERS)
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=FORM_SECONDS,
        path=f"{_root(request)}/ui/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


async def _fields(request: Request) -> dict[str, str] | None:
    """The url-encoded form's first value per name; None past ``MAX_FORM_BYTES`` (read no further)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    parsed = parse_qs(body.decode("utf-8", "replace"))
    return {name: values[0] for name, values in parsed.items()}


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _form_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the form's CSRF token and the key; on success start a session and go to ``/ui``."""
    fields = await _fields(request)
    if fields is None:
        return _form_page(request, f"The form is larger than {MAX_FORM_BYTES} bytes.", 413)
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not same_secret(fields.get("csrf", ""), expected):
        return _form_page(request, "The form expired or was sent from another site: sign in again.", 403)
    key = fields.get("key", "").strip()
    gate: Gate = request.app.state.gate
    verdict = await run_in_threadpool(gate.authenticator.verdict, key) if key else None
    if verdict is None or verdict.principal is None or not verdict.principal.may_read:
        problem = (
            "Enter a key."
            if verdict is None
            else verdict.problem or "This key may not read: use a read, export or admin key."
        )
        return _form_page(request, problem, 401)
    token = await run_in_threadpool(gate.ui_sessions.start, verdict.principal, key)
    response = RedirectResponse(f"{_root(request)}/ui", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(gate.ui_sessions.policy.absolute.total_seconds()),
        path=f"{_root(request)}/ui",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(CSRF_COOKIE, path=f"{_root(request)}/ui/login")
    response.delete_cookie(LEGACY_KEY_COOKIE, path=f"{_root(request)}/ui")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (its token stops working at once) and forget the cookie."""
    fields = await _fields(request) or {}
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if not same_secret(fields.get("csrf", ""), csrf_token(token)):
            body = "<h1>Not signed out</h1><p>The sign-out form was sent from another site.</p>"
            return HTMLResponse(layout("Sign out", body, _root(request)), status_code=403, headers=HEADERS)
        gate: Gate = request.app.state.gate
        await run_in_threadpool(gate.ui_sessions.end, token)
    response = RedirectResponse(f"{_root(request)}/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=f"{_root(request)}/ui")
    response.delete_cookie(LEGACY_KEY_COOKIE, path=f"{_root(request)}/ui")
    return response
