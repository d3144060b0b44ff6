"""Every page that may show a replay sends a strict Content-Security-Policy (footage/web/
csp.py): the dashboard's HTML pages, the player page and the share page. The customer's side
(the demo shop) and the JSON API do not get it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from footage.demo.account import ensure_demo
from footage.web.csp import DASHBOARD, policy
from tests.conftest import (
    LiveServer,
    free_port,
    login,
    make_account,
    settings_for,
    start_server,
)
from tests.downloads.recording import record, wait_ready

FOOTAGE = Path(__file__).resolve().parents[2] / "footage"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A live server with the demo shop, so its pages can be told apart from the dashboard's."""
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        demo=True,
        leave_grace_seconds=1.0,
    )
    live = start_server(settings)
    assert ensure_demo(settings, live.services.db, live.services.clock) is not None
    yield live
    live.stop()


def test_the_policy_allows_only_our_scripts_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in DASHBOARD.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "frame-src" not in directives and "object-src" not in directives  # both 'none'
    assert "'unsafe-inline'" in directives["style-src"]  # rrweb's replayed styles
    assert "form-action 'none'" in policy(form_action="'none'")


def test_every_dashboard_page_sends_the_policy(server: LiveServer) -> None:
    owner = make_account(server.services, "Alice", site_url="https://alice.example")
    with server.client() as http:
        assert http.get("/login").headers["content-security-policy"] == DASHBOARD
        rid = record(http, owner, seconds=2)
        wait_ready(http, owner, rid)
        login(http, "alice@example.com")
        for path in (
            "/recordings",
            f"/recordings/{rid}",
            "/install",
            "/settings",
            "/usage",
            "/conversations",
            "/recordings/rec_doesnotexist",  # the error page
            "/no-such-page",  # the 404 page
        ):
            r = http.get(path)
            assert r.headers["content-type"].startswith("text/html"), path
            assert r.headers.get_list("content-security-policy") == [DASHBOARD], path
        # JSON answers have nothing to protect.
        for path in (f"/recordings/{rid}/events.json", "/api/v1/usage", "/healthz"):
            r = http.get(path, headers={"Authorization": f"Bearer {owner.api_token}"})
            assert r.status_code == 200, path
            assert "content-security-policy" not in r.headers, path


def test_the_share_page_keeps_its_own_policy_and_the_demo_shop_has_none(
    server: LiveServer,
) -> None:
    owner = make_account(server.services, "Alice", site_url="https://alice.example")
    with server.client() as http:
        rid = record(http, owner, seconds=2)
        wait_ready(http, owner, rid)
        link = http.post(
            f"/api/v1/recordings/{rid}/share-links",
            json={"expires_in": "24h"},
            headers={"Authorization": f"Bearer {owner.api_token}"},
        ).json()
        shared = http.get(link["path"])
        demo = http.get("/demo/")
    assert shared.status_code == 200
    assert shared.headers.get_list("content-security-policy") == [policy(form_action="'none'")]
    # The demo shop is the customer's site: its inline scripts and footage.js must run.
    assert demo.status_code == 200 and "content-security-policy" not in demo.headers


@pytest.mark.parametrize("folder", ["web/templates", "share/templates"])
def test_our_templates_hold_no_inline_script(folder: str) -> None:
    """script-src 'self' would silently block it: every behaviour lives in web/src."""
    for template in sorted((FOOTAGE / folder).glob("*.html")):
        html = template.read_text("utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE):
            assert re.search(r"\bsrc=", tag), f"{template.name}: inline {tag}"
        handler = re.search(r"<[^>]*\son[a-z]+\s*=", html, flags=re.IGNORECASE)
        assert handler is None, f"{template.name}: inline handler {handler.group(0)}"
        assert "javascript:" not in html.lower(), template.name


def test_the_api_docs_are_served_from_footage_under_the_policy(server: LiveServer) -> None:
    """/api/docs (footage/web/api_docs.py): Swagger UI's files come from this server
    (the version pinned in web/package.json), never a CDN, and the page sends the policy."""
    with server.client() as http:
        page = http.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers.get_list("content-security-policy") == [DASHBOARD]
        html = page.text
        # Hashed addresses (footage/web/assets.py): `/static/build/api-docs.<digest>.js`.
        hashed = re.sub(r"\.[0-9a-f]{16}(\.(?:js|css))\"", r'\1"', html)
        assert re.findall(r"<script\b[^>]*>", hashed) == [
            '<script defer src="/static/build/swagger-ui-bundle.js">',
            '<script defer src="/static/build/api-docs.js">',
        ]
        stylesheets = re.findall(r"<link\b[^>]*>", hashed)
        assert stylesheets == [
            '<link rel="stylesheet" href="/static/build/swagger-ui.css">',
            '<link rel="stylesheet" href="/static/api-docs.css">',
        ]
        assert "//" not in re.sub(r"</?[a-z]+|<!doctype html>", "", html.split("<body>")[0])
        for path, kind, size in (
            ("/static/build/swagger-ui-bundle.js", "javascript", 500_000),
            ("/static/build/swagger-ui.css", "text/css", 50_000),
            ("/static/build/api-docs.js", "javascript", 100),
        ):
            r = http.get(path)
            assert r.status_code == 200, f"{path}: build web/ (scripts/install)"
            assert kind in r.headers["content-type"] and len(r.content) > size, path
        assert http.get("/api/openapi.json").json()["info"]["title"] == "Footage"
    pinned = json.loads((FOOTAGE.parent / "web" / "package.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned["dependencies"]["swagger-ui-dist"])
