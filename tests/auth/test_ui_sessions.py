"""Status-page sessions through a live `modelmon serve`: the cookie holds a random token
(stored hashed), never the key; sessions only read, expire, end at sign-out; CSRF tokens on
the forms; `Secure` behind a TLS proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from service.app import create_app
from service.auth.keys import hash_key
from service.auth.sessions import SessionStore, csrf_token
from service.config import Settings
from service.kernel.principal import ENV_ADMIN, Principal, Role
from tests.asgi_client import app_client
from tests.auth import AUTH_HEADERS, TEST_ADMIN_KEY
from tests.conftest import NOW
from tests.factories import registration
from tests.live import serve
from tests.windows.scenario import MutableClock

pytestmark = pytest.mark.slow

HOUR = timedelta(hours=1)


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[str]:
    with serve(database_url, tmp_path, MODELMON_AUTO_MIGRATE="true") as base:
        assert httpx.post(f"{base}/v1/models", json=registration(), headers=AUTH_HEADERS).status_code == 201
        yield base


def _key(base: str, role: str, models: list[str] | None = None) -> str:
    body = {"role": role, "name": f"{role} person", **({"models": models} if models else {})}
    response = httpx.post(f"{base}/v1/keys", json=body, headers=AUTH_HEADERS)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """Cookie name → its whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def _value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1].strip('"')


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def _sign_in(base: str, key: str, **headers: str) -> httpx.Response:
    form = httpx.get(f"{base}/ui/login", headers=headers)
    cookie = _value(_set_cookies(form)["modelmon_csrf"])
    assert _form_token(form.text) == cookie
    sent = {**headers, "Cookie": f"modelmon_csrf={cookie}"}
    return httpx.post(f"{base}/ui/login", data={"csrf": cookie, "key": key}, headers=sent)


def _page(base: str, token: str, path: str = "/ui") -> httpx.Response:
    return httpx.get(f"{base}{path}", headers={"Cookie": f"modelmon_session={token}"})


def test_the_cookie_holds_a_random_token_stored_hashed_never_the_key(live: str, database_url: str) -> None:
    admin = _key(live, "admin")
    signed = _sign_in(live, admin)
    assert signed.status_code == 303 and signed.headers["location"] == "/ui"
    assert admin not in str(signed.headers)
    line = _set_cookies(signed)["modelmon_session"]
    token = _value(line)
    assert len(token) >= 43 and token != admin  # 32 random bytes, base64url
    flags = line.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/ui" in flags
    assert "secure" not in flags  # plain http, no https public URL
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM ui_sessions")).all()
    engine.dispose()
    assert len(rows) == 1 and rows[0].token_hash == hash_key(token)
    assert all(token not in str(value) and admin not in str(value) for value in rows[0])
    page = _page(live, token)
    assert page.status_code == 200 and 'action="/ui/logout"' in page.text
    assert _form_token(page.text) == csrf_token(token)
    assert _page(live, token, "/ui/models/credit").status_code == 200
    # The session opens the pages and nothing else.
    for path in ("/v1/models", "/v1/keys", "/v1/models/credit/export"):
        assert _page(live, token, path).status_code == 401, path


def test_sign_out_needs_the_pages_token_and_ends_the_session(live: str) -> None:
    token = _value(_set_cookies(_sign_in(live, _key(live, "read")))["modelmon_session"])
    cookie = f"modelmon_session={token}"
    forged = httpx.post(f"{live}/ui/logout", data={"csrf": "x" * 64}, headers={"Cookie": cookie})
    assert forged.status_code == 403 and _page(live, token).status_code == 200
    out = httpx.post(f"{live}/ui/logout", data={"csrf": csrf_token(token)}, headers={"Cookie": cookie})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert _value(_set_cookies(out)["modelmon_session"]) == ""
    ended = _page(live, token)
    assert ended.status_code == 303 and ended.headers["location"] == "/ui/login"


