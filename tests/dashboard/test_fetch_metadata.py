"""A request that a page loads by itself (Sec-Fetch-Dest other than document or empty) never
reaches Footage with the user's login (footage/web/fetch_metadata.py): a replayed
page's `<img src="/api/…">` or stylesheet is not the viewer asking."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from footage.web.cookies import CSRF_COOKIE, SESSION_COOKIE
from footage.web.fetch_metadata import FetchMetadata, without_session_cookie
from tests.conftest import LiveServer, login, make_account

# Every destination of the Fetch standard, and what a replayed page could make of it.
PAGE_LOADS = [
    "audio",
    "audioworklet",
    "embed",
    "font",
    "frame",
    "iframe",
    "image",
    "manifest",
    "object",
    "paintworklet",
    "report",
    "script",
    "serviceworker",
    "sharedworker",
    "style",
    "track",
    "video",
    "webidentity",
    "worker",
    "xslt",
    "json",
    "something-new",  # an unknown value is treated as a page load
    "",
]


def seen(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "cookie": request.headers.get("cookie"),
            "authorization": request.headers.get("authorization"),
        }
    )


def client() -> TestClient:
    inner = Starlette(routes=[Route("/recordings", seen), Route("/api/v1/recordings", seen)])
    return TestClient(FetchMetadata(inner))


CREDENTIALS = {
    "cookie": f"{SESSION_COOKIE}=secret-session; {CSRF_COOKIE}=csrf-token; other=1",
    "authorization": "Bearer ft_secret",
}


@pytest.mark.parametrize(
    ("dest", "mode"),
    [
        ("document", "navigate"),
        ("empty", "cors"),  # our scripts' fetch()
        ("empty", "same-origin"),
        ("empty", "navigate"),  # a download link
        ("empty", None),
        ("Document", None),
        (None, None),  # a program, or a browser without Fetch Metadata
    ],
)
def test_navigations_and_fetches_keep_their_credentials(dest: str | None, mode: str | None) -> None:
    headers = dict(CREDENTIALS)
    if dest is not None:
        headers["sec-fetch-dest"] = dest
    if mode is not None:
        headers["sec-fetch-mode"] = mode
    for path in ("/recordings", "/api/v1/recordings"):
        r = client().get(path, headers=headers)
        assert r.status_code == 200
        assert r.json() == CREDENTIALS


def test_pings_and_prefetches_are_page_loads() -> None:
    """`<a ping>`, `<link rel=prefetch>`, attribution reports: `empty` but `no-cors`, which
    our scripts never send."""
    headers = {**CREDENTIALS, "sec-fetch-dest": "empty", "sec-fetch-mode": "no-cors"}
    assert client().get("/recordings", headers=headers).json()["authorization"] is None
    assert client().get("/api/v1/recordings", headers=headers).status_code == 403


@pytest.mark.parametrize("dest", PAGE_LOADS)
def test_page_loads_reach_pages_without_the_login(dest: str) -> None:
    r = client().get("/recordings", headers={**CREDENTIALS, "sec-fetch-dest": dest})
    assert r.status_code == 200
    assert r.json() == {"cookie": f"{CSRF_COOKIE}=csrf-token; other=1", "authorization": None}


@pytest.mark.parametrize("dest", PAGE_LOADS)
def test_page_loads_of_the_api_are_403(dest: str) -> None:
    r = client().get("/api/v1/recordings", headers={**CREDENTIALS, "sec-fetch-dest": dest})
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "not_a_page_resource"
    assert "API token" in error["message"]


def test_only_the_login_cookie_is_taken_out() -> None:
    assert without_session_cookie(f"{SESSION_COOKIE}=x".encode()) == b""
    assert without_session_cookie(f"a=1; {SESSION_COOKIE}=x; b=2".encode()) == b"a=1; b=2"
    assert (
        without_session_cookie(f"{SESSION_COOKIE}x=1".encode()) == f"{SESSION_COOKIE}x=1".encode()
    )


def test_the_served_app_answers_page_loads_as_if_logged_out(live: LiveServer) -> None:
    owner = make_account(live.services, "Alice", site_url="https://alice.example")
    with live.client() as http:
        login(http, "alice@example.com")
        as_page = {"sec-fetch-dest": "document"}
        assert http.get("/recordings", headers=as_page).status_code == 200
        r = http.get("/recordings", headers={"sec-fetch-dest": "image"}, follow_redirects=False)
        assert r.status_code in (302, 303, 307) and "/login" in r.headers["location"]
        assert CSRF_COOKIE not in r.headers.get("set-cookie", "")  # the viewer's forms still work
        fetched = http.get("/api/v1/recordings", headers={"sec-fetch-dest": "empty"})
        assert fetched.status_code == 200
        r = http.get(
            "/api/v1/recordings",
            headers={"sec-fetch-dest": "image", "authorization": f"Bearer {owner.api_token}"},
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_page_resource"
        # Our own assets need no login and still load as page resources.
        css = http.get("/static/dashboard.css", headers={"sec-fetch-dest": "style"})
        assert css.status_code == 200
