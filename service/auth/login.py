"""The status page's sign-in: a form that takes an API key and keeps it in a cookie.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it)
and scoped to ``/ui``; the guard accepts it only for GET pages of ``/ui``, so it can show
pages but never change anything.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from service.auth.guard import KEY_COOKIE, Gate
from service.ui.endpoints import HEADERS
from service.ui.pages import e, layout

router = APIRouter(prefix="/ui", include_in_schema=False)

# A browser keeps the key for 12 h: a working day, after which the page asks again.
COOKIE_SECONDS = 12 * 3600
MAX_FORM_BYTES = 4096


def _form(problem: str = "") -> str:
    note = f'<p class="bad">{e(problem)}</p>' if problem else ""
    return (
        "<h1>Sign in</h1>"
        "<p>Paste an API key with the <code>read</code> or <code>admin</code> role "
        "(<code>modelmon keys create --role read</code>).</p>"
        f"{note}"
        '<form method="post" action="login">'
        '<input type="password" name="key" autocomplete="off" size="50" aria-label="API key" required> '
        '<button type="submit">Sign in</button></form>'
    )


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(layout("Sign in", _form(), root), headers=HEADERS)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key; on success keep it in the cookie and go to ``/ui``."""
    root = request.scope.get("root_path", "").rstrip("/")
    body = (await request.body())[:MAX_FORM_BYTES].decode("utf-8", "replace")
    key = (parse_qs(body).get("key") or [""])[0].strip()
    gate: Gate = request.app.state.gate
    verdict = await run_in_threadpool(gate.authenticator.verdict, key) if key else None
    if verdict is None or verdict.principal is None or not verdict.principal.may_read:
        problem = (
            "Enter a key."
            if verdict is None
            else verdict.problem or "This key may not read: use a read or admin key."
        )
        return HTMLResponse(layout("Sign in", _form(problem), root), status_code=401, headers=HEADERS)
    response = RedirectResponse(f"{root}/ui", status_code=303)
    response.set_cookie(
        KEY_COOKIE,
        key,
        max_age=COOKIE_SECONDS,
        path=f"{root}/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    root = request.scope.get("root_path", "").rstrip("/")
    response = RedirectResponse(f"{root}/ui/login", status_code=303)
    response.delete_cookie(KEY_COOKIE, path=f"{root}/ui")
    return response