def test_sign_in_refuses_a_form_without_its_token_and_keys_that_may_not_read(live: str) -> None:
    read = _key(live, "read")
    assert httpx.post(f"{live}/ui/login", data={"key": read}).status_code == 403
    mismatched = {"Cookie": "modelmon_csrf=" + "a" * 43}
    assert (
        httpx.post(f"{live}/ui/login", data={"csrf": "b" * 43, "key": read}, headers=mismatched).status_code
        == 403
    )
    ingest = _sign_in(live, _key(live, "ingest", ["credit"]))
    assert ingest.status_code == 401 and "may not read" in ingest.text
    assert "modelmon_session" not in _set_cookies(ingest)
    unknown = _sign_in(live, "mmk_AAAAAAAABBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
    assert unknown.status_code == 401 and "unknown API key" in unknown.text
    huge = httpx.post(f"{live}/ui/login", content=b"key=" + b"k" * 8192)
    assert huge.status_code == 413


def test_the_cookies_are_secure_behind_a_tls_proxy(sqlite_url: str, tmp_path: Path) -> None:
    # SQLite alone: the flag follows the settings and the proxy headers, not the database.
    with serve(sqlite_url, tmp_path / "a", MODELMON_PUBLIC_URL="https://modelmon.example.com") as base:
        signed = _sign_in(base, TEST_ADMIN_KEY)
        assert signed.status_code == 303
        assert "; secure" in _set_cookies(signed)["modelmon_session"].lower()
        assert "; secure" in _set_cookies(httpx.get(f"{base}/ui/login"))["modelmon_csrf"].lower()
    # Without a public URL, X-Forwarded-Proto counts from the proxies MODELMON_FORWARDED_ALLOW_IPS
    # names (uvicorn's default: 127.0.0.1, where the test connects from) and from no one else.
    proto = {"X-Forwarded-Proto": "https"}
    with serve(sqlite_url, tmp_path / "b") as base:
        assert "; secure" in _set_cookies(_sign_in(base, TEST_ADMIN_KEY, **proto))["modelmon_session"].lower()
    with serve(sqlite_url, tmp_path / "c", MODELMON_FORWARDED_ALLOW_IPS="192.0.2.1") as base:
        assert (
            "secure" not in _set_cookies(_sign_in(base, TEST_ADMIN_KEY, **proto))["modelmon_session"].lower()
        )


@pytest.fixture
def timed(database_url: str) -> Iterator[tuple[FastAPI, MutableClock]]:
    clock = MutableClock(NOW)
    app = create_app(Settings(database_url=database_url, run_jobs=False), clock=clock)
    yield app, clock
    app.state.context.engine.dispose()


def test_a_session_only_reads_and_ends_idle_at_its_limit_or_with_its_key(
    timed: tuple[FastAPI, MutableClock],
) -> None:
    app, clock = timed
    store: SessionStore = app.state.gate.ui_sessions
    with app_client(app) as client:
        created = client.post("/v1/keys", json={"role": "admin", "name": "ops"}).json()
        key, prefix = created["key"], created["prefix"]
        principal = app.state.gate.authenticator.verdict(key).principal
        assert principal is not None and principal.is_admin
        idle = store.start(principal, key)
        seen = store.principal(idle)
        assert seen is not None and seen.role is Role.READ and seen.actor == f"key:{prefix}"
        assert not seen.is_admin and not seen.may_export
        for _ in range(2):  # each view restarts the 8 h idle clock
            clock.at += 7 * HOUR + timedelta(minutes=59)
            assert store.principal(idle) is not None
        clock.at += 8 * HOUR
        assert store.principal(idle) is None
        capped = store.start(principal, key)
        for hours in (7, 7, 7):
            clock.at += hours * HOUR
            assert store.principal(capped) is not None
        clock.at += 3 * HOUR  # 24 h after sign-in, 3 h after the last view
        assert store.principal(capped) is None
        revoked = store.start(principal, key)
        assert client.delete(f"/v1/keys/{prefix}").status_code == 200
        assert store.principal(revoked) is None


def test_an_environment_admin_session_ends_when_the_variable_changes(
    timed: tuple[FastAPI, MutableClock], database_url: str
) -> None:
    app, clock = timed
    store: SessionStore = app.state.gate.ui_sessions
    token = store.start(Principal(ENV_ADMIN, "MODELMON_ADMIN_KEY", Role.ADMIN), TEST_ADMIN_KEY)
    assert store.principal(token) is not None
    rotated = SessionStore(app.state.context.sessions, clock, store.policy, "mmk_rotated" + "x" * 33)
    assert rotated.principal(token) is None
    store.end(token)
    assert store.principal(token) is None
    clock.at += HOUR
    store.start(Principal(ENV_ADMIN, "MODELMON_ADMIN_KEY", Role.ADMIN), TEST_ADMIN_KEY)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        left = connection.execute(text("SELECT COUNT(*) FROM ui_sessions")).scalar_one()
    engine.dispose()
    assert left == 1  # the ended session was deleted when the next one started
