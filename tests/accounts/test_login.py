"""Logging in: argon2id, throttling, the cookies' flags, changing the password, and the CSRF
token that every state-changing dashboard form needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, Type

from footage.accounts import throttle
from footage.clock import FrozenClock
from tests.accounts.conftest import Tenants, app_routes, browser, database_state
from tests.conftest import (
    PASSWORD,
    LiveServer,
    csrf_of,
    free_port,
    login,
    make_account,
    settings_for,
    start_server,
)


def try_login(http: httpx.Client, email: str, password: str) -> httpx.Response:
    csrf = csrf_of(http.get("/login").text)
    return http.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf},
        follow_redirects=False,
    )


# ---- passwords -------------------------------------------------------------------------------


def test_passwords_are_argon2id_and_old_hashes_are_upgraded_at_login(server: LiveServer) -> None:
    db = server.services.db
    alice = make_account(server.services, "Alice")
    stored = db.one(
        "SELECT password_hash FROM users WHERE account_id = :a", {"a": alice.account_id}
    )
    assert stored is not None and stored["password_hash"].startswith("$argon2id$")
    # A hash from an older setup (argon2i, weak parameters) still logs in, and is replaced.
    old = PasswordHasher(type=Type.I, time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    db.run(
        "UPDATE users SET password_hash = :h WHERE account_id = :a",
        {"h": old, "a": alice.account_id},
    )
    with server.client() as http:
        assert try_login(http, "alice@example.com", PASSWORD).status_code == 303
    upgraded = db.one(
        "SELECT password_hash FROM users WHERE account_id = :a", {"a": alice.account_id}
    )
    assert upgraded is not None and upgraded["password_hash"] != old
    assert upgraded["password_hash"].startswith("$argon2id$")
    assert PasswordHasher().verify(upgraded["password_hash"], PASSWORD)


# ---- throttling ------------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_email(server: LiveServer, clock: FrozenClock) -> None:
    make_account(server.services, "Alice")
    make_account(server.services, "Bob")
    with server.client() as http:
        for _ in range(throttle.EMAIL_LIMIT):
            assert try_login(http, "Alice@example.com", "wrong password").status_code == 401
        # Now even the right password is refused, with a clear message, until the window ends.
        blocked = try_login(http, "alice@example.com", PASSWORD)
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == str(throttle.WINDOW_MS // 1000)
        assert "Too many failed logins. Try again in 15 minutes." in blocked.text
        # Bob, from the same address, is not affected.
        assert try_login(http, "bob@example.com", PASSWORD).status_code == 303
        clock.advance(10 * 60)
        later = try_login(http, "alice@example.com", PASSWORD)
        assert later.status_code == 429 and later.headers["retry-after"] == str(5 * 60)
        assert "Try again in 5 minutes." in later.text
        clock.advance(5 * 60)
        assert try_login(http, "alice@example.com", PASSWORD).status_code == 303


def test_a_successful_login_resets_the_count(server: LiveServer) -> None:
    make_account(server.services, "Alice")
    with server.client() as http:
        for _ in range(throttle.EMAIL_LIMIT - 1):
            assert try_login(http, "alice@example.com", "wrong password").status_code == 401
        assert try_login(http, "alice@example.com", PASSWORD).status_code == 303
        for _ in range(throttle.EMAIL_LIMIT - 1):
            assert try_login(http, "alice@example.com", "wrong password").status_code == 401
        assert try_login(http, "alice@example.com", PASSWORD).status_code == 303


def test_failed_logins_are_throttled_per_client_address(server: LiveServer) -> None:
    """Guessing one password for many accounts from one address is stopped too."""
    make_account(server.services, "Alice")
    with server.client() as http:
        for i in range(throttle.ADDRESS_LIMIT):
            assert try_login(http, f"user{i}@example.com", "123456").status_code == 401
        assert try_login(http, "nobody@example.com", "123456").status_code == 429
        blocked = try_login(http, "alice@example.com", PASSWORD)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # The count is in the database, so every server process sees it.
    rows = server.services.db.all("SELECT key, failures FROM login_failures WHERE key LIKE 'ip:%'")
    assert rows == [{"key": "ip:127.0.0.1", "failures": throttle.ADDRESS_LIMIT}]


# ---- cookies ---------------------------------------------------------------------------------


def cookie_headers(tmp_path: Path, database_url: str, **overrides: Any) -> dict[str, str]:
    """The Set-Cookie headers of a login, by cookie name."""
    settings = settings_for(
        tmp_path / str(len(overrides)), database_url=database_url, port=free_port(), **overrides
    )
    live = start_server(settings)
    try:
        db = live.services.db
        if not db.one("SELECT 1 AS x FROM users WHERE email = 'alice@example.com'"):
            make_account(live.services, "Alice")
        with live.client() as http:
            first = http.get("/login")
            csrf = csrf_of(first.text)
        # Sent by hand: a client keeps a Secure cookie away from http:// (as browsers do).
        response = httpx.post(
            f"{live.url}/login",
            data={"email": "alice@example.com", "password": PASSWORD, "csrf": csrf},
            headers={"Cookie": f"footage_csrf={csrf}"},
        )
        assert response.status_code == 303
        headers = first.headers.get_list("set-cookie") + response.headers.get_list("set-cookie")
        return {h.split("=", 1)[0]: h for h in headers}
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("overrides", "secure"),
    [
        ({}, False),
        ({"secure_cookies": True}, True),
        ({"public_url": "https://footage.example.com"}, True),
        ({"public_url": "http://footage.internal:8000"}, False),
    ],
)
def test_cookie_flags(tmp_path: Path, database_url: str, overrides: dict, secure: bool) -> None:
    cookies = cookie_headers(tmp_path, database_url, **overrides)
    assert set(cookies) == {"footage_csrf", "footage_session"}
    for header in cookies.values():
        flags = {part.strip().split("=")[0].lower(): part for part in header.split(";")[1:]}
        assert "httponly" in flags, header
        assert flags["samesite"].strip().lower() == "samesite=lax", header
        assert flags["path"].strip() == "Path=/", header
        assert ("secure" in flags) is secure, header


# ---- changing the password -------------------------------------------------------------------


def test_a_password_change_ends_the_other_sessions(tenants: Tenants) -> None:
    t = tenants
    here, there = t.alice_web, browser(t.server, "alice@example.com")
    try:
        assert there.http.get("/recordings", follow_redirects=False).status_code == 200
        sessions = "SELECT count(*) AS n FROM login_sessions s JOIN users u ON u.id = s.user_id "
        sessions += "WHERE u.account_id = :a"
        assert t.db.one(sessions, {"a": t.alice.account_id}) == {"n": 2}
        page = here.http.get("/password")
        assert page.status_code == 200 and 'name="current_password"' in page.text
        changed = here.http.post(
            "/password",
            data={
                "csrf": here.csrf,
                "current_password": PASSWORD,
                "new_password": "a much better one",
                "confirm_password": "a much better one",
            },
            follow_redirects=False,
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/password?saved=1"
        # This browser stays logged in; the other one is logged out at once.
        assert here.http.get("/recordings", follow_redirects=False).status_code == 200
        gone = there.http.get("/recordings", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        assert there.http.get("/api/v1/recordings").status_code == 401
        assert t.db.one(sessions, {"a": t.alice.account_id}) == {"n": 1}
        # Bob's session is not touched.
        assert t.bob_web.http.get("/recordings", follow_redirects=False).status_code == 200
        with t.server.client() as http:
            assert try_login(http, "alice@example.com", PASSWORD).status_code == 401
            login(http, "alice@example.com", "a much better one")
    finally:
        there.http.close()


def test_a_password_change_needs_the_current_password(tenants: Tenants) -> None:
    t = tenants
    web, other = t.alice_web, browser(t.server, "alice@example.com")
    try:
        before = database_state(t.db)
        cases = [
            ({"current_password": "wrong", "new_password": "abcdefghij"}, "not right"),
            ({"current_password": PASSWORD, "new_password": "short"}, "at least 8"),
        ]
        for form, message in cases:
            response = web.http.post(
                "/password",
                data={"csrf": web.csrf, "confirm_password": form["new_password"], **form},
            )
            assert response.status_code == 400 and message in response.text
        differ = web.http.post(
            "/password",
            data={
                "csrf": web.csrf,
                "current_password": PASSWORD,
                "new_password": "abcdefghij",
                "confirm_password": "abcdefghik",
            },
        )
        assert differ.status_code == 400 and "differ" in differ.text
        after = database_state(t.db)
        after.pop("login_failures"), before.pop("login_failures")  # the wrong one was counted
        assert after == before
        assert other.http.get("/recordings", follow_redirects=False).status_code == 200
    finally:
        other.http.close()


# ---- CSRF on every state-changing form ------------------------------------------------------

# Routes that change state without the dashboard's login cookie, so a forged cross-site
# request carries nothing to abuse: the recorder's and the chat box's public endpoints, and
# the demo shop (the customer's pretend site; its forms store nothing in Footage).
NO_COOKIE_AUTH = {
    ("POST", "/api/v1/chat/messages"),
    ("POST", "/api/v1/chat/poll"),
    ("POST", "/api/v1/assets/offer"),
    ("POST", "/api/v1/assets/copies"),
    ("POST", "/demo/checkout"),
    ("POST", "/demo/signup"),
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_state_changing_dashboard_route_needs_the_csrf_token(tenants: Tenants) -> None:
    """Walks every POST/PUT/PATCH/DELETE route of the app, logged in as Alice (owner), with
    her own objects' ids: without the CSRF token, or with a wrong one, the answer is 403 and
    no row changes. The API's writes take no cookie at all: with only the login cookie they
    are refused the same way."""
    t, web = tenants, tenants.alice_web
    walked = []
    for method, path in app_routes(t.server):
        if method not in WRITES or (method, path) in NO_COOKIE_AUTH:
            continue
        url = path.format(**t.ids)
        form = {"name": "x", "text": "x", "email": "x@example.com", "password": "x" * 10}
        form |= {"site_id": t.alice.site_id, "visitor_id": t.ids["visitor_id"]}
        form |= {"expires_in": "24h", "plan": "free", "new_password": "y" * 10}
        if path.startswith("/api/"):
            attempts = [{"json": {"name": "x"}, "headers": {"X-CSRF-Token": web.csrf}}]
            allowed = {401, 403}
        else:
            attempts = [
                {"data": form},
                {"data": {**form, "csrf": "not-the-token"}},
                {"data": form, "headers": {"X-CSRF-Token": "not-the-token"}},
            ]
            allowed = {403}
        for kwargs in attempts:
            before = database_state(t.db)
            response = web.http.request(method, url, follow_redirects=False, **kwargs)
            assert response.status_code in allowed, f"{method} {url}: {response.status_code}"
            if allowed == {403}:
                assert "reload the page" in response.text, f"{method} {url}: {response.text}"
            changed = [n for n, rows in database_state(t.db).items() if rows != before[n]]
            assert not changed, f"{method} {url} without the CSRF token changed {changed}"
        walked.append((method, path))
    dashboard_forms = [w for w in walked if not w[1].startswith("/api/")]
    assert len(dashboard_forms) >= 16, dashboard_forms  # 16 when this was written
    # With the token the same kind of request goes through (the refusals above were the token's).
    renamed = web.http.post(
        f"/segments/{t.ids['segment_id']}/rename",
        data={"csrf": web.csrf, "name": "Renamed"},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
